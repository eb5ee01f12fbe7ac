/**
 * Bad input to every public call: wrong types, negative, fractional, NaN and
 * out-of-range offsets, misspelled option names (the message suggests the
 * right one), records and batches over maxMessageBytes, calls after close(),
 * malformed pre-encoded batches. In every case the call fails with its typed
 * error and NOTHING is written: the offsets, segments and segment files are
 * unchanged and the next valid append goes to the old end. Also valid
 * pre-encoded batches, with and without assigned offsets.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchTooLargeError,
  InvalidArgumentError,
  InvalidBatchError,
  InvalidStateError,
  Log,
  LogClosedError,
  type LogOptions,
  OffsetOutOfRangeError,
  type ProducerRecord,
  RecordTooLargeError,
  TidelogError,
  encodeBatch,
} from '../../src/index.js';
import { native } from '../../src/native.js';
import { makeRecord, tempDir } from '../helpers.js';
import { type ModelRecord, expectRecords, isSegmentFile, modelOf, parseBatches, snapshot } from './util.js';

type ErrorClass = new (...args: never[]) => TidelogError;

const BASE_OPTIONS: LogOptions = { maxIndexBytes: 4096, segmentBytes: 64 * 1024, maxMessageBytes: 4096 };

interface Harness {
  log: Log;
  dir: string;
  model: ModelRecord[];
}

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

/** A log holding three batches. */
async function harness(options: LogOptions = {}): Promise<Harness> {
  const dir = tempDir();
  const log = await Log.open(dir, { ...BASE_OPTIONS, ...options });
  open.push(log);
  const model: ModelRecord[] = [];
  for (const n of [2, 3, 1]) {
    const recs = Array.from({ length: n }, (_, j) => makeRecord(model.length + j));
    const r = await log.append(recs);
    recs.forEach((rec, j) => model.push(modelOf(rec, r.baseOffset + j)));
  }
  return { log, dir, model };
}

/**
 * `call` must fail with `Err` (and a message matching `message`), and leave
 * the log as it was: offsets, segments, every segment file byte; then a
 * valid append must go to the old end.
 */
async function expectRefused(
  h: Harness,
  call: () => unknown,
  Err: ErrorClass,
  message?: RegExp,
  what = String(call),
): Promise<void> {
  const { log, dir, model } = h;
  const before = { end: log.logEndOffset, durable: log.durableOffset, segments: log.segments(), files: snapshot(dir, isSegmentFile) };
  let error: unknown = null;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(error, what).toBeInstanceOf(Err);
  if (message) expect((error as Error).message).toMatch(message);
  expect(log.logEndOffset).toBe(before.end);
  expect(log.durableOffset).toBe(before.durable);
  expect(log.segments()).toEqual(before.segments);
  expect(snapshot(dir, isSegmentFile)).toEqual(before.files);
  const rec = makeRecord(model.length);
  const r = await log.append(rec);
  expect(r.baseOffset).toBe(before.end);
  model.push(modelOf(rec, r.baseOffset));
  expectRecords(log.readRecords(0), model);
}

const BAD_OFFSETS: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '0', null, {}, 2 ** 53, -0.5];

