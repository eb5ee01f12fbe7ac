/**
 * kill -9 crash tests: a writer process appends with several concurrent
 * appenders (group commit) while segments roll, and is killed with SIGKILL at
 * a seeded random moment; the log is reopened (by this process, or by the next
 * writer) and must hold exactly what reached it: every acknowledged record at
 * its offset with its bytes, offsets contiguous from 0, no garbage after the
 * last batch. The cycles chain in one directory: reopen → append more → kill.
 *
 * A process crash leaves the page cache intact, so 'written' records must
 * survive it just as 'durable' ones do.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ChainParams, LogModel, checkLog, ensureDist, expectVerified, recordFor, runChain } from './util.js';

beforeAll(() => ensureDist(), 120_000);

const MAX_VALUE_BYTES = 600;

const OPTIONS = {
  segmentBytes: 64 * 1024,
  maxMessageBytes: 64 * 1024,
  maxIndexBytes: 32 * 1024,
  indexIntervalBytes: 1024,
  // Small, so the recovery point moves during a cycle and reopening trusts
  // some segments (below it) and scans the others.
  checkpointIntervalBytes: 48 * 1024,
};

function params(seed: number, acks: 'durable' | 'written', cycles: number): ChainParams {
  return {
    dir: tempDir('tidelog-crash-kill-'),
    opsDir: tempDir('tidelog-crash-ops-'),
    seed,
    cycles,
    options: OPTIONS,
    writer: {
      acks,
      concurrency: acks === 'durable' ? 8 : 3,
      maxBatch: acks === 'durable' ? 10 : 20,
      maxValueBytes: MAX_VALUE_BYTES,
      truncateEvery: 0,
      truncateSpan: 0,
      maxRecords: 150_000,
      pauseMs: acks === 'durable' ? 0 : 1,
    },
    // none, lz4, both in one cycle
    compression: (c) => (['none', 'lz4', 'mixed'] as const)[c % 3],
    // Verify here after most cycles; after every third the next writer recovers the crash itself.
    verifyAfter: (c) => c % 3 !== 1,
    // Every fifth writer is killed at a random moment from its start: often while it opens (recovers) the log.
    killDuringOpen: (c) => c % 5 === 3,
    minDelayMs: 30,
    maxDelayMs: 450,
    open: (dir, options) => Log.open(dir, options),
  };
}

/** After the chain: one more clean session in this process appends to the chain and closes; a reopen shows it all. */
async function appendAfterChain(p: ChainParams, model: LogModel): Promise<void> {
  const log = await Log.open(p.dir, p.options);
  expect(log.recovery.clean).toBe(true);
  checkLog(log, model, MAX_VALUE_BYTES);
  for (let i = 0; i < 5; i++) {
    const base = log.logEndOffset;
    const tag = `final${p.seed}.${i}`;
    const records = Array.from({ length: 7 }, (_, j) => recordFor(tag, base + j, MAX_VALUE_BYTES));
    const r = await log.append(records, { acks: 'durable', compression: i % 2 ? 'lz4' : 'none' });
    expect(r.baseOffset).toBe(base);
    model.addBatch(base, 7, tag);
  }
  expect(log.durableOffset).toBe(model.end);
  await log.close();
  const again = await Log.open(p.dir, p.options);
  try {
    expect(again.recovery.clean).toBe(true);
    checkLog(again, model, MAX_VALUE_BYTES);
  } finally {
    await again.close();
  }
  await expectVerified(p.dir, model.end);
}

describe('kill -9 while appending', () => {
  it("acks 'durable', 8 concurrent appenders: 14 chained kill/recover cycles lose no acknowledged record", async () => {
    const p = params(101, 'durable', 14);
    const report = await runChain(p);
    expect(report.model.stats.acked, 'the writers got acknowledgements').toBeGreaterThan(0);
    expect(report.model.stats.maxAckRun, 'group commit: one sync acknowledged several appends').toBeGreaterThan(1);
    expect(report.recoveries.byChild, 'writers recovered crashes themselves').toBeGreaterThan(0);
    expect(report.recoveries.byTest, 'the test recovered crashes').toBeGreaterThan(0);
    expect(report.lastCheck.lz4Batches, 'lz4 batches survived too').toBeGreaterThan(0);
    expect(report.lastCheck.lz4Batches).toBeLessThan(report.lastCheck.batches);
    // 64 KiB segments: the chain crossed many rolls.
    const log = await Log.open(p.dir, p.options);
    const segments = log.segments().length;
    await log.close();
    expect(segments).toBeGreaterThan(3);
    await appendAfterChain(p, report.model);
  });

  it("acks 'written': 8 chained kill/recover cycles lose no written record (the page cache survives a process crash)", async () => {
    const p = params(202, 'written', 8);
    const report = await runChain(p);
    expect(report.model.stats.acked).toBeGreaterThan(0);
    expect(report.recoveries.byChild).toBeGreaterThan(0);
    expect(report.recoveries.byTest).toBeGreaterThan(0);
    expect(report.lastCheck.lz4Batches).toBeGreaterThan(0);
    await appendAfterChain(p, report.model);
  });
});
