/**
 * The Log's everyday behaviour: append and read back, the async iterator, the
 * three offsets and acknowledgement levels, rolling, whole-batch reads,
 * durable isolation, timestamps, compression, every accepted form of keys,
 * values and headers, and zero-copy Buffers that outlive rolls and close().
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Log, LogClosedError, OffsetOutOfRangeError, type ProducerRecord, decodeBatches } from '../../src/index.js';
import { makeRecord, tempDir } from '../helpers.js';
import { type ModelRecord, expectRecords, logOpener, modelOf, parseBatches, plain, segPath, segmentBases } from './util.js';

const openLog = logOpener();

/** Appends `sizes.length` batches of makeRecord records; returns the model of everything appended. */
async function appendBatches(log: Log, sizes: number[], model: ModelRecord[] = []): Promise<ModelRecord[]> {
  for (const n of sizes) {
    const base = log.logEndOffset;
    const recs = Array.from({ length: n }, (_, j) => makeRecord(base + j));
    const r = await log.append(recs);
    expect(r).toMatchObject({ baseOffset: base, lastOffset: base + n - 1 });
    recs.forEach((rec, j) => model.push(modelOf(rec, base + j)));
  }
  return model;
}

/** Polls (bounded by a count of turns of the event loop, not by time) until `cond` holds. */
async function eventually(cond: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('open, append, read', () => {
  it('opens an empty log', async () => {
    const log = await openLog();
    expect(log.logStartOffset).toBe(0);
    expect(log.logEndOffset).toBe(0);
    expect(log.durableOffset).toBe(0);
    expect(log.readRecords(0)).toEqual([]);
    expect(log.readBatches(0)).toBeNull();
    expect(log.get(0)).toBeNull();
    expect(log.offsetForTimestamp(0)).toBeNull();
    const segs = log.segments();
    expect(segs).toHaveLength(1);
    expect(segs[0]).toMatchObject({ baseOffset: 0, nextOffset: 0, sizeBytes: 0, active: true });
  });

  it('assigns consecutive offsets and reads every record back by readRecords and get', async () => {
    const log = await openLog();
    const sizes = [1, 3, 7, 2, 1, 5, 4, 1, 1, 6];
    const model = await appendBatches(log, sizes);
    expect(log.logEndOffset).toBe(model.length);
    expectRecords(log.readRecords(0), model);
    for (const m of model) expectRecords([log.get(m.offset)], [m]);
    expect(log.get(model.length)).toBeNull();
    // From inside a batch: the records before the offset are not returned.
    for (let o = 0; o <= model.length; o++) expectRecords(log.readRecords(o), model.slice(o));
    for (const max of [1, 2, 5]) expectRecords(log.readRecords(2, { maxRecords: max }), model.slice(2, 2 + max));
    // maxBytes smaller than a batch still returns at least that batch's records from the offset.
    const small = log.readRecords(1, { maxBytes: 1 });
    expect(small.length).toBeGreaterThan(0);
    expectRecords(small, model.slice(1, 1 + small.length));
  });

  it('appends a single record given without an array', async () => {
    const log = await openLog();
    const r = await log.append({ key: 'k', value: 'v', timestamp: 42 });
    expect(r).toMatchObject({ baseOffset: 0, lastOffset: 0, logAppendTime: -1 });
    expectRecords(log.readRecords(0), [modelOf({ key: 'k', value: 'v', timestamp: 42 }, 0)]);
  });

  it('keeps what was appended across close and reopen', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 4096, maxMessageBytes: 4096 }, dir);
    const model = await appendBatches(log, Array.from({ length: 60 }, (_, i) => 1 + (i % 5)));
    const segs = log.segments();
    await log.close();
    expect(log.closed).toBe(true);
    const again = await openLog({ segmentBytes: 4096, maxMessageBytes: 4096 }, dir);
    expect(again.recovery.clean).toBe(true);
    expect(again.logEndOffset).toBe(model.length);
    expect(again.durableOffset).toBe(model.length);
    expect(again.segments()).toEqual(segs);
    expectRecords(again.readRecords(0), model);
    const r = await again.append(makeRecord(model.length));
    expect(r.baseOffset).toBe(model.length);
  });

  it('copies the caller’s bytes: changing them after the append changes nothing', async () => {
    const log = await openLog();
    const value = Buffer.from('original');
    const key = new Uint8Array([1, 2, 3]);
    await log.append({ key, value, timestamp: 1 });
    value.write('MUTATED!');
    key[0] = 9;
    expect(log.get(0)?.value?.toString()).toBe('original');
    expect([...(log.get(0)?.key ?? [])]).toEqual([1, 2, 3]);
  });
});

