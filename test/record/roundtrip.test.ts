/**
 * Property tests: random records -> encode -> decode gives back the records,
 * with and without LZ4, through every decoder.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchEncoder,
  decodeBatch,
  decodeBatches,
  decodeRecordBody,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from '../../src/record/index.js';
import type { Bytes, LogRecord, ProducerRecord } from '../../src/record/types.js';
import { resolveEncodeOptions } from '../../src/record/encode.js';
import { readVarint, varintCursor } from '../../src/record/varint.js';

const NOW = 1_700_000_000_000;

const binary = fc.uint8Array({ maxLength: 200 });
const bytesArb: fc.Arbitrary<Bytes> = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  binary.map((u) => Buffer.from(u)),
  binary, // a plain Uint8Array, not a Buffer
  binary.map((u) => Buffer.from(u).subarray(Math.min(1, u.length))), // a view at an offset
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }), // any code point, lone surrogates included
);
const headerKey = fc.oneof(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 5 }));
const headersArb = fc.oneof(
  fc.constant(undefined),
  fc.array(fc.record({ key: headerKey, value: bytesArb }), { maxLength: 4 }),
  fc.dictionary(headerKey, bytesArb, { maxKeys: 4 }),
);
const timestampArb = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: NOW - 10_000, max: NOW + 10_000 }), // deltas of both signs around the first record's
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const recordArb: fc.Arbitrary<ProducerRecord> = fc
  .record({
    key: fc.oneof(bytesArb, fc.constant(undefined)),
    value: bytesArb,
    headers: headersArb,
    timestamp: timestampArb,
  })
  .map((r) => {
    const out: ProducerRecord = { value: r.value };
    if (r.key !== undefined) out.key = r.key;
    if (r.headers !== undefined) out.headers = r.headers;
    if (r.timestamp !== undefined) out.timestamp = r.timestamp;
    return out;
  });
const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 20 });

function toBuffer(b: Bytes | undefined): Buffer | null {
  if (b === null || b === undefined) return null;
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
}

/** What decoding must give back for `records` encoded at `baseOffset` with `now`. */
function expected(records: readonly ProducerRecord[], baseOffset: number, now = NOW): LogRecord[] {
  return records.map((r, i) => {
    const h = r.headers;
    const headers =
      h === undefined
        ? []
        : Array.isArray(h)
          ? h.map((x: { key: string; value: Bytes }) => ({ key: x.key, value: toBuffer(x.value) }))
          : Object.entries(h as Record<string, Bytes>).map(([key, value]) => ({ key, value: toBuffer(value) }));
    return {
      offset: baseOffset + i,
      timestamp: r.timestamp ?? now,
      key: toBuffer(r.key),
      value: toBuffer(r.value),
      headers,
    };
  });
}

/** The bodies of an uncompressed batch's records, as the log's getRecord puts them in its scratch buffer. */
function recordBodies(batch: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 61;
  while (p < batch.length) {
    const len = readVarint(batch, p, batch.length);
    p = varintCursor.pos;
    out.push(batch.subarray(p, p + len));
    p += len;
  }
  return out;
}

const compressionArb = fc.constantFrom('none' as const, 'lz4' as const);

