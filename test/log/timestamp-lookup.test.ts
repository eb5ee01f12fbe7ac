/**
 * offsetForTimestamp on large batches (more than 32 records: the native lookup
 * then uses cached per-block maximum timestamps, see Segment::FindRecordByTimestamp)
 * against brute force over the model: timestamps rising, falling, constant,
 * random and with spikes inside a batch and across batches, several segments,
 * lz4, LogAppendTime, offset deltas with gaps (as compaction leaves them), and
 * truncateTo followed by appends of other timestamps at the same positions
 * (a cache kept across the truncation would answer from the old records).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { CorruptRecordError, Log, encodeBatch, type ProducerRecord } from '../../src/index.js';
import { native } from '../../src/native.js';
import { tempDir } from '../helpers.js';
import { type ModelRecord, parseBatches, removeDir, rng, segPath } from './util.js';

const T0 = 1_000_000;
const PATTERNS = ['rising', 'falling', 'constant', 'random', 'spikes'] as const;
type Pattern = (typeof PATTERNS)[number];

interface BatchSpec {
  count: number;
  pattern: Pattern;
  seed: number;
}

const batchArb = (min: number, max: number): fc.Arbitrary<BatchSpec> =>
  fc.record({ count: fc.integer({ min, max }), pattern: fc.constantFrom(...PATTERNS), seed: fc.nat() });

/** The timestamps of one batch; `start` moves the batch in time so that batches overlap or not. */
function timestamps(spec: BatchSpec, start: number): number[] {
  const next = rng(spec.seed);
  const out: number[] = [];
  let t = start;
  for (let i = 0; i < spec.count; i++) {
    switch (spec.pattern) {
      case 'rising':
        t += Math.floor(next() * 3);
        break;
      case 'falling':
        t -= Math.floor(next() * 3);
        break;
      case 'constant':
        break;
      case 'random':
        t = start + Math.floor(next() * 200) - 100;
        break;
      case 'spikes':
        t += 1;
        if (next() < 0.05) t += next() < 0.5 ? 500 : -500;
        break;
    }
    out.push(t);
  }
  return out;
}

function records(spec: BatchSpec, start: number, tag: number): ProducerRecord[] {
  return timestamps(spec, start).map((timestamp, i) => ({
    key: i % 3 === 0 ? null : `k${tag}-${i}`,
    value: Buffer.alloc((i * 7 + tag) % 25, tag & 0xff),
    timestamp,
  }));
}

/** First offset of the model (in offset order) whose timestamp is >= t, or null. */
function expected(model: readonly ModelRecord[], t: number): number | null {
  for (const m of model) if (m.timestamp >= t) return m.offset;
  return null;
}

function checkAll(log: Log, model: readonly ModelRecord[]): void {
  const candidates = new Set<number>([-1, Number.MAX_SAFE_INTEGER]);
  for (const m of model) for (const d of [-1, 0, 1]) candidates.add(m.timestamp + d);
  for (const t of candidates) expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(expected(model, t));
}

/** Adds records with these timestamps at these offsets (only offsets and timestamps are compared here). */
function push(model: ModelRecord[], times: readonly number[], offsets: readonly number[]): void {
  times.forEach((timestamp, i) => model.push({ offset: offsets[i], timestamp, key: null, value: null, headers: [] }));
}

const timesOf = (recs: readonly ProducerRecord[]) => recs.map((r) => r.timestamp as number);

let multiSegmentCases = 0;

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

const options = { segmentBytes: 8_000, maxMessageBytes: 8_000, indexIntervalBytes: 700, maxIndexBytes: 4096 };

async function runCase(specs: BatchSpec[], starts: number[], readFirst: boolean[], compression: 'none' | 'lz4') {
  const dir = tempDir('tidelog-tslookup-');
  const model: ModelRecord[] = [];
  let log = await Log.open(dir, { ...options, compression });
  try {
    for (let b = 0; b < specs.length; b++) {
      const recs = records(specs[b], T0 + starts[b % starts.length], b);
      const r = log.appendSync(recs);
      push(model, timesOf(recs), range(r.baseOffset, recs.length));
      // Point reads first: the batch's cache entry then holds positions only.
      if (readFirst[b % readFirst.length]) expect(log.get(r.baseOffset + recs.length - 1)?.offset).toBe(r.lastOffset);
    }
    if (log.segments().length > 1) multiSegmentCases++;
    checkAll(log, model);
    checkAll(log, model); // answered from the cache this time
    await log.close();
    log = await Log.open(dir, { ...options, compression }); // indexes read back from disk
    checkAll(log, model);
  } finally {
    await log.close();
    removeDir(dir);
  }
}