describe('records() async iterator', () => {
  it('iterates from the start, from an offset, and stops at maxRecords', async () => {
    const log = await openLog();
    const model = await appendBatches(log, [3, 1, 4, 1, 5]);
    const all: ModelRecord[] = [];
    for await (const r of log.records()) all.push({ ...r });
    expectRecords(all, model);
    const from5: ModelRecord[] = [];
    for await (const r of log.records(5, { maxBytes: 1 })) from5.push({ ...r });
    expectRecords(from5, model.slice(5));
    const few: ModelRecord[] = [];
    for await (const r of log.records(2, { maxRecords: 4 })) few.push({ ...r });
    expectRecords(few, model.slice(2, 6));
  });

  it('yields nothing on an empty log', async () => {
    const log = await openLog();
    let n = 0;
    for await (const _ of log.records()) n++;
    expect(n).toBe(0);
  });

  it('sees records appended while it iterates', async () => {
    const log = await openLog();
    const model = await appendBatches(log, [1, 1]);
    const seen: number[] = [];
    for await (const r of log.records(0, { maxBytes: 1 })) {
      seen.push(r.offset);
      if (r.offset === 1) await appendBatches(log, [2], model);
    }
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('break ends the iterator, and the log stays usable and closable', async () => {
    const log = await openLog();
    const model = await appendBatches(log, [4, 4, 4]);
    const it = log.records(0, { maxBytes: 1 });
    const got: number[] = [];
    for await (const r of it) {
      got.push(r.offset);
      if (got.length === 6) break;
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    // The generator was returned by the break: it yields nothing more.
    expect(await it.next()).toEqual({ done: true, value: undefined });
    const again: ModelRecord[] = [];
    for await (const r of log.records(0)) again.push({ ...r });
    expectRecords(again, model);
    await log.close();
    expect(log.closed).toBe(true);
  });

  it('throws LogClosedError when the log is closed mid-iteration', async () => {
    const log = await openLog();
    await appendBatches(log, [1, 1, 1]);
    const it = log.records(0, { maxBytes: 1 });
    expect((await it.next()).value?.offset).toBe(0);
    await log.close();
    await expect(it.next()).rejects.toBeInstanceOf(LogClosedError);
  });
});

describe('acknowledgement levels, durableOffset, flush', () => {
  it("'written' and 'none' do not sync; flush() makes everything durable", async () => {
    const log = await openLog();
    await appendBatches(log, [2]);
    await log.flush();
    expect(log.durableOffset).toBe(2);
    const w = await log.append([makeRecord(2), makeRecord(3)], { acks: 'written' });
    expect(w).toMatchObject({ baseOffset: 2, lastOffset: 3 });
    const n = await log.append(makeRecord(4), { acks: 'none' });
    expect(n).toMatchObject({ baseOffset: 4, lastOffset: 4 });
    expect(log.logEndOffset).toBe(5);
    // No sync was asked for (no flushIntervalMs, no flushBytes): the durable offset has not moved.
    expect(log.durableOffset).toBe(2);
    expect(log.readRecords(0)).toHaveLength(5);
    await log.flush();
    expect(log.durableOffset).toBe(5);
    await log.flush(); // nothing to sync: resolves all the same
    expect(log.durableOffset).toBe(5);
  });

  it("'durable' resolves once durableOffset covers the append, for every append of a turn", async () => {
    const log = await openLog();
    await log.append(makeRecord(0), { acks: 'written' });
    const r = await log.append([makeRecord(1), makeRecord(2)], { acks: 'durable' });
    expect(log.durableOffset).toBeGreaterThanOrEqual(r.lastOffset + 1);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        log.append(makeRecord(3 + i), { acks: 'durable' }).then((res) => {
          expect(log.durableOffset).toBeGreaterThan(res.lastOffset);
          return res.baseOffset;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => 3 + i));
    expect(log.durableOffset).toBe(23);
  });

  it("acks: 'durable' as the log's default", async () => {
    const log = await openLog({ acks: 'durable' });
    const r = await log.append([makeRecord(0), makeRecord(1)]);
    expect(log.durableOffset).toBeGreaterThanOrEqual(r.lastOffset + 1);
    await log.append(makeRecord(2), { acks: 'written' });
    expect(log.durableOffset).toBe(2);
  });

  it('flushBytes syncs once that many bytes are unsynced', async () => {
    const log = await openLog({ flushBytes: 500 });
    await log.append({ value: 'x'.repeat(50), timestamp: 1 });
    expect(log.durableOffset).toBe(0); // below flushBytes: no sync
    await log.append({ value: 'x'.repeat(600), timestamp: 1 });
    await eventually(() => log.durableOffset === 2);
  });

  it('flushIntervalMs syncs unsynced data without being asked', async () => {
    const log = await openLog({ flushIntervalMs: 10 });
    await log.append([makeRecord(0), makeRecord(1)]);
    await eventually(() => log.durableOffset === 2);
  });

  it("isolation: 'durable' hides records that are not synced yet", async () => {
    const log = await openLog();
    const model = await appendBatches(log, [2, 3]);
    await log.flush();
    await appendBatches(log, [1, 2], model);
    expect(log.durableOffset).toBe(5);
    expectRecords(log.readRecords(0, { isolation: 'durable' }), model.slice(0, 5));
    expectRecords(log.readRecords(3, { isolation: 'durable' }), model.slice(3, 5));
    expect(log.readRecords(5, { isolation: 'durable' })).toEqual([]);
    expect(log.readBatches(5, { isolation: 'durable' })).toBeNull();
    const b = log.readBatches(0, { isolation: 'durable' });
    expect(parseBatches(b as Buffer).batches.map((x) => x.baseOffset)).toEqual([0, 2]);
    const it: ModelRecord[] = [];
    for await (const r of log.records(0, { isolation: 'durable' })) it.push({ ...r });
    expectRecords(it, model.slice(0, 5));
    expectRecords(log.readRecords(0), model); // 'written' sees everything
    await log.flush();
    expectRecords(log.readRecords(0, { isolation: 'durable' }), model);
  });

  it('appendSync appends synchronously', async () => {
    const log = await openLog();
    const r = log.appendSync([makeRecord(0), makeRecord(1)]);
    expect(r).toEqual({ baseOffset: 0, lastOffset: 1, logAppendTime: -1 });
    expect(log.logEndOffset).toBe(2);
    const r2 = log.appendSync(makeRecord(2), { compression: 'lz4' });
    expect(r2.baseOffset).toBe(2);
    expectRecords(log.readRecords(0), [0, 1, 2].map((i) => modelOf(makeRecord(i), i)));
    expect(parseBatches(log.readBatches(2) as Buffer).batches[0].attributes & 7).toBe(3);
  });
});

describe('segments', () => {
  it('rolls by segmentBytes: contiguous segments, none larger than segmentBytes, each full', async () => {
    const dir = tempDir();
    const segmentBytes = 4096;
    const log = await openLog({ segmentBytes, maxMessageBytes: segmentBytes }, dir);
    const model = await appendBatches(log, Array.from({ length: 90 }, (_, i) => 1 + ((i * 7) % 6)));
    const segs = log.segments();
    expect(segs.length).toBeGreaterThanOrEqual(4);
    expect(segs[0].baseOffset).toBe(0);
    expect(segs.at(-1)?.nextOffset).toBe(model.length);
    expect(segs.map((s) => s.active)).toEqual(segs.map((_, i) => i === segs.length - 1));
    expect(segmentBases(dir)).toEqual(segs.map((s) => s.baseOffset));
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      expect(s.sizeBytes).toBeGreaterThan(0);
      expect(s.sizeBytes).toBeLessThanOrEqual(segmentBytes);
      const bytes = readFileSync(segPath(dir, s.baseOffset, '.log'));
      expect(bytes.length).toBe(s.sizeBytes);
      const { batches, rest } = parseBatches(bytes);
      expect(rest).toBe(0);
      expect(batches[0].baseOffset).toBe(s.baseOffset);
      expect((batches.at(-1) as { lastOffset: number }).lastOffset + 1).toBe(s.nextOffset);
      expect(s.maxTimestamp).toBe(Math.max(...model.slice(s.baseOffset, s.nextOffset).map((m) => m.timestamp)));
      if (i + 1 < segs.length) {
        expect(segs[i + 1].baseOffset).toBe(s.nextOffset);
        // It rolled because the next batch would not fit.
        const nextFirst = parseBatches(readFileSync(segPath(dir, segs[i + 1].baseOffset, '.log'))).batches[0];
        expect(s.sizeBytes + nextFirst.size).toBeGreaterThan(segmentBytes);
      }
    }
    expectRecords(log.readRecords(0), model);
    for (const m of model) expect(plain(log.get(m.offset) as ModelRecord)).toEqual(plain(m));
  });

  it('rolls by segmentMs: a batch that much newer than the segment’s first batch starts a segment', async () => {
    const log = await openLog({ segmentMs: 60_000 });
    const t0 = 1_700_000_000_000;
    const at = async (ts: number) => (await log.append({ value: String(ts), timestamp: ts })).baseOffset;
    await at(t0);
    await at(t0 + 20_000);
    await at(t0 - 5_000); // older: never a reason to roll
    expect(log.segments()).toHaveLength(1);
    const second = await at(t0 + 200_000);
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0, second]);
    await at(t0 + 230_000); // measured from the new segment's first batch
    expect(log.segments()).toHaveLength(2);
    const third = await at(t0 + 400_000);
    expect(log.segments().map((s) => s.baseOffset)).toEqual([0, second, third]);
    expect(log.readRecords(0).map((r) => r.value?.toString())).toEqual(
      [t0, t0 + 20_000, t0 - 5_000, t0 + 200_000, t0 + 230_000, t0 + 400_000].map(String),
    );
  });
});

