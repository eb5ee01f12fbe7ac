/**
 * Point reads and timestamp lookups against brute force over the model (as
 * Kafka's OffsetIndexTest checks against a sorted map): random batches of
 * random sizes with random, non-monotonic timestamps, with a small
 * indexIntervalBytes and small segments so that lookups cross many index
 * entries and segments. Checked while the log is open, after a clean reopen
 * (indexes read back from disk) and after an unclean one (indexes rebuilt).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Log, encodeBatch } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ModelRecord, markUnclean, modelOf, plain, removeDir } from './util.js';

interface Case {
  segmentBytes: number;
  indexIntervalBytes: number;
  batches: { timestamp: number; valueBytes: number; keyed: boolean }[][];
}

const TS_BASE = 1_000_000;

const caseArb: fc.Arbitrary<Case> = fc.record({
  segmentBytes: fc.integer({ min: 2048, max: 8192 }),
  indexIntervalBytes: fc.integer({ min: 64, max: 512 }),
  batches: fc.array(
    fc.array(
      fc.record({
        // A narrow range: duplicates, runs and jumps back in time are common.
        timestamp: fc.oneof(
          fc.integer({ min: TS_BASE, max: TS_BASE + 300 }),
          fc.integer({ min: 0, max: 3 }),
          fc.constant(TS_BASE + 1_000),
        ),
        valueBytes: fc.integer({ min: 0, max: 160 }),
        keyed: fc.boolean(),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    { minLength: 1, maxLength: 60 },
  ),
});

function buildRecords(c: Case) {
  let offset = 0;
  return c.batches.map((b) =>
    b.map((r) => {
      const o = offset++;
      return {
        key: r.keyed ? `key-${o % 7}` : null,
        value: Buffer.alloc(r.valueBytes, o & 0xff),
        headers: o % 5 === 0 ? [{ key: 'o', value: String(o) }] : undefined,
        timestamp: r.timestamp,
      };
    }),
  );
}

/** Every get() and every interesting offsetForTimestamp() against the model (which may have gaps). */
function checkLookups(log: Log, model: ModelRecord[]): void {
  const end = model.length === 0 ? 0 : (model.at(-1) as ModelRecord).offset + 1;
  expect(log.logEndOffset).toBe(end);
  const byOffset = new Map(model.map((m) => [m.offset, m]));
  for (let o = 0; o <= end; o++) {
    const m = byOffset.get(o);
    const got = log.get(o);
    expect(got === null ? null : plain(got), `get(${o})`).toEqual(m === undefined ? null : plain(m));
  }
  const candidates = new Set<number>();
  for (const m of model) for (const d of [-1, 0, 1]) candidates.add(m.timestamp + d);
  const max = Math.max(...model.map((m) => m.timestamp));
  candidates.add(max + 1000);
  candidates.add(Number.MAX_SAFE_INTEGER);
  candidates.add(-5);
  for (const t of candidates) {
    const first = model.find((m) => m.timestamp >= t);
    expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(first === undefined ? null : first.offset);
  }
}

async function runCase(c: Case, compression: 'none' | 'lz4'): Promise<void> {
  const dir = tempDir('tidelog-lookup-');
  const options = {
    segmentBytes: c.segmentBytes,
    maxMessageBytes: c.segmentBytes,
    indexIntervalBytes: c.indexIntervalBytes,
    maxIndexBytes: 4096,
    compression,
  };
  const model: ModelRecord[] = [];
  let log = await Log.open(dir, options);
  try {
    for (const batch of buildRecords(c)) {
      const r = await log.append(batch);
      batch.forEach((rec, j) => model.push(modelOf(rec, r.baseOffset + j)));
    }
    checkLookups(log, model);
    await log.close();
    log = await Log.open(dir, options); // clean: indexes as written
    expect(log.recovery.clean).toBe(true);
    checkLookups(log, model);
    await log.close();
    markUnclean(dir, 0);
    log = await Log.open(dir, options); // unclean: every index rebuilt
    expect(log.recovery.clean).toBe(false);
    expect(log.recovery.bytesTruncated).toBe(0);
    checkLookups(log, model);
  } finally {
    await log.close();
    removeDir(dir);
  }
}

/** Pre-encoded batches with gaps between them (assignOffsets: false, as a follower appends). */
async function runGapCase(c: Case, gaps: number[], compression: 'none' | 'lz4'): Promise<void> {
  const dir = tempDir('tidelog-gaps-');
  const options = { segmentBytes: c.segmentBytes, maxMessageBytes: c.segmentBytes, indexIntervalBytes: c.indexIntervalBytes, maxIndexBytes: 4096 };
  const model: ModelRecord[] = [];
  let log = await Log.open(dir, options);
  try {
    let next = 0;
    const batches = buildRecords(c);
    for (let i = 0; i < batches.length; i++) {
      const base = next + gaps[i % gaps.length];
      const r = await log.appendBatches(encodeBatch(batches[i], { baseOffset: base, compression }), { assignOffsets: false });
      expect(r.baseOffset).toBe(base);
      batches[i].forEach((rec, j) => model.push(modelOf(rec, base + j)));
      next = base + batches[i].length;
    }
    checkLookups(log, model);
    for (let o = 0; o < next; o++) {
      const first = model.find((m) => m.offset >= o) as ModelRecord;
      expect(log.readRecords(o, { maxRecords: 1 }).map(plain), `readRecords(${o})`).toEqual([plain(first)]);
    }
    await log.close();
    log = await Log.open(dir, options);
    checkLookups(log, model);
    await log.close();
    markUnclean(dir, 0);
    log = await Log.open(dir, options);
    expect(log.recovery.bytesTruncated).toBe(0);
    checkLookups(log, model);
  } finally {
    await log.close();
    removeDir(dir);
  }
}

describe('get and offsetForTimestamp against brute force', () => {
  it('uncompressed batches', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => runCase(c, 'none')),
      { numRuns: 40 },
    );
  });

  it('lz4 batches', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => runCase(c, 'lz4')),
      { numRuns: 25 },
    );
  });

  it('pre-encoded batches with gaps between their offsets', async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArb,
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 10 }),
        fc.constantFrom('none', 'lz4' as const),
        (c, gaps, compression) => runGapCase(c, gaps, compression),
      ),
      { numRuns: 20 },
    );
  });

  it('a long log with monotonic timestamps: many segments and index entries', async () => {
    const batches: Case['batches'] = [];
    for (let b = 0; b < 400; b++) {
      batches.push(Array.from({ length: 1 + (b % 4) }, (_, j) => ({ timestamp: TS_BASE + b * 10 + j, valueBytes: 40, keyed: true })));
    }
    await runCase({ segmentBytes: 4096, indexIntervalBytes: 128, batches }, 'none');
  });
});
