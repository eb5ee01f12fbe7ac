/**
 * Log.get(offset) through its two paths: a record without headers comes back
 * as views of the log's record arena (src/record/arena.ts), filled by the
 * native call; one with headers, too large for what is left of the arena, or
 * malformed goes through the scratch buffer and decodeRecordBody. Both must
 * give the same records, as bytes the caller owns: unchanged by later gets,
 * arena refills, appends, truncateTo, close, and by writes to another record.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, Log, type LogRecord, type ProducerRecord } from '../../src/index.js';
import { native } from '../../src/native.js';
import { ARENA_BYTES } from '../../src/record/arena.js';
import { tempDir } from '../helpers.js';
import { type ModelRecord, modelOf, parseBatches, plain, removeDir, segPath } from './util.js';

const T0 = 1_700_000_000_000;

/** Record i of a batch with every shape get() must handle, in turn. */
function shaped(i: number): ProducerRecord {
  const value = `v${i}-${'y'.repeat(i % 23)}`;
  switch (i % 7) {
    case 0:
      return { key: null, value, timestamp: T0 + i };
    case 1:
      return { key: `k${i}`, value: null, timestamp: T0 + i };
    case 2:
      return { key: '', value: '', timestamp: T0 + i };
    case 3:
      return { key: `k${i}`, value, headers: { h: `x${i}`, e: '' }, timestamp: T0 + i };
    case 4:
      return { key: `k${i}`, value, headers: [{ key: 'n', value: null }], timestamp: T0 + i };
    default:
      return { key: `k${i}`, value, timestamp: T0 - 5 * i }; // timestamps need not rise
  }
}

describe('get() of records of every shape', () => {
  for (const messageTimestampType of ['CreateTime', 'LogAppendTime'] as const) {
    it(`gives each record's fields, with and without headers, null and empty keys and values (${messageTimestampType})`, async () => {
      const dir = tempDir('tidelog-get-');
      let log = await Log.open(dir, { messageTimestampType });
      try {
        const model: ModelRecord[] = [];
        // A large batch (the native record marks), then small ones.
        for (const size of [60, 3, 1, 9]) {
          const recs = Array.from({ length: size }, (_, i) => shaped(model.length + i));
          const r = log.appendSync(recs);
          recs.forEach((rec, i) => {
            const m = modelOf(rec, r.baseOffset + i);
            model.push(messageTimestampType === 'LogAppendTime' ? { ...m, timestamp: r.logAppendTime } : m);
          });
        }
        const check = (l: Log) => {
          for (const m of model) {
            const got = l.get(m.offset)!;
            expect(plain(got)).toEqual(plain(m));
            if (got.key !== null) expect(Buffer.isBuffer(got.key)).toBe(true);
            if (got.value !== null) expect(Buffer.isBuffer(got.value)).toBe(true);
          }
          expect(l.get(model.length)).toBeNull();
        };
        check(log);
        await log.close();
        log = await Log.open(dir, { messageTimestampType });
        check(log);
      } finally {
        await log.close();
        removeDir(dir);
      }
    });
  }

  it('gives records larger than what is left of the arena, than the arena and than the scratch buffer, whole', async () => {
    const dir = tempDir('tidelog-get-big-');
    const log = await Log.open(dir);
    try {
      const sizes = [100, ARENA_BYTES - 900, 700, ARENA_BYTES + 1, 300, 70 * 1024, 5];
      const recs = sizes.map((n, i) => ({ key: `k${i}`, value: Buffer.alloc(n, 0x61 + i), timestamp: T0 + i }));
      log.appendSync(recs);
      const got: LogRecord[] = [];
      // Twice round, so that the large ones also meet an arena with room left and one without.
      for (let round = 0; round < 2; round++) for (let o = 0; o < recs.length; o++) got.push(log.get(o)!);
      got.forEach((r, i) => expect(plain(r)).toEqual(plain(modelOf(recs[i % recs.length], i % recs.length))));
    } finally {
      await log.close();
      removeDir(dir);
    }
  });
});