describe('readBatches', () => {
  it('returns whole batches, as stored, starting with the one that holds the offset', async () => {
    const dir = tempDir();
    const log = await openLog({ segmentBytes: 4096, maxMessageBytes: 4096 }, dir);
    const model = await appendBatches(log, Array.from({ length: 40 }, (_, i) => 1 + ((i * 5) % 7)));
    const segs = log.segments();
    for (let o = 0; o < model.length; o++) {
      const buf = log.readBatches(o);
      expect(buf).not.toBeNull();
      const { batches, rest } = parseBatches(buf as Buffer);
      expect(rest).toBe(0);
      expect(batches[0].baseOffset).toBeLessThanOrEqual(o);
      expect(batches[0].lastOffset).toBeGreaterThanOrEqual(o);
      for (let i = 1; i < batches.length; i++) expect(batches[i].baseOffset).toBe(batches[i - 1].lastOffset + 1);
      // Byte for byte what the segment file holds.
      const seg = segs.filter((s) => s.baseOffset <= o).at(-1) as { baseOffset: number };
      const file = readFileSync(segPath(dir, seg.baseOffset, '.log'));
      const at = parseBatches(file).batches.find((b) => b.baseOffset === batches[0].baseOffset) as { position: number };
      expect(Buffer.compare(buf as Buffer, file.subarray(at.position, at.position + (buf as Buffer).length))).toBe(0);
      // Decoding it from the offset gives the model's records.
      const decoded = decodeBatches(buf as Buffer, [], o);
      expectRecords(decoded, model.slice(o, o + decoded.length));
    }
    expect(log.readBatches(model.length)).toBeNull();
    expect(() => log.readBatches(model.length + 1)).toThrow(OffsetOutOfRangeError);
  });

  it('fills up to maxBytes with whole batches and returns at least one', async () => {
    const log = await openLog();
    await appendBatches(log, [3, 3, 3, 3, 3]);
    const all = parseBatches(log.readBatches(0) as Buffer).batches;
    expect(all).toHaveLength(5);
    const one = parseBatches(log.readBatches(0, { maxBytes: 1 }) as Buffer);
    expect(one.batches.map((b) => b.baseOffset)).toEqual([0]);
    const three = all[0].size + all[1].size + all[2].size;
    expect(parseBatches(log.readBatches(0, { maxBytes: three }) as Buffer).batches).toHaveLength(3);
    expect(parseBatches(log.readBatches(0, { maxBytes: three - 1 }) as Buffer).batches).toHaveLength(2);
    const fromSecond = all[1].size + all[2].size + all[3].size;
    expect(parseBatches(log.readBatches(4, { maxBytes: fromSecond }) as Buffer).batches.map((b) => b.baseOffset)).toEqual([
      3, 6, 9,
    ]);
  });

  it('zero-copy Buffers stay readable after the log rolls and after close()', async () => {
    const log = await openLog({ segmentBytes: 4096, maxMessageBytes: 4096 });
    const model = await appendBatches(log, [5, 5, 5]);
    const buf = log.readBatches(0) as Buffer;
    const copy = Buffer.from(buf);
    const records = log.readRecords(0);
    // Roll several times, then close: the segment the Buffer maps is sealed and the log's files closed.
    await appendBatches(log, Array.from({ length: 120 }, () => 4), model);
    expect(log.segments().length).toBeGreaterThanOrEqual(3);
    expect(Buffer.compare(buf, copy)).toBe(0);
    await log.close();
    expect(Buffer.compare(buf, copy)).toBe(0);
    expectRecords(decodeBatches(buf), model.slice(0, 15));
    expectRecords(records, model.slice(0, 15));
  });

  it('a Buffer over bytes that truncateTo removes reads zeros there, and the rest as before', async () => {
    const log = await openLog();
    await appendBatches(log, [2, 2, 2, 2]);
    const buf = log.readBatches(0) as Buffer;
    const copy = Buffer.from(buf);
    const cut = parseBatches(buf).batches[2].position;
    await log.truncateTo(4);
    expect(log.logEndOffset).toBe(4);
    expect(Buffer.compare(buf.subarray(0, cut), copy.subarray(0, cut))).toBe(0);
    expect(buf.subarray(cut).every((b) => b === 0)).toBe(true);
    // New appends reuse those positions in the file, not in the old Buffer.
    await log.append(makeRecord(4));
    expect(buf.subarray(cut).every((b) => b === 0)).toBe(true);
    expect(log.get(4)?.value?.toString()).toBe(makeRecord(4).value);
  });
});

