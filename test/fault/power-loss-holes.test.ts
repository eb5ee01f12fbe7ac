/**
 * Regression tests of two bugs the power-loss states found (power-loss.test.ts).
 *
 * 1. A segment that lost its unsynced tail in a power loss, followed by a
 *    later segment whose file (or only its name) reached the disk, left a hole:
 *    recovery kept the later segment, so records written after lost ones
 *    survived (not a prefix of what was written) — or, with the later file
 *    empty, the log end jumped past offsets that no longer existed and the
 *    next append skipped them. Now a scanned segment that ends below the next
 *    segment's base offset makes recovery drop the later segments, as after a
 *    torn batch (native/core/log.cc LoadSegments).
 * 2. That rule needs segments to be contiguous by construction: a roll now
 *    names the new segment by the log end, also when a follower's batch
 *    (offsets kept) starts later (Log::Append). Otherwise a follower's offset
 *    gap at a roll would look like a lost tail and lose `written` records after
 *    a mere process crash: tested with a real kill -9.
 */
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, verifyLog } from '../../src/index.js';
import { crashChild } from '../../src/testing/index.js';
import { LogModel, checkLog, ensureDist, recordFor } from '../crash/util.js';
import { tempDir } from '../helpers.js';
import { markUnclean, parseBatches, segPath } from '../log/util.js';

beforeAll(() => ensureDist(), 120_000);

const MAX_VALUE_BYTES = 600;
const OPTIONS = { segmentBytes: 8 * 1024, maxMessageBytes: 8 * 1024, indexIntervalBytes: 512, maxIndexBytes: 4096 };

/** A closed log of three or more segments; returns its model. */
async function threeSegments(dir: string): Promise<LogModel> {
  const model = new LogModel();
  const log = await Log.open(dir, OPTIONS);
  for (let i = 0; log.segments().length < 4; i++) {
    const base = log.logEndOffset;
    const tag = `h${i}`;
    await log.append(Array.from({ length: 4 }, (_, j) => recordFor(tag, base + j, MAX_VALUE_BYTES)), { acks: 'durable' });
    model.addBatch(base, 4, tag);
  }
  await log.close();
  return model;
}

describe('recovery drops what follows a segment that lost its tail', () => {
  for (const later of ['with data', 'empty'] as const) {
    it(`the next segment ${later}`, async () => {
      const dir = tempDir('tidelog-holes-');
      const model = await threeSegments(dir);
      const log = await Log.open(dir, OPTIONS);
      const segs = log.segments();
      await log.close();
      // Segment 1 loses its last two batches (cut at a batch boundary, as when
      // its size never reached the disk); segment 2 (and 3) stay as they were.
      const s1 = segPath(dir, segs[1].baseOffset, '.log');
      const frames = parseBatches(readFileSync(s1)).batches;
      expect(frames.length).toBeGreaterThan(2);
      const keep = frames[frames.length - 2];
      truncateSync(s1, keep.position);
      if (later === 'empty') for (const s of segs.slice(2)) truncateSync(segPath(dir, s.baseOffset, '.log'), 0);
      markUnclean(dir, segs[1].baseOffset); // the recovery point: segment 1 and later are scanned

      const reopened = await Log.open(dir, OPTIONS);
      try {
        expect(reopened.logEndOffset, 'the log ends where segment 1 now ends').toBe(keep.baseOffset);
        expect(reopened.segments().map((s) => s.baseOffset)).toEqual([segs[0].baseOffset, segs[1].baseOffset]);
        expect(reopened.recovery.problems.join('\n')).toMatch(/unsynced tail was lost/);
        const kept = new LogModel();
        for (const b of model.batches) if (b.base + b.count <= keep.baseOffset) kept.addBatch(b.base, b.count, b.tag);
        checkLog(reopened, kept, MAX_VALUE_BYTES);
        const r = await reopened.append(recordFor('next', keep.baseOffset, MAX_VALUE_BYTES), { acks: 'durable' });
        expect(r.baseOffset, 'appends continue at the end, skipping nothing').toBe(keep.baseOffset);
      } finally {
        await reopened.close();
      }
      expect((await verifyLog(dir)).ok).toBe(true);
    });
  }

  it('a segment cut to a batch boundary with nothing after it is just the end of the log', async () => {
    const dir = tempDir('tidelog-holes-');
    await threeSegments(dir);
    const log = await Log.open(dir, OPTIONS);
    const segs = log.segments();
    const last = segs[segs.length - 1];
    await log.close();
    const path = segPath(dir, last.baseOffset, '.log');
    const frames = parseBatches(readFileSync(path)).batches;
    truncateSync(path, frames[0].position + frames[0].size);
    markUnclean(dir, 0);
    const reopened = await Log.open(dir, OPTIONS);
    try {
      expect(reopened.segments().map((s) => s.baseOffset)).toEqual(segs.map((s) => s.baseOffset));
      expect(reopened.logEndOffset).toBe(frames[0].baseOffset + 4);
    } finally {
      await reopened.close();
    }
  });
});

describe('a follower whose offsets jump where the segment rolls', () => {
  it('names the new segment by the log end, and keeps every written batch after kill -9', async () => {
    const dir = tempDir('tidelog-holes-follower-');
    const r = await crashChild({
      module: join(import.meta.dirname, 'power-loss-writer.mjs'),
      export: 'follower',
      arg: { dir, options: OPTIONS, batches: 60, gap: 3, maxValueBytes: MAX_VALUE_BYTES },
      killAt: 'done',
    });
    expect(r.stderr).toBe('');
    expect(r.by).toBe('point');
    const batches = r.reports as { base: number; count: number; tag: string; segments: number[] }[];
    expect(batches).toHaveLength(60);
    const segments = batches[batches.length - 1].segments;
    expect(segments.length, 'the follower rolled').toBeGreaterThan(2);
    // Every segment after the first starts where the one before it ended (the
    // end of its last batch), not at the base of its own first batch.
    for (const base of segments.slice(1)) {
      const before = batches.filter((b) => b.base < base);
      expect(base).toBe(before[before.length - 1].base + 5);
      expect(batches.some((b) => b.base === base), `segment ${base} starts in a gap`).toBe(false);
    }
    // Reopen after the kill: nothing written is lost (the gaps are the follower's, not holes).
    markUnclean(dir, 0); // and scan everything
    const log = await Log.open(dir, OPTIONS);
    try {
      const last = batches[batches.length - 1];
      expect(log.logEndOffset).toBe(last.base + 5);
      expect(log.recovery.bytesTruncated).toBe(0);
      const offsets: number[] = [];
      for (let at = 0; at < log.logEndOffset; ) {
        const recs = log.readRecords(at);
        if (recs.length === 0) break;
        for (const rec of recs) offsets.push(rec.offset);
        at = recs[recs.length - 1].offset + 1;
      }
      expect(offsets).toEqual(batches.flatMap((b) => [0, 1, 2, 3, 4].map((j) => b.base + j)));
    } finally {
      await log.close();
    }
    expect((await verifyLog(dir)).ok).toBe(true);
  });
});
