/**
 * More chained kill -9 / recover cycles of one partition log (the chain,
 * model and verifier are test/crash/util.ts's), aimed at what the crash suite
 * exercises least:
 *
 * - truncateTo under kill, often and deep: one append in six or so is a
 *   truncation, a quarter of them back to offset 0 across many 1 KiB
 *   segments, with a recovery-point checkpoint every KiB; most crashes are
 *   recovered by the next writer, not by the test, so recoveries chain on
 *   recoveries (a truncation in flight, then a kill during the next open).
 * - segments rolled by time (segmentMs, against record timestamps) and by a
 *   full index, with durable acks from many concurrent appenders.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ChainParams, ensureDist, runChain } from '../crash/util.js';

beforeAll(() => ensureDist(), 120_000);

function params(seed: number, cycles: number, over: Partial<ChainParams> & { options: Record<string, unknown> }): ChainParams {
  return {
    dir: tempDir('tidelog-fault-kill-'),
    opsDir: tempDir('tidelog-fault-ops-'),
    seed,
    cycles,
    writer: {
      acks: 'durable',
      concurrency: 4,
      maxBatch: 6,
      maxValueBytes: 200,
      truncateEvery: 0,
      truncateSpan: 0,
      maxRecords: 3_000,
      pauseMs: 0,
    },
    compression: (c) => (['mixed', 'lz4', 'none'] as const)[c % 3],
    verifyAfter: (c) => c % 3 === 2,
    killDuringOpen: (c) => c % 3 === 1,
    minDelayMs: 20,
    maxDelayMs: 300,
    open: (dir, options) => Log.open(dir, options),
    ...over,
  };
}

describe('kill -9, chained, where the crash suite is thin', () => {
  it('deep truncations every few appends across 1 KiB segments: 12 cycles, most recovered by the next writer', async () => {
    const p = params(5101, 12, {
      options: { segmentBytes: 1024, maxMessageBytes: 1024, maxIndexBytes: 128, indexIntervalBytes: 256, checkpointIntervalBytes: 1024 },
    });
    p.writer = { ...p.writer, acks: 'written', truncateEvery: 0.15, truncateSpan: 2_000, maxValueBytes: 120, pauseMs: 1 };
    const report = await runChain(p);
    expect(report.model.stats.truncations, 'completed truncations').toBeGreaterThan(10);
    expect(report.recoveries.byChild, 'writers recovered the crash of the writer before').toBeGreaterThan(3);
    expect(report.recoveries.killedDuringOpen + report.recoveries.byChild).toBeGreaterThan(5);
    expect(report.model.stats.acked).toBeGreaterThan(0);
  });

  it('segments rolled by time (segmentMs 37) and by a full index, durable acks from 6 appenders: 12 cycles', async () => {
    const p = params(5202, 12, {
      options: { segmentMs: 37, segmentBytes: 256 * 1024, maxIndexBytes: 96, indexIntervalBytes: 128, checkpointIntervalBytes: 8 * 1024 },
      verifyAfter: (c) => c % 2 === 0,
      killDuringOpen: (c) => c % 4 === 3,
    });
    p.writer = { ...p.writer, concurrency: 6, maxBatch: 8 };
    const report = await runChain(p);
    expect(report.model.stats.acked).toBeGreaterThan(0);
    expect(report.model.stats.maxAckRun, 'group commit: one sync acknowledged several appends').toBeGreaterThan(1);
    // A segment spans at most 37 ms of record timestamps (one per offset) after
    // its first batch (at most 8 records): 45 offsets.
    const log = await Log.open(p.dir, p.options);
    try {
      const segs = log.segments();
      expect(segs.length).toBeGreaterThan(report.records / 60);
      for (const s of segs.slice(0, -1)) expect(s.nextOffset - s.baseOffset).toBeLessThanOrEqual(45);
    } finally {
      await log.close();
    }
  });
});