describe('timestamps', () => {
  it('CreateTime keeps each record’s timestamp; a record without one gets the append time', async () => {
    const log = await openLog();
    const before = Date.now();
    const r = await log.append([{ value: 'a', timestamp: 7 }, { value: 'b' }, { value: 'c', timestamp: 3 }]);
    const after = Date.now();
    expect(r.logAppendTime).toBe(-1);
    const got = log.readRecords(0).map((x) => x.timestamp);
    expect(got[0]).toBe(7);
    expect(got[1]).toBeGreaterThanOrEqual(before);
    expect(got[1]).toBeLessThanOrEqual(after);
    expect(got[2]).toBe(3);
    expect(parseBatches(log.readBatches(0) as Buffer).batches[0].attributes & 8).toBe(0);
  });

  it('LogAppendTime stamps every record of a batch with the append time', async () => {
    const dir = tempDir();
    const log = await openLog({ messageTimestampType: 'LogAppendTime' }, dir);
    const before = Date.now();
    const r = await log.append([{ value: 'a', timestamp: 5 }, { value: 'b', timestamp: 9_999_999_999_999 }]);
    const s = log.appendSync({ value: 'c', timestamp: 1 });
    const after = Date.now();
    for (const t of [r.logAppendTime, s.logAppendTime]) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
    const check = (l: Log) => {
      expect(l.readRecords(0).map((x) => x.timestamp)).toEqual([r.logAppendTime, r.logAppendTime, s.logAppendTime]);
      const batches = parseBatches(l.readBatches(0) as Buffer).batches;
      expect(batches.map((b) => b.attributes & 8)).toEqual([8, 8]);
      expect(batches.map((b) => b.maxTimestamp)).toEqual([r.logAppendTime, s.logAppendTime]);
      // Lookups use the stamped times, not the producer's.
      expect(l.offsetForTimestamp(6)).toBe(0);
      expect(l.offsetForTimestamp(r.logAppendTime + 1)).toBe(s.logAppendTime > r.logAppendTime ? 2 : null);
      expect(l.segments()[0].maxTimestamp).toBe(Math.max(r.logAppendTime, s.logAppendTime));
    };
    check(log);
    await log.close();
    check(await openLog({ messageTimestampType: 'LogAppendTime' }, dir));
  });
});