/** Rewrites the offset deltas of an uncompressed batch of at most 50 records to i + floor(i / 4): gaps, as compaction leaves. */
function withDeltaGaps(batch: Buffer): number[] {
  const deltas: number[] = [];
  const count = batch.readInt32BE(57);
  expect(count).toBeLessThanOrEqual(50);
  let p = 61;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = batch[p++];
      v |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (v >>> 1) ^ -(v & 1);
      shift += 7;
    }
  };
  for (let i = 0; i < count; i++) {
    const len = varint();
    const end = p + len;
    p += 1; // attributes
    varint(); // timestamp delta (small in these batches)
    expect(batch[p]).toBe(i * 2); // zigzag of i, one byte
    const d = i + Math.floor(i / 4);
    batch[p] = d * 2; // zigzag, still one byte (d < 64)
    deltas.push(d);
    p = end;
  }
  expect(p).toBe(batch.length);
  batch.writeInt32BE(deltas[deltas.length - 1], 23);
  batch.writeUInt32BE(native.crc32c(batch.subarray(21)), 17);
  return deltas;
}

describe('offsetForTimestamp in large batches against brute force', () => {
  it('uncompressed: non-monotonic timestamps inside and across batches and segments', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb(33, 140), { minLength: 1, maxLength: 16 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        (specs, starts, readFirst) => runCase(specs, starts, readFirst, 'none'),
      ),
      { numRuns: 30, seed: 0x7173 },
    );
    expect(multiSegmentCases).toBeGreaterThan(0);
  });

  it('lz4 batches give the same answers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb(33, 140), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 5 }),
        (specs, starts) => runCase(specs, starts, [false], 'lz4'),
      ),
      { numRuns: 12, seed: 0x1a4 },
    );
  });

  it('batches whose offset deltas have gaps (compacted), appended as a follower', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb(33, 50), { minLength: 1, maxLength: 10 }), async (specs) => {
        const dir = tempDir('tidelog-tsgaps-');
        const model: ModelRecord[] = [];
        const log = await Log.open(dir, options);
        try {
          let next = 0;
          for (let b = 0; b < specs.length; b++) {
            const recs = records(specs[b], T0 + (b % 3) * 50, b);
            const batch = encodeBatch(recs, { baseOffset: next });
            const deltas = withDeltaGaps(batch);
            const r = await log.appendBatches(batch, { assignOffsets: false });
            expect(r.baseOffset).toBe(next);
            push(model, timesOf(recs), deltas.map((d) => next + d));
            next += deltas[deltas.length - 1] + 1;
            // get() of an offset the compaction removed finds nothing; the one after it is there.
            expect(log.get(r.baseOffset + 4)).toBeNull();
            expect(log.get(r.baseOffset + 5)?.timestamp).toBe(recs[4].timestamp);
          }
          checkAll(log, model);
        } finally {
          await log.close();
          removeDir(dir);
        }
      }),
      { numRuns: 15, seed: 0x9a95 },
    );
  });

  it('LogAppendTime: every record of a batch is found at its append time', async () => {
    const dir = tempDir('tidelog-tsappend-');
    const log = await Log.open(dir, { ...options, messageTimestampType: 'LogAppendTime' });
    try {
      const model: ModelRecord[] = [];
      for (let b = 0; b < 6; b++) {
        // The producer's timestamps fall inside the batch; the log's do not.
        const recs = records({ count: 60, pattern: 'falling', seed: b }, 5_000, b);
        const r = log.appendSync(recs);
        expect(r.logAppendTime).toBeGreaterThan(1_000_000_000_000);
        push(model, recs.map(() => r.logAppendTime), range(r.baseOffset, recs.length));
        if (b % 2 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
      }
      expect(parseBatches(log.readBatches(0) as Buffer).batches.every((x) => (x.attributes & 8) === 8)).toBe(true);
      for (const m of model) expect(log.get(m.offset)?.timestamp).toBe(m.timestamp);
      checkAll(log, model);
      expect(log.offsetForTimestamp(4_000)).toBe(0);
    } finally {
      await log.close();
      removeDir(dir);
    }
  });

  it('rising timestamps in batches of 1,000 (the W6 shape): every answer is t - T0 times 10', async () => {
    const dir = tempDir('tidelog-tsw6-');
    const log = await Log.open(dir);
    try {
      for (let b = 0; b < 5; b++) {
        log.appendSync(range(b * 1000, 1000).map((i) => ({ value: `v${i}`, timestamp: T0 + Math.floor(i / 10) })));
      }
      for (let t = T0 - 1; t <= T0 + 501; t++) {
        const want = t < T0 ? 0 : t < T0 + 500 ? (t - T0) * 10 : null;
        expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(want);
      }
    } finally {
      await log.close();
      removeDir(dir);
    }
  });
});

