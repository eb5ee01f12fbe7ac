/**
 * Damaged batches, one kind of damage at a time (as LevelDB's log_test does
 * with IncrementByte, ShrinkSize, FixChecksum): each is reported as
 * CorruptRecordError (or UnsupportedCompressionError) with a message that says
 * where and what.
 */
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, UnsupportedCompressionError } from '../../src/errors.js';
import { decodeBatch, decodeBatches, encodeBatch, iterateBatches, readBatchHeader, verifyBatchCrc } from '../../src/record/index.js';

const RECORDS = [
  { key: 'a', value: 'one', timestamp: 1000 },
  { key: 'b', value: 'two', timestamp: 1001, headers: [{ key: 'h', value: 'v' }] },
];

function batch(): Buffer {
  return encodeBatch(RECORDS, { baseOffset: 40 });
}

function message(fn: () => unknown, cls: new (...args: never[]) => Error = CorruptRecordError): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    return (err as Error).message;
  }
  throw new Error('expected a throw');
}

// Record 0 starts at 61: length (1 byte), attributes, timestampDelta, offsetDelta, keyLength at 65.
const RECORD0_KEY_LENGTH = 65;

describe('damaged batches', () => {
  it('fewer than 61 bytes', () => {
    expect(message(() => readBatchHeader(batch().subarray(0, 60)))).toBe(
      'batch at position 0: 60 bytes left, fewer than the 61-byte header',
    );
    expect(message(() => decodeBatches(Buffer.concat([batch(), batch().subarray(0, 30)])))).toMatch(
      /^batch at position \d+: 30 bytes left, fewer than the 61-byte header$/,
    );
  });

  it('a magic byte other than 2', () => {
    const b = batch();
    b[16] = 1;
    expect(message(() => readBatchHeader(b))).toBe('batch at position 0: magic 1, expected 2 (only RecordBatch v2 is supported)');
    expect(message(() => decodeBatch(b))).toMatch(/magic 1/);
  });

  it('a batchLength too small for a header, or longer than the bytes', () => {
    const b = batch();
    b.writeInt32BE(48, 8);
    expect(message(() => readBatchHeader(b))).toBe('batch at position 0: batchLength 48 is below the minimum 49');
    const c = batch();
    expect(message(() => decodeBatch(c.subarray(0, c.length - 1)))).toBe(
      `batch at position 0 is ${c.length} bytes long but only ${c.length - 1} bytes are there`,
    );
    expect(message(() => [...iterateBatches(Buffer.concat([c, c.subarray(0, c.length - 1)]))])).toMatch(
      new RegExp(`^batch at position ${c.length} is ${c.length} bytes long`),
    );
    expect(message(() => verifyBatchCrc(c.subarray(0, 70)))).toMatch(/bytes long but only 70/);
  });

  it('a base offset beyond 2^53', () => {
    const b = batch();
    b.writeBigInt64BE(2n ** 60n, 0);
    expect(message(() => readBatchHeader(b))).toMatch(/baseOffset .* is outside \[0, 2\^53 - 1\]/);
    b.writeBigInt64BE(-1n, 0);
    expect(message(() => decodeBatch(b))).toMatch(/baseOffset -1 is outside/);
  });

  it('more records declared than present, or bytes left after them', () => {
    const b = batch();
    b.writeInt32BE(3, 57);
    expect(message(() => decodeBatch(b))).toMatch(/^batch at position 0 \(base offset 40\): record 2: missing: the batch declares 3 records/);
    const c = batch();
    c.writeInt32BE(1, 57);
    expect(message(() => decodeBatch(c))).toMatch(/the batch declares 1 records but \d+ bytes remain after them/);
    const d = batch();
    d.writeInt32BE(-1, 57);
    expect(message(() => decodeBatch(d))).toMatch(/records count -1 is negative/);
  });

  it('a record whose key length is invalid or runs past the record', () => {
    const b = batch();
    b[RECORD0_KEY_LENGTH] = 0x03; // -2
    expect(message(() => decodeBatch(b))).toBe('batch at position 0 (base offset 40): record 0: key length -2 is invalid');
    const c = batch();
    c[RECORD0_KEY_LENGTH] = 0x40; // 32
    expect(message(() => decodeBatch(c))).toMatch(/record 0: key length 32 runs past the record's end/);
  });

  it('a record whose fields do not fill its declared length', () => {
    const b = batch();
    b[61] += 2; // record 0's length + 1
    expect(message(() => decodeBatch(b))).toMatch(/record 0: /);
  });

  it('an incremented byte anywhere in the records: CRC fails, decoding fails or decodes other bytes', () => {
    const good = batch();
    for (let i = 61; i < good.length; i++) {
      const b = Buffer.from(good);
      b[i] = (b[i] + 1) & 0xff;
      expect(verifyBatchCrc(b)).toBe(false);
      try {
        const out = decodeBatch(b);
        expect(out.length).toBeLessThanOrEqual(2);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptRecordError);
      }
    }
  });

  it('codecs: gzip, snappy and zstd unsupported; 5-7 unknown', () => {
    for (const [codec, name] of [
      [1, 'gzip'],
      [2, 'snappy'],
      [4, 'zstd'],
    ] as const) {
      const b = batch();
      b.writeInt16BE(codec, 21);
      expect(message(() => decodeBatch(b), UnsupportedCompressionError)).toBe(
        `batch at position 0 (base offset 40) is compressed with ${name} (codec ${codec}); tidelog reads only uncompressed and lz4 batches`,
      );
    }
    const b = batch();
    b.writeInt16BE(6, 21);
    expect(message(() => decodeBatch(b))).toBe('batch at position 0 (base offset 40): unknown compression codec 6');
  });

  it('an lz4 batch whose frame is damaged names the batch and the frame', () => {
    const b = encodeBatch(RECORDS, { compression: 'lz4', baseOffset: 7 });
    b[61] = 0;
    expect(message(() => decodeBatch(b))).toBe('batch at position 0 (base offset 7): LZ4 frame: magic 00224d18 is not 04224d18');
  });

  it('decodeBatch decodes the first batch and ignores what follows; decodeBatches decodes all', () => {
    const two = Buffer.concat([batch(), encodeBatch(RECORDS, { baseOffset: 42 })]);
    expect(decodeBatch(two).map((r) => r.offset)).toEqual([40, 41]);
    expect(decodeBatches(two).map((r) => r.offset)).toEqual([40, 41, 42, 43]);
    expect(decodeBatches(two, [], 41).map((r) => r.offset)).toEqual([41, 42, 43]);
    expect(decodeBatches(two, [], 43).map((r) => r.offset)).toEqual([43]);
    expect(decodeBatches(two, [], 44)).toEqual([]);
    expect(decodeBatches(two, [], 0, 3).map((r) => r.offset)).toEqual([40, 41, 42]);
    expect(decodeBatches(two, [], 0, 0)).toEqual([]);
    expect(decodeBatches(Buffer.alloc(0))).toEqual([]);
  });
});