describe('compression', () => {
  const compressible = (i: number): ProducerRecord => ({
    key: `key-${i % 4}`,
    value: `value ${'abcdefgh'.repeat(20)} ${i}`,
    headers: [{ key: 'h', value: `header-${i}` }],
    timestamp: 5_000 + ((i * 37) % 50),
  });

  it("lz4 round trip: codec 3 on disk, records, get and offsetForTimestamp as without it", async () => {
    const lz = await openLog({ compression: 'lz4' });
    const plainLog = await openLog();
    const model: ModelRecord[] = [];
    for (let b = 0; b < 12; b++) {
      const recs = Array.from({ length: 1 + (b % 6) }, (_, j) => compressible(model.length + j));
      const r1 = await lz.append(recs);
      const r2 = await plainLog.append(recs);
      expect(r1).toEqual(r2);
      recs.forEach((rec, j) => model.push(modelOf(rec, r1.baseOffset + j)));
    }
    const batches = parseBatches(lz.readBatches(0) as Buffer).batches;
    expect(batches.every((b) => (b.attributes & 7) === 3)).toBe(true);
    expect(lz.segments()[0].sizeBytes).toBeLessThan(plainLog.segments()[0].sizeBytes / 2);
    expectRecords(lz.readRecords(0), model);
    for (let o = 0; o < model.length; o++) {
      expectRecords([lz.get(o)], [model[o]]);
      expectRecords(lz.readRecords(o, { maxRecords: 2 }), model.slice(o, o + 2));
    }
    for (let t = 4_999; t <= 5_051; t++) {
      const first = model.find((m) => m.timestamp >= t);
      expect(lz.offsetForTimestamp(t)).toBe(first ? first.offset : null);
    }
  });

  it('per-append compression overrides the log’s', async () => {
    const log = await openLog();
    await log.append([compressible(0), compressible(1)], { compression: 'lz4' });
    await log.append([compressible(2)]);
    await log.append([compressible(3)], { compression: 'none' });
    const codecs = parseBatches(log.readBatches(0) as Buffer).batches.map((b) => b.attributes & 7);
    expect(codecs).toEqual([3, 0, 0]);
    expectRecords(log.readRecords(0), [0, 1, 2, 3].map((i) => modelOf(compressible(i), i)));
  });
});