describe('offsetForTimestamp in a large batch whose last record is malformed under a matching CRC', () => {
  it('finds the records before it and fails with the batch named at it', async () => {
    const dir = tempDir('tidelog-tsbad-');
    let log = await Log.open(dir);
    const ts = (o: number) => T0 + 2 * o;
    for (let b = 0; b < 3; b++) log.appendSync(range(b * 40, 40).map((o) => ({ value: `v${o}`, timestamp: ts(o) })));
    await log.close();
    const file = segPath(dir, 0, '.log');
    const bytes = readFileSync(file);
    const victim = parseBatches(bytes).batches[1];
    const batch = bytes.subarray(victim.position, victim.position + victim.size);
    // Walk to the last record by the lengths (one-byte varints here) and make its length run past the batch.
    let p = 61;
    for (let i = 0; i < 39; i++) p += 1 + (batch[p] >> 1);
    expect(p + 1 + (batch[p] >> 1)).toBe(batch.length);
    batch[p] = 2 * 63;
    batch.writeUInt32BE(native.crc32c(batch.subarray(21)), 17);
    writeFileSync(file, bytes);
    log = await Log.open(dir);
    try {
      expect(log.offsetForTimestamp(ts(40))).toBe(40);
      expect(log.offsetForTimestamp(ts(60) - 1)).toBe(60); // needs a walk: the answer comes before the damage
      expect(log.offsetForTimestamp(ts(80))).toBe(80);
      let err: unknown;
      try {
        log.offsetForTimestamp(ts(79));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CorruptRecordError);
      expect((err as CorruptRecordError).position).toBe(victim.position);
      expect((err as CorruptRecordError).file).toBe(file);
    } finally {
      await log.close();
      removeDir(dir);
    }
  });
});

describe('offsetForTimestamp after truncateTo', () => {
  it('answers from the records appended after the cut, not from what was cut', async () => {
    const dir = tempDir('tidelog-tstrunc-');
    const log = await Log.open(dir, options);
    try {
      const model: ModelRecord[] = [];
      const append = (recs: ProducerRecord[]) => {
        const r = log.appendSync(recs);
        push(model, timesOf(recs), range(r.baseOffset, recs.length));
      };
      append(records({ count: 100, pattern: 'rising', seed: 1 }, T0, 1));
      append(records({ count: 100, pattern: 'rising', seed: 2 }, T0 + 300, 2));
      append(records({ count: 100, pattern: 'rising', seed: 3 }, T0 + 600, 3));
      checkAll(log, model); // every batch's timestamp blocks are cached now
      await log.truncateTo(100);
      expect(log.logEndOffset).toBe(100);
      model.length = 100;
      // At the position of the batch cut off: the same sizes, other timestamps
      // (falling, below the first batch's), so a stale cache would point into
      // the wrong block.
      append(records({ count: 100, pattern: 'falling', seed: 2 }, T0 - 10, 2));
      append(records({ count: 100, pattern: 'random', seed: 7 }, T0 + 900, 3));
      checkAll(log, model);
    } finally {
      await log.close();
      removeDir(dir);
    }
  });

  it('random cuts and appends against brute force', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb(33, 120), { minLength: 2, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.array(batchArb(33, 120), { minLength: 1, maxLength: 4 })), {
          minLength: 1,
          maxLength: 3,
        }),
        async (first, rounds) => {
          const dir = tempDir('tidelog-tstrunc-');
          const log = await Log.open(dir, options);
          try {
            const model: ModelRecord[] = [];
            let tag = 0;
            const append = (spec: BatchSpec) => {
              const recs = records(spec, T0 + (tag % 4) * 150, tag++);
              const r = log.appendSync(recs);
              push(model, timesOf(recs), range(r.baseOffset, recs.length));
            };
            first.forEach(append);
            for (const [cut, more] of rounds) {
              checkAll(log, model);
              await log.truncateTo(cut % (log.logEndOffset + 1));
              model.length = log.logEndOffset;
              checkAll(log, model);
              more.forEach(append);
            }
            checkAll(log, model);
          } finally {
            await log.close();
            removeDir(dir);
          }
        },
      ),
      { numRuns: 15, seed: 0x7c7 },
    );
  });
});
