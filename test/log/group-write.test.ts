/**
 * The group write of durable appends (src/log.ts): the durable appends of one
 * turn are encoded at once and written by one native append at the end of the
 * microtask queue. Each must still be its own all-or-nothing batch with its
 * own outcome, in call order, visible to every later call, and acknowledged
 * only once synced.
 */
import { describe, expect, it } from 'vitest';
import {
  BatchTooLargeError,
  InvalidArgumentError,
  Log,
  type ProducerRecord,
} from '../../src/index.js';
import { makeRecord, tempDir } from '../helpers.js';
import { type ModelRecord, expectRecords, logOpener, modelOf, parseBatches, segPath, segmentBases } from './util.js';
import { readFileSync, rmSync } from 'node:fs';

const openLog = logOpener();

describe('durable appends of one turn', () => {
  it('many concurrent writers get increasing offsets in call order, and durableOffset covers each when it resolves', async () => {
    const log = await openLog({ acks: 'durable' });
    const writers = 64;
    const perWriter = 20;
    const got: { i: number; base: number; last: number; durable: number }[] = [];
    const model: ModelRecord[] = [];
    let next = 0;
    const writer = async () => {
      for (let k = 0; k < perWriter; k++) {
        const i = next++;
        // Every fifth append is an array of 3 records: batches of other sizes share the group.
        const recs = i % 5 === 0 ? [makeRecord(3 * i), makeRecord(3 * i + 1), makeRecord(3 * i + 2)] : makeRecord(3 * i);
        const r = await log.append(recs);
        got.push({ i, base: r.baseOffset, last: r.lastOffset, durable: log.durableOffset });
        expect(r.lastOffset - r.baseOffset + 1).toBe(Array.isArray(recs) ? 3 : 1);
        (Array.isArray(recs) ? recs : [recs]).forEach((rec, j) => model.push(modelOf(rec, r.baseOffset + j)));
      }
    };
    await Promise.all(Array.from({ length: writers }, () => writer()));
    expect(got).toHaveLength(writers * perWriter);
    for (const g of got) expect(g.durable).toBeGreaterThan(g.last);
    // Offsets follow call order: append i starts where append i-1 ended.
    got.sort((a, b) => a.i - b.i);
    for (let k = 1; k < got.length; k++) expect(got[k].base).toBe(got[k - 1].last + 1);
    expect(got[0].base).toBe(0);
    const end = got[got.length - 1].last + 1;
    expect(log.logEndOffset).toBe(end);
    expect(log.durableOffset).toBe(end);
    model.sort((a, b) => a.offset - b.offset);
    expectRecords(log.readRecords(0, { maxBytes: 1 << 30 }), model);
    // One batch per append, as if each had been appended alone.
    const { batches } = parseBatches(readFileSync(segPath(log.dir, 0, '.log')));
    expect(batches.map((b) => b.baseOffset)).toEqual(got.map((g) => g.base));
  });

  it('an append with a bad record is refused alone: nothing of it is written, the others of its turn are', async () => {
    const log = await openLog({ acks: 'durable' });
    const recs: unknown[] = [makeRecord(0), makeRecord(1), { key: 'k', value: 42 }, makeRecord(3), [makeRecord(4), 'nope'], makeRecord(5)];
    const settled = await Promise.allSettled(recs.map((r) => log.append(r as ProducerRecord)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError);
    expect((settled[4] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError);
    const bases = settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ baseOffset: number }>).value.baseOffset);
    expect(bases).toEqual([0, 1, 2, 3]);
    expect(log.logEndOffset).toBe(4);
    expect(log.durableOffset).toBe(4);
    expectRecords(log.readRecords(0), [0, 1, 3, 5].map((i, o) => modelOf(makeRecord(i), o)));
  });

  it('a batch the native append refuses (over maxMessageBytes) fails alone; the rest of its group is written', async () => {
    const log = await openLog({ acks: 'durable', maxMessageBytes: 1000 });
    // Each record fits alone; the three together are over 1,000 bytes: only the log's append sees it.
    const big = [0, 1, 2].map((j) => ({ key: `b${j}`, value: 'y'.repeat(400), timestamp: 5 }));
    const settled = await Promise.allSettled([log.append(makeRecord(0)), log.append(big), log.append(makeRecord(1)), log.append(makeRecord(2))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(BatchTooLargeError);
    expect(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ lastOffset: number }>).value.lastOffset)).toEqual([0, 1, 2]);
    expect(log.durableOffset).toBe(3);
    expectRecords(log.readRecords(0), [0, 1, 2].map((i) => modelOf(makeRecord(i), i)));
  });

  it('every later call sees durable appends not yet awaited: logEndOffset, reads, written appends, close', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { acks: 'durable' });
    const p0 = log.append(makeRecord(0));
    expect(log.logEndOffset).toBe(1);
    const p1 = log.append(makeRecord(1));
    expectRecords(log.readRecords(0), [0, 1].map((i) => modelOf(makeRecord(i), i)));
    expect(log.get(1)?.offset).toBe(1);
    const p2 = log.append(makeRecord(2));
    // A written append after a grouped durable one still comes after it.
    const w = log.appendSync(makeRecord(3));
    expect(w.baseOffset).toBe(3);
    const p4 = log.append(makeRecord(4));
    const p5 = log.append(makeRecord(5));
    await log.close();
    expect((await Promise.all([p0, p1, p2, p4, p5])).map((r) => r.baseOffset)).toEqual([0, 1, 2, 4, 5]);
    const again = await openLog({}, dir);
    expect(again.logEndOffset).toBe(6);
    expectRecords(again.readRecords(0), [0, 1, 2, 3, 4, 5].map((i) => modelOf(makeRecord(i), i)));
  });

  it('a turn of appends larger than one group is written as several groups, in order', async () => {
    const log = await openLog({ acks: 'durable' });
    const n = 3000; // ~190 bytes each: over the 256 KiB a group holds
    const recs = Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(150, i & 0xff), timestamp: i }));
    const results = await Promise.all(recs.map((r) => log.append(r)));
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(log.durableOffset).toBe(n);
    expectRecords(log.readRecords(0, { maxBytes: 1 << 30 }), recs.map((r, i) => modelOf(r, i)));
  });

  it('a turn of appends larger than a segment still rolls: no segment is much over segmentBytes', async () => {
    const segmentBytes = 4096;
    const log = await openLog({ acks: 'durable', segmentBytes });
    const n = 400;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => log.append(makeRecord(i))));
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(log.durableOffset).toBe(n);
    const segs = log.segments();
    expect(segs.length).toBeGreaterThan(5);
    // A segment rolls before a write that does not fit, so each is at most segmentBytes.
    for (const s of segs) expect(s.sizeBytes).toBeLessThanOrEqual(segmentBytes);
    expect(segmentBases(log.dir)).toEqual(segs.map((s) => s.baseOffset));
    expectRecords(log.readRecords(0, { maxBytes: 1 << 20 }), Array.from({ length: n }, (_, i) => modelOf(makeRecord(i), i)));
  });

  it('truncateTo after a group keeps the waiters of batches below the cut and rejects the rest', async () => {
    const log = await openLog({ acks: 'durable' });
    await log.append(makeRecord(0));
    const ps = [1, 2, 3, 4].map((i) => log.append(makeRecord(i)));
    const t = log.truncateTo(3);
    const settled = await Promise.allSettled(ps);
    await t;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect(log.logEndOffset).toBe(3);
    expect(log.durableOffset).toBe(3);
  });

  it('durable appends written by close() are rejected, not left pending, when close fails', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { acks: 'durable' });
    await log.append([makeRecord(0)]);
    const pending = [log.append([makeRecord(1)]), log.append([makeRecord(2)])];
    // close() syncs the directory: gone, that fails.
    rmSync(dir, { recursive: true, force: true });
    const closing = log.close();
    const settled = await Promise.allSettled([closing, ...pending]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const [c, a, b] = settled as PromiseRejectedResult[];
    expect(a.reason).toBe(c.reason);
    expect(b.reason).toBe(c.reason);
  });
});