describe('keys, values and headers', () => {
  it('accepts Buffer, Uint8Array, string and null, and reads back the same bytes', async () => {
    const big = Buffer.alloc(100, 7);
    const records: ProducerRecord[] = [
      { key: Buffer.from([0, 1, 2, 255]), value: Buffer.from('buffer value') },
      { key: new Uint8Array([9, 8, 7]), value: big.subarray(10, 30) }, // a view with a byteOffset
      { key: 'ünïcödé ✓ 🎉', value: 'string value ✓' },
      { key: null, value: 'null key' },
      { value: 'undefined key' },
      { key: 'tombstone', value: null },
      { key: '', value: '' }, // empty, not null
      { key: Buffer.alloc(0), value: new Uint8Array(0) },
      { key: new Uint8Array(new Uint16Array([0x0102, 0x0304]).buffer, 1, 2), value: 'odd view' },
    ].map((r, i) => ({ ...r, timestamp: 100 + i }));
    for (const compression of ['none', 'lz4'] as const) {
      const log = await openLog({ compression });
      await log.append(records);
      const model = records.map((r, i) => modelOf(r, i));
      expectRecords(log.readRecords(0), model);
      for (let i = 0; i < records.length; i++) expectRecords([log.get(i)], [model[i]]);
      const got = log.readRecords(0);
      expect(got[5].value).toBeNull();
      expect(got[3].key).toBeNull();
      expect(got[4].key).toBeNull();
      expect(got[6].key).toEqual(Buffer.alloc(0));
      expect(got[6].value).toEqual(Buffer.alloc(0));
    }
  });

  it('keeps headers in order, duplicates included, from arrays and objects', async () => {
    const given: ProducerRecord[] = [
      {
        value: 'a',
        headers: [
          { key: 'dup', value: 'first' },
          { key: 'bin', value: Buffer.from([0, 255]) },
          { key: 'dup', value: 'second' },
          { key: 'none', value: null },
          { key: '', value: new Uint8Array([1]) },
          { key: 'ключ', value: '' },
        ],
      },
      { value: 'b', headers: { z: 'last-letter', a: Buffer.from('x'), n: null } },
      { value: 'c', headers: [] },
      { value: 'd', headers: {} },
    ];
    const records = given.map((r, i) => ({ ...r, timestamp: 10 + i }));
    const log = await openLog();
    await log.append(records);
    expectRecords(log.readRecords(0), records.map((r, i) => modelOf(r, i)));
    expect(log.get(1)?.headers.map((h) => h.key)).toEqual(['z', 'a', 'n']);
  });

  it('reads back records larger than the point-read scratch buffer', async () => {
    const log = await openLog();
    const value = Buffer.alloc(200_000);
    for (let i = 0; i < value.length; i++) value[i] = (i * 31) & 0xff;
    const records = [{ value: 'small', timestamp: 1 }, { key: 'big', value, timestamp: 2 }, { value: 'after', timestamp: 3 }];
    await log.append(records);
    for (let i = 0; i < 3; i++) expectRecords([log.get(i)], [modelOf(records[i], i)]);
  });
});