describe('the buffers get() returns belong to the caller', () => {
  it('stay as read across arena refills, writes to other records, appends, truncateTo with different data, and close', async () => {
    const dir = tempDir('tidelog-get-own-');
    const log = await Log.open(dir);
    const value = (o: number, gen: number) => Buffer.alloc(150, (o * 7 + gen * 101) & 0xff);
    const batch = (from: number, n: number, gen: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `k${from + i}-${gen}`, value: value(from + i, gen), timestamp: T0 + from + i }));
    let closed = false;
    try {
      for (let b = 0; b < 10; b++) log.appendSync(batch(b * 40, 40, 0));
      // 400 records of ~160 bytes of key and value: several arenas.
      expect(400 * 160).toBeGreaterThan(5 * ARENA_BYTES);
      const held: LogRecord[] = [];
      for (let o = 0; o < 400; o++) held.push(log.get(o)!);
      // Writing into one returned record changes neither the log nor its neighbours.
      held[10].value!.fill(0xee);
      held[10].key!.fill(0x21);
      expect(log.get(10)!.value!.equals(value(10, 0))).toBe(true);
      const intact = () => {
        for (let o = 0; o < 400; o++) {
          if (o === 10) continue;
          expect(held[o].offset).toBe(o);
          expect(held[o].key!.toString()).toBe(`k${o}-0`);
          expect(held[o].value!.equals(value(o, 0))).toBe(true);
        }
      };
      intact();

      // Cut in the middle of a batch (the cut is at its start), append other bytes at the same offsets.
      await log.truncateTo(170);
      expect(log.logEndOffset).toBe(160);
      expect(log.get(165)).toBeNull();
      log.appendSync(batch(160, 40, 1));
      log.appendSync(batch(200, 3, 1));
      for (let o = 160; o < 203; o++) {
        const r = log.get(o)!;
        expect(r.key!.toString()).toBe(`k${o}-1`);
        expect(r.value!.equals(value(o, 1))).toBe(true);
      }
      expect(log.get(203)).toBeNull();
      expect(log.get(150)!.value!.equals(value(150, 0))).toBe(true);
      intact();

      await log.close();
      closed = true;
      intact();
    } finally {
      if (!closed) await log.close();
      removeDir(dir);
    }
  });

  it('a read-only log following a writer: records after truncateTo are the new ones, those read before stay', async () => {
    const dir = tempDir('tidelog-get-ro-');
    const writer = await Log.open(dir);
    let reader: Log | null = null;
    try {
      const recs = (gen: number) => Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `g${gen}-${i}`, timestamp: T0 + i }));
      writer.appendSync(recs(0));
      reader = await Log.open(dir, { readOnly: true });
      const before = Array.from({ length: 40 }, (_, o) => reader!.get(o)!);
      await writer.truncateTo(0);
      writer.appendSync(recs(1));
      for (let o = 0; o < 40; o++) {
        expect(reader.get(o)!.value!.toString()).toBe(`g1-${o}`);
        expect(before[o].value!.toString()).toBe(`g0-${o}`);
      }
    } finally {
      await reader?.close();
      await writer.close();
      removeDir(dir);
    }
  });
});

describe('get() of a record malformed under a matching CRC', () => {
  it('fails with CorruptRecordError; the other records of its batch come back', async () => {
    const dir = tempDir('tidelog-get-bad-');
    let log = await Log.open(dir);
    const recs = Array.from({ length: 40 }, (_, i) => ({ key: `k${i % 10}`, value: `v${i}`, timestamp: T0 + i }));
    log.appendSync(recs);
    await log.close();
    const file = segPath(dir, 0, '.log');
    const bytes = readFileSync(file);
    const frame = parseBatches(bytes).batches[0];
    const batch = bytes.subarray(frame.position, frame.position + frame.size);
    // Record 25 (one-byte varints here): length, attributes, timestamp delta,
    // offset delta, then its key length: made to run past the record.
    let p = 61;
    for (let i = 0; i < 25; i++) p += 1 + (batch[p] >> 1);
    expect(batch[p + 4]).toBe(2 * 2); // key "k5": 2 bytes
    batch[p + 4] = 2 * 60;
    batch.writeUInt32BE(native.crc32c(batch.subarray(21)), 17);
    writeFileSync(file, bytes);
    log = await Log.open(dir);
    try {
      expect(() => log.get(25)).toThrow(CorruptRecordError);
      for (const o of [0, 24, 26, 39]) expect(plain(log.get(o)!)).toEqual(plain(modelOf(recs[o], o)));
    } finally {
      await log.close();
      removeDir(dir);
    }
  });
});
