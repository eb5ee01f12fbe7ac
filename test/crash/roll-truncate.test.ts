/**
 * kill -9 during segment rolls and truncateTo: the writer's segments are so
 * small that nearly every append rolls (by size, or because the tiny index is
 * full), and now and then it truncates back to an earlier offset (sometimes to
 * 0, across many segments). Killed at random, the reopened log must be the
 * model of the writer's acknowledged state: everything acknowledged and not
 * truncated is there, and nothing a completed truncation removed comes back.
 * A truncation that was in flight at the kill may have happened or not, or in
 * part (a prefix of the log, cut at a batch boundary no lower than its cut).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ChainParams, ensureDist, runChain } from './util.js';

beforeAll(() => ensureDist(), 120_000);

const MAX_VALUE_BYTES = 300;

function params(seed: number, acks: 'durable' | 'written', cycles: number, options: Record<string, unknown>): ChainParams {
  return {
    dir: tempDir('tidelog-crash-roll-'),
    opsDir: tempDir('tidelog-crash-ops-'),
    seed,
    cycles,
    options,
    writer: {
      acks,
      concurrency: 4,
      maxBatch: 4,
      maxValueBytes: MAX_VALUE_BYTES,
      truncateEvery: 0.03,
      truncateSpan: 150,
      maxRecords: 2_500,
      pauseMs: acks === 'durable' ? 0 : 1,
    },
    compression: (c) => (['mixed', 'none', 'lz4'] as const)[c % 3],
    verifyAfter: (c) => c % 2 === 0,
    killDuringOpen: (c) => c % 4 === 3,
    minDelayMs: 20,
    maxDelayMs: 400,
    open: (dir, opts) => Log.open(dir, opts),
  };
}

describe('kill -9 during segment rolls and truncateTo', () => {
  it("4 KiB segments, acks 'durable': 10 chained cycles match the model of acknowledged state", async () => {
    const p = params(303, 'durable', 10, {
      segmentBytes: 4096,
      maxMessageBytes: 4096,
      maxIndexBytes: 256,
      indexIntervalBytes: 512,
    });
    const report = await runChain(p);
    expect(report.model.stats.acked).toBeGreaterThan(0);
    expect(report.model.stats.truncations, 'the writers truncated').toBeGreaterThan(0);
  });

  it("2 KiB segments and 64-byte indexes (rolls when the index fills), acks 'written': 10 chained cycles", async () => {
    const p = params(404, 'written', 10, {
      segmentBytes: 2048,
      maxMessageBytes: 2048,
      maxIndexBytes: 64,
      indexIntervalBytes: 128,
      checkpointIntervalBytes: 4096,
    });
    const report = await runChain(p);
    expect(report.model.stats.acked).toBeGreaterThan(0);
    expect(report.model.stats.truncations).toBeGreaterThan(0);
  });
});
