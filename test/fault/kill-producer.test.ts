/**
 * Producers through the Store killed with SIGKILL, in chains (24 cycles): an
 * idempotent producer with acks 'durable' on one partition, and a named
 * producer (a new epoch per cycle) with acks 'written' and lz4 on three. What
 * each cycle checks is in kill-chains.ts (runProducerChain): every
 * acknowledged send survives whole, in order, at its offset; nothing appears
 * that was not sent, nothing twice; sequence numbers have no gap; producer ids
 * are never reused; a retry of the last batch after the kill is recognised.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist } from '../log/util.js';
import { runProducerChain } from './kill-chains.js';

beforeAll(() => ensureDist(), 120_000);

describe('kill -9 of a producer through the Store, chained', () => {
  it("one partition, acks 'durable', idempotent: 12 cycles keep every acknowledged send, whole and in order", async () => {
    const { stats, records } = await runProducerChain({
      seed: 61,
      cycles: 12,
      partitions: 1,
      acks: 'durable',
      named: false,
      compression: 'none',
      senders: 6,
      maxRecords: 6,
    });
    expect(stats.cycles).toBe(12);
    expect(stats.acked, 'acknowledged sends were checked').toBeGreaterThan(10);
    expect(stats.killedDuringOpen).toBeGreaterThan(0);
    expect(stats.writerVerifications).toBeGreaterThan(2);
    expect(stats.duplicatesRecognised, 'retries of the last batch were recognised after kills').toBeGreaterThan(0);
    expect(records).toBeGreaterThan(100);
  });

  it("three partitions, acks 'written', a named producer (epochs), lz4: 12 cycles", async () => {
    const { stats, records } = await runProducerChain({
      seed: 62,
      cycles: 12,
      partitions: 3,
      acks: 'written',
      named: true,
      compression: 'lz4',
      senders: 4,
      maxRecords: 10,
    });
    expect(stats.cycles).toBe(12);
    expect(stats.acked).toBeGreaterThan(10);
    expect(stats.duplicatesRecognised).toBeGreaterThan(0);
    expect(records).toBeGreaterThan(100);
  });
});