describe('Log.open', () => {
  it('rejects a bad directory argument', async () => {
    for (const dir of ['', 5, null, undefined, {}]) {
      await expect(Log.open(dir as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('rejects misspelled option names, suggesting the right one', async () => {
    const dir = tempDir();
    const cases: [Record<string, unknown>, string][] = [
      [{ segmentByte: 4096 }, 'segmentBytes'],
      [{ ack: 'durable' }, 'acks'],
      [{ compresion: 'lz4' }, 'compression'],
      [{ readonly: true }, 'readOnly'],
      [{ indexIntervalByte: 10 }, 'indexIntervalBytes'],
      [{ flushIntervalMS: 10 }, 'flushIntervalMs'],
    ];
    for (const [options, suggestion] of cases) {
      const err = await Log.open(dir, options as LogOptions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain(Object.keys(options)[0]);
      expect((err as Error).message).toContain(`did you mean '${suggestion}'`);
    }
    const err = await Log.open(dir, { somethingElseEntirely: 1 } as LogOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('somethingElseEntirely');
    // Nothing was created by the refused opens.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects wrong option values and types', async () => {
    const dir = tempDir();
    const bad: Record<string, unknown>[] = [
      ...[-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '4096', 13, 2 ** 31, null].map((v) => ({ segmentBytes: v })),
      { segmentMs: 0 },
      { indexIntervalBytes: -1 },
      { maxIndexBytes: 8 },
      { maxMessageBytes: -5 },
      { maxMessageBytes: 0 },
      { segmentBytes: 4096, maxMessageBytes: 8192 },
      { flushIntervalMs: 0 },
      { flushBytes: 0 },
      { acks: 'all' },
      { acks: 1 },
      { compression: 'gzip' },
      { messageTimestampType: 'create' },
      { readOnly: 'yes' },
      { checkpointIntervalBytes: -1 },
      { syncHintBytes: -1 },
      { syncHintBytes: 0.5 },
      { syncHintBytes: null },
    ];
    for (const options of bad) {
      await expect(Log.open(dir, options as LogOptions), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    for (const options of [5, 'x', [], true]) {
      await expect(Log.open(dir, options as LogOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('maxMessageBytes defaults to 1 MiB, or to segmentBytes when that is smaller and it was not given', async () => {
    const big = await Log.open(tempDir());
    const small = await Log.open(tempDir(), { segmentBytes: 4096 });
    open.push(big, small);
    expect(big.options.maxMessageBytes).toBe(1024 * 1024);
    expect(small.options.maxMessageBytes).toBe(4096);
    const records = Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(200) }));
    await expect(small.append(records)).rejects.toBeInstanceOf(BatchTooLargeError);
    expect(small.logEndOffset).toBe(0);
  });

  it('a refused open of an existing log touches nothing; the caller’s options are not mutated', async () => {
    const dir = tempDir();
    const options = Object.freeze({ segmentBytes: 4096, maxMessageBytes: 4096 });
    const log = await Log.open(dir, options);
    expect(log.options).toMatchObject({ segmentBytes: 4096, acks: 'written', compression: 'none' });
    expect(Object.isFrozen(log.options)).toBe(true);
    await log.append([makeRecord(0), makeRecord(1)]);
    await log.close();
    const files = snapshot(dir);
    expect(files.has('.clean-shutdown')).toBe(true);
    await expect(Log.open(dir, { segmentBytes: 'big' } as unknown as LogOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Log.open(dir, { sgmentBytes: 4096 } as LogOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(snapshot(dir)).toEqual(files);
    const again = await Log.open(dir, options);
    open.push(again);
    expect(again.recovery.clean).toBe(true);
    expect(again.logEndOffset).toBe(2);
  });
});

describe('append and appendSync', () => {
  const badRecords: unknown[] = [
    5,
    'abc',
    null,
    undefined,
    true,
    [],
    [5],
    [null],
    ['str'],
    [{ value: 5 }],
    [{ value: {} }],
    [{ value: [1, 2] }],
    [{ key: 'k' }], // no value
    [{ key: 5, value: 'x' }],
    [{ key: {}, value: 'x' }],
    [{ value: 'x', timestamp: -1 }],
    [{ value: 'x', timestamp: 1.5 }],
    [{ value: 'x', timestamp: Number.NaN }],
    [{ value: 'x', timestamp: '5' }],
    [{ value: 'x', timestamp: 2 ** 53 }],
    [{ value: 'x', headers: 'h' }],
    [{ value: 'x', headers: [5] }],
    [{ value: 'x', headers: [{ key: 5, value: 'v' }] }],
    [{ value: 'x', headers: [{ key: 'k', value: 5 }] }],
    [{ value: 'x', headers: { k: 5 } }],
    // A bad record after good ones: the whole batch is refused.
    [{ value: 'fine' }, { value: 'also fine' }, { value: 7 }],
  ];

  it('rejects malformed records with InvalidArgumentError and writes nothing', async () => {
    const h = await harness();
    for (const records of badRecords) {
      await expectRefused(h, () => h.log.append(records as ProducerRecord[]), InvalidArgumentError);
      await expectRefused(h, () => h.log.appendSync(records as ProducerRecord[]), InvalidArgumentError);
    }
  });

  it('rejects bad options, suggesting the right name', async () => {
    const h = await harness();
    const rec = makeRecord(100);
    await expectRefused(h, () => h.log.append(rec, { ack: 'durable' } as never), InvalidArgumentError, /did you mean 'acks'/);
    await expectRefused(h, () => h.log.append(rec, { compresion: 'lz4' } as never), InvalidArgumentError, /did you mean 'compression'/);
    await expectRefused(h, () => h.log.append(rec, { acks: 'all' } as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.append(rec, { compression: 'zstd' } as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.append(rec, 5 as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.appendSync(rec, { acks: 'durable' } as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.appendSync(rec, { compression: 'snappy' } as never), InvalidArgumentError);
  });

  it('a record larger than maxMessageBytes: RecordTooLargeError; a batch larger: BatchTooLargeError', async () => {
    const h = await harness({ segmentBytes: 8192, maxMessageBytes: 1024 });
    const big = { value: Buffer.alloc(2000, 1), timestamp: 1 };
    await expectRefused(h, () => h.log.append(big), RecordTooLargeError);
    await expectRefused(h, () => h.log.appendSync([makeRecord(0), big]), RecordTooLargeError);
    await expectRefused(h, () => h.log.append(big, { compression: 'lz4' }), RecordTooLargeError);
    const many = Array.from({ length: 10 }, () => ({ value: Buffer.alloc(200, 2), timestamp: 1 }));
    await expectRefused(h, () => h.log.append(many), BatchTooLargeError);
    await expectRefused(h, () => h.log.appendSync(many), BatchTooLargeError);
    // Just under the limit is fine.
    const r = await h.log.append({ value: Buffer.alloc(900, 3), timestamp: 1 });
    expect(r.baseOffset).toBe(h.model.length);
  });

  it('an append while truncateTo runs fails with InvalidStateError', async () => {
    const h = await harness();
    const truncating = h.log.truncateTo(2);
    await expect(h.log.append(makeRecord(0))).rejects.toBeInstanceOf(InvalidStateError);
    expect(() => h.log.appendSync(makeRecord(0))).toThrow(InvalidStateError);
    await expect(h.log.truncateTo(1)).rejects.toBeInstanceOf(InvalidStateError);
    await truncating;
    expect(h.log.logEndOffset).toBe(2);
    h.model.length = 2;
    await expectRefused(h, () => h.log.append([]), InvalidArgumentError);
  });
});

describe('offsets and read options', () => {
  it('rejects non-integer, negative and non-number offsets in every call', async () => {
    const h = await harness();
    const { log } = h;
    for (const o of BAD_OFFSETS) {
      const off = o as number;
      await expectRefused(h, () => log.readRecords(off), InvalidArgumentError, /offset/);
      await expectRefused(h, () => log.readBatches(off), InvalidArgumentError, /offset/);
      await expectRefused(h, () => log.get(off), InvalidArgumentError, /offset/);
      await expectRefused(h, () => log.truncateTo(off), InvalidArgumentError, /offset/);
      await expectRefused(h, () => log.records(off).next(), InvalidArgumentError, /offset/);
    }
    for (const t of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '5', null, undefined, 2 ** 53]) {
      await expectRefused(h, () => log.offsetForTimestamp(t as number), InvalidArgumentError, /timestamp/);
    }
    expect(() => log.readRecords(undefined as unknown as number)).toThrow(InvalidArgumentError);
  });

  it('offsets past the end: OffsetOutOfRangeError for reads, null for get', async () => {
    const h = await harness();
    const end = h.log.logEndOffset;
    expect(h.log.readRecords(end)).toEqual([]);
    expect(h.log.readBatches(end)).toBeNull();
    expect(h.log.get(end + 5)).toBeNull();
    await expectRefused(h, () => h.log.readRecords(h.log.logEndOffset + 1), OffsetOutOfRangeError);
    await expectRefused(h, () => h.log.readBatches(h.log.logEndOffset + 7), OffsetOutOfRangeError);
    await expectRefused(h, () => h.log.records(h.log.logEndOffset + 1).next(), OffsetOutOfRangeError);
  });

  it('rejects bad read options, suggesting the right name', async () => {
    const h = await harness();
    const { log } = h;
    const reads: [string, (o: never) => unknown][] = [
      ['readRecords', (o) => log.readRecords(0, o)],
      ['readBatches', (o) => log.readBatches(0, o)],
      ['records', (o) => log.records(0, o).next()],
    ];
    for (const [name, read] of reads) {
      await expectRefused(h, () => read({ maxByte: 10 } as never), InvalidArgumentError, /did you mean 'maxBytes'/);
      await expectRefused(h, () => read({ isolaton: 'durable' } as never), InvalidArgumentError, /did you mean 'isolation'/);
      for (const o of [{ maxBytes: 0 }, { maxBytes: -1 }, { maxBytes: 1.5 }, { maxBytes: '10' }, { isolation: 'committed' }, 5, 'x']) {
        await expectRefused(h, () => read(o as never), InvalidArgumentError);
      }
      if (name !== 'readBatches') {
        for (const o of [{ maxRecords: 0 }, { maxRecords: -2 }, { maxRecords: 0.5 }]) {
          await expectRefused(h, () => read(o as never), InvalidArgumentError);
        }
      }
    }
  });
});

describe('after close()', () => {
  it('every call fails with LogClosedError; close() again resolves', async () => {
    const h = await harness();
    const { log, dir } = h;
    const iterator = log.records(0, { maxBytes: 1 });
    await iterator.next();
    await iterator.next(); // the first batch (two records) is used up
    await log.close();
    const files = snapshot(dir, isSegmentFile);
    const calls: [string, () => unknown][] = [
      ['append', () => log.append(makeRecord(0))],
      ['appendSync', () => log.appendSync(makeRecord(0))],
      ['appendBatches', () => log.appendBatches(encodeBatch([makeRecord(0)]))],
      ['readRecords', () => log.readRecords(0)],
      ['readBatches', () => log.readBatches(0)],
      ['get', () => log.get(0)],
      ['offsetForTimestamp', () => log.offsetForTimestamp(0)],
      ['flush', () => log.flush()],
      ['truncateTo', () => log.truncateTo(0)],
      ['segments', () => log.segments()],
      ['records', () => log.records(0).next()],
      ['an iterator opened before', () => iterator.next()],
    ];
    for (const [name, call] of calls) {
      const err = await (async () => call())().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(LogClosedError);
      expect(err, name).toMatchObject({ code: 'LOG_CLOSED' });
    }
    await log.close();
    expect(log.closed).toBe(true);
    expect(snapshot(dir, isSegmentFile)).toEqual(files);
  });
});

// ---- pre-encoded batches --------------------------------------------------------

/** Recomputes a batch's CRC-32C after a deliberate change (so that only the change is wrong). */
function fixCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(native.crc32c(batch.subarray(21)) >>> 0, 17);
  return batch;
}

function batchOf(records: ProducerRecord[], baseOffset = 0, compression: 'none' | 'lz4' = 'none'): Buffer {
  return encodeBatch(records, { baseOffset, compression });
}

describe('appendBatches with malformed bytes', () => {
  const recs = [
    { key: 'a', value: 'first', timestamp: 10 },
    { key: 'b', value: 'second', timestamp: 11 },
  ];

  it('rejects a bad CRC, bad magic, truncated bytes, a bad length, and writes nothing', async () => {
    const h = await harness();
    const good = batchOf(recs);
    const variants: [string, Buffer][] = [];
    for (const at of [21, 30, 45, 61, good.length - 1]) {
      const b = Buffer.from(good);
      b[at] ^= 0x01;
      variants.push([`byte ${at} flipped`, b]);
    }
    for (const magic of [0, 1, 3, -1]) {
      const b = Buffer.from(good);
      b.writeInt8(magic, 16);
      variants.push([`magic ${magic}`, b]);
    }
    for (const len of [0, 1, 12, 60, 61, good.length - 1]) variants.push([`cut to ${len} bytes`, Buffer.from(good.subarray(0, len))]);
    for (const length of [-1, 0, 48, good.length - 12 + 1, 0x7fffffff]) {
      const b = Buffer.from(good);
      b.writeInt32BE(length, 8);
      variants.push([`batchLength ${length}`, b]);
    }
    // Two batches, the second one bad: all or nothing.
    const second = Buffer.from(good);
    second[good.length - 1] ^= 0xff;
    variants.push(['a good batch, then a bad one', Buffer.concat([good, second])]);
    variants.push(['a good batch, then a cut one', Buffer.concat([good, good.subarray(0, 70)])]);
    variants.push(['a good batch, then garbage', Buffer.concat([good, Buffer.alloc(100, 0xab)])]);
    for (const [name, bytes] of variants) {
      for (const assignOffsets of [true, false]) {
        if (!assignOffsets && bytes.length >= 8) bytes.writeBigInt64BE(BigInt(h.log.logEndOffset), 0);
        await expectRefused(h, () => h.log.appendBatches(bytes, { assignOffsets }), InvalidBatchError, undefined, name);
      }
    }
  });

  it('rejects batches whose records or counts are wrong even with a correct CRC', async () => {
    const h = await harness();
    const good = batchOf(recs);
    // recordsCount 0, and a records region that is empty.
    const empty = Buffer.from(good.subarray(0, 61));
    empty.writeInt32BE(61 - 12, 8);
    empty.writeInt32BE(0, 57);
    empty.writeInt32BE(0, 23);
    // lastOffsetDelta that does not match the records.
    const delta = Buffer.from(good);
    delta.writeInt32BE(5, 23);
    // A record length that runs past the batch.
    const recordLength = Buffer.from(good);
    recordLength[61] = 0x7e; // zigzag 63: longer than the batch
    // More records claimed than present.
    const count = Buffer.from(good);
    count.writeInt32BE(3, 57);
    // Negative counts.
    const negative = Buffer.from(good);
    negative.writeInt32BE(-1, 57);
    for (const b of [empty, delta, recordLength, count, negative]) {
      fixCrc(b);
      await expectRefused(h, () => h.log.appendBatches(b), InvalidBatchError);
    }
  });

  it('with assignOffsets false, a base offset below the log end or overlapping batches are refused', async () => {
    const h = await harness();
    const end = h.log.logEndOffset;
    for (const base of [0, end - 1]) {
      await expectRefused(h, () => h.log.appendBatches(batchOf(recs, base), { assignOffsets: false }), InvalidBatchError, /order|below/);
    }
    const now = h.log.logEndOffset;
    const overlapping = Buffer.concat([batchOf(recs, now), batchOf(recs, now + 1)]);
    await expectRefused(h, () => h.log.appendBatches(overlapping, { assignOffsets: false }), InvalidBatchError);
  });

  it('a batch over maxMessageBytes: BatchTooLargeError', async () => {
    const h = await harness({ segmentBytes: 8192, maxMessageBytes: 1024 });
    const big = batchOf(Array.from({ length: 8 }, () => ({ value: Buffer.alloc(200, 9), timestamp: 1 })));
    expect(big.length).toBeGreaterThan(1024);
    await expectRefused(h, () => h.log.appendBatches(big), BatchTooLargeError);
    await expectRefused(h, () => h.log.appendBatches(Buffer.concat([batchOf(recs), big])), BatchTooLargeError);
  });

  it('rejects non-bytes and bad options', async () => {
    const h = await harness();
    for (const bytes of ['abc', [1, 2, 3], null, undefined, 5, new Uint16Array(40), new DataView(new ArrayBuffer(70))]) {
      await expectRefused(h, () => h.log.appendBatches(bytes as unknown as Uint8Array), InvalidArgumentError);
    }
    const good = batchOf(recs);
    await expectRefused(h, () => h.log.appendBatches(good, { assignOffset: false } as never), InvalidArgumentError, /did you mean 'assignOffsets'/);
    await expectRefused(h, () => h.log.appendBatches(good, { assignOffsets: 'no' } as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.appendBatches(good, { acks: 'all' } as never), InvalidArgumentError);
    await expectRefused(h, () => h.log.appendBatches(good, 7 as never), InvalidArgumentError);
  });
});

describe('appendBatches with valid batches', () => {
  const recsA = [
    { key: 'a', value: 'one', headers: [{ key: 'h', value: 'x' }], timestamp: 100 },
    { key: null, value: null, timestamp: 90 },
    { key: 'c', value: Buffer.from([0, 1, 2]), timestamp: 120 },
  ];
  const recsB = [{ key: 'd', value: 'four', timestamp: 130 }];

  it('assignOffsets true: the log gives the offsets, the caller’s bytes are not changed', async () => {
    const h = await harness();
    const end = h.log.logEndOffset;
    const bytes = Buffer.concat([batchOf(recsA, 5000), batchOf(recsB, 17, 'lz4')]);
    const copy = Buffer.from(bytes);
    const r = await h.log.appendBatches(bytes);
    expect(r).toMatchObject({ baseOffset: end, lastOffset: end + 3 });
    expect(Buffer.compare(bytes, copy)).toBe(0);
    [...recsA, ...recsB].forEach((rec, j) => h.model.push(modelOf(rec, end + j)));
    expectRecords(h.log.readRecords(0), h.model);
    const frames = parseBatches(h.log.readBatches(end) as Buffer).batches;
    expect(frames.map((f) => [f.baseOffset, f.lastOffset, f.attributes & 7])).toEqual([
      [end, end + 2, 0],
      [end + 3, end + 3, 3],
    ]);
    // Whatever offsets were given, the stored CRCs are right (the native verifier finds nothing).
    const report = await native.verifyLog(h.dir);
    expect(report.issues).toEqual([]);
  });

  it('assignOffsets false: batches are stored byte for byte, gaps allowed', async () => {
    const h = await harness();
    const end = h.log.logEndOffset;
    const first = batchOf(recsA, end);
    const gapAt = end + 3 + 10;
    const second = batchOf(recsB, gapAt, 'lz4');
    const r = await h.log.appendBatches(Buffer.concat([first, second]), { assignOffsets: false, acks: 'durable' });
    expect(r).toMatchObject({ baseOffset: end, lastOffset: gapAt });
    expect(h.log.durableOffset).toBe(gapAt + 1);
    expect(h.log.logEndOffset).toBe(gapAt + 1);
    expect(Buffer.compare(h.log.readBatches(end) as Buffer, Buffer.concat([first, second]))).toBe(0);
    recsA.forEach((rec, j) => h.model.push(modelOf(rec, end + j)));
    h.model.push(modelOf(recsB[0], gapAt));
    expectRecords(h.log.readRecords(0), h.model);
    for (let o = end + 3; o < gapAt; o++) expect(h.log.get(o)).toBeNull();
    expectRecords([h.log.get(gapAt)], [modelOf(recsB[0], gapAt)]);
    expectRecords(h.log.readRecords(end + 5), [modelOf(recsB[0], gapAt)]);
    // Appends continue after the gap, and all of it survives a reopen.
    const next = await h.log.append(makeRecord(0));
    expect(next.baseOffset).toBe(gapAt + 1);
    h.model.push(modelOf(makeRecord(0), gapAt + 1));
    await h.log.close();
    const again = await Log.open(h.dir, BASE_OPTIONS);
    open.push(again);
    expectRecords(again.readRecords(0), h.model);
    expect(readFileSync(join(h.dir, '00000000000000000000.log')).includes(second)).toBe(true);
  });

  it('under LogAppendTime, pre-encoded batches are stamped too', async () => {
    const h = await harness({ messageTimestampType: 'LogAppendTime' });
    const before = Date.now();
    const r = await h.log.appendBatches(batchOf(recsA));
    const after = Date.now();
    expect(r.logAppendTime).toBeGreaterThanOrEqual(before);
    expect(r.logAppendTime).toBeLessThanOrEqual(after);
    const got = h.log.readRecords(r.baseOffset);
    expect(got.map((x) => x.timestamp)).toEqual([r.logAppendTime, r.logAppendTime, r.logAppendTime]);
    expect((await native.verifyLog(h.dir)).issues).toEqual([]);
  });
});