describe('round trip', () => {
  it('encodeBatch -> decodeBatch gives back the records (none and lz4)', () => {
    fc.assert(
      fc.property(recordsArb, compressionArb, fc.integer({ min: 0, max: 2 ** 48 }), (records, compression, baseOffset) => {
        const batch = encodeBatch(records, { compression, baseOffset, now: NOW });
        expect(verifyBatchCrc(batch)).toBe(true);
        const h = readBatchHeader(batch);
        expect(h.batchLength).toBe(batch.length - 12);
        expect(h.recordsCount).toBe(records.length);
        expect(h.lastOffsetDelta).toBe(records.length - 1);
        expect(h.compression).toBe(compression === 'lz4' ? 3 : 0);
        const want = expected(records, baseOffset);
        expect(h.baseTimestamp).toBe(want[0].timestamp);
        expect(h.maxTimestamp).toBe(Math.max(...want.map((r) => r.timestamp)));
        expect(decodeBatch(batch)).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it('BatchEncoder gives the same bytes as encodeBatch, batch after batch (its buffer reused and grown)', () => {
    const enc = new BatchEncoder(64);
    fc.assert(
      fc.property(recordsArb, compressionArb, fc.boolean(), (records, compression, computeCrc) => {
        const options = { compression, now: NOW, computeCrc, baseOffset: 7 };
        const view = enc.encode(records, options);
        expect(view.toString('hex')).toBe(encodeBatch(records, options).toString('hex'));
      }),
      { numRuns: 200 },
    );
  });

  it('BatchEncoder.encodeAt builds batches back to back, each as encodeBatch makes it (the buffer grown, earlier batches kept)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(recordsArb, compressionArb), { minLength: 1, maxLength: 6 }), (batches) => {
        const enc = new BatchEncoder(64);
        const want: Buffer[] = [];
        let at = 0;
        for (const [records, compression] of batches) {
          const options = { compression, now: NOW, computeCrc: false };
          const end = enc.encodeAt(records, resolveEncodeOptions(options), at);
          want.push(encodeBatch(records, options));
          expect(end - at).toBe(want[want.length - 1].length);
          at = end;
        }
        expect(enc.buffer.subarray(0, at).toString('hex')).toBe(Buffer.concat(want).toString('hex'));
      }),
      { numRuns: 100 },
    );
  });

  it('decodeBatches over consecutive batches honours fromOffset and maxRecords', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(recordsArb, compressionArb), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.nat(),
        (batches, fromSeed, maxSeed) => {
          let offset = 100;
          const parts: Buffer[] = [];
          const all: LogRecord[] = [];
          for (const [records, compression] of batches) {
            parts.push(encodeBatch(records, { compression, baseOffset: offset, now: NOW }));
            all.push(...expected(records, offset));
            offset += records.length;
          }
          const buf = Buffer.concat(parts);
          expect(decodeBatches(buf)).toEqual(all);
          expect([...iterateBatches(buf)].map((b) => b.header.baseOffset)).toEqual(
            parts.map((p) => readBatchHeader(p).baseOffset),
          );
          const from = 100 + (fromSeed % (all.length + 2));
          const max = 1 + (maxSeed % (all.length + 1));
          const tail = all.filter((r) => r.offset >= from);
          expect(decodeBatches(buf, [], from)).toEqual(tail);
          expect(decodeBatches(buf, [], from, max)).toEqual(tail.slice(0, max));
          // `into` already holding records: maxRecords caps its length.
          const into = decodeBatches(buf, [], 0, 1);
          expect(decodeBatches(buf, into, from, max + 1)).toEqual([all[0], ...tail.slice(0, max)]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('decodeRecordBody decodes each record from a scratch buffer, copying its bytes', () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 0, max: 2 ** 40 }), (records, baseOffset) => {
        const batch = encodeBatch(records, { baseOffset, now: NOW });
        const want = expected(records, baseOffset);
        const scratch = Buffer.alloc(64 * 1024);
        batch.copy(scratch, 0, 0, 61);
        recordBodies(batch).forEach((body, i) => {
          body.copy(scratch, 61);
          const got = decodeRecordBody(scratch, body.length);
          expect(got).toEqual(want[i]);
          scratch.fill(0xee, 61, 61 + body.length); // the next read reuses the scratch buffer
          expect(got).toEqual(want[i]);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('zero-copy: decodeBatch keys and values are views of the input', () => {
    const batch = encodeBatch([{ key: 'key', value: 'value', headers: [{ key: 'h', value: 'hv' }] }], { now: NOW });
    const [rec] = decodeBatch(batch);
    expect(rec.key?.buffer).toBe(batch.buffer);
    expect(rec.value?.buffer).toBe(batch.buffer);
    expect(rec.headers[0].value?.buffer).toBe(batch.buffer);
    batch[batch.indexOf('value')] = 0x56; // 'V'
    expect(rec.value?.toString()).toBe('Value');
    expect(Buffer.isBuffer(rec.key)).toBe(true);
  });

  it('records without a timestamp get `now`, or the clock when `now` is not given', () => {
    const before = Date.now();
    const [a] = decodeBatch(encodeBatch([{ value: 'x' }]));
    expect(a.timestamp).toBeGreaterThanOrEqual(before);
    expect(a.timestamp).toBeLessThanOrEqual(Date.now());
    const [b] = decodeBatch(encodeBatch([{ value: 'x' }], { now: 42 }));
    expect(b.timestamp).toBe(42);
  });

  it('header fields: producer, epochs, sequence, transactional flag', () => {
    const batch = encodeBatch([{ value: 'x', timestamp: 5 }], {
      baseOffset: 2 ** 40,
      producerId: 2 ** 50,
      producerEpoch: 32767,
      baseSequence: 2 ** 31 - 1,
      partitionLeaderEpoch: 12,
      transactional: true,
    });
    expect(readBatchHeader(batch)).toMatchObject({
      baseOffset: 2 ** 40,
      producerId: 2 ** 50,
      producerEpoch: 32767,
      baseSequence: 2 ** 31 - 1,
      partitionLeaderEpoch: 12,
      isTransactional: true,
      isControl: false,
      attributes: 0x10,
      timestampType: 'CreateTime',
    });
    expect(decodeBatch(batch)).toEqual([{ offset: 2 ** 40, timestamp: 5, key: null, value: Buffer.from('x'), headers: [] }]);
  });

  it('LogAppendTime batches give every record the batch maxTimestamp', () => {
    const batch = encodeBatch(
      [
        { value: 'a', timestamp: 10 },
        { value: 'b', timestamp: 20 },
      ],
      { computeCrc: false },
    );
    batch.writeInt16BE(0x08, 21); // timestamp type: LogAppendTime, as the log's append sets it
    batch.writeBigInt64BE(99n, 35); // maxTimestamp = the append time
    expect(readBatchHeader(batch).timestampType).toBe('LogAppendTime');
    expect(decodeBatch(batch).map((r) => r.timestamp)).toEqual([99, 99]);
    const scratch = Buffer.alloc(256);
    batch.copy(scratch, 0, 0, 61);
    const body = recordBodies(batch)[1];
    body.copy(scratch, 61);
    expect(decodeRecordBody(scratch, body.length)).toMatchObject({ offset: 1, timestamp: 99 });
  });

  it('control batches are skipped by decodeBatch and decodeBatches', () => {
    const control = encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }], {
      control: true,
      transactional: true,
      baseOffset: 5,
      now: NOW,
    });
    expect(readBatchHeader(control)).toMatchObject({ isControl: true, isTransactional: true, attributes: 0x30 });
    expect(decodeBatch(control)).toEqual([]);
    const data = encodeBatch([{ value: 'after' }], { baseOffset: 6, now: NOW });
    expect(decodeBatches(Buffer.concat([control, data])).map((r) => r.offset)).toEqual([6]);
  });

  it('a large batch (10,000 records, 1 MiB of values) round-trips with and without LZ4', () => {
    const records = Array.from({ length: 10_000 }, (_, i) => ({
      key: `key-${i % 100}`,
      value: Buffer.alloc(100, i % 251),
      timestamp: NOW + (i % 7) - 3,
    }));
    for (const compression of ['none', 'lz4'] as const) {
      const batch = encodeBatch(records, { compression, now: NOW, maxRecordBytes: 0 });
      if (compression === 'lz4') {
        expect(batch.length).toBeLessThan(200_000);
        // more than one 64 KiB block, each independent
        expect(batch.subarray(61, 68).toString('hex')).toBe('04224d18604082');
      }
      const flat = (rs: LogRecord[]) =>
        rs.map((r) => `${r.offset} ${r.timestamp} ${r.key?.toString('hex')} ${r.value?.toString('hex')} ${r.headers.length}`);
      expect(flat(decodeBatch(batch))).toEqual(flat(expected(records, 0)));
    }
  });
});
