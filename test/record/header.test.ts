/**
 * writeBatchHeader stores the 61 header bytes itself (no Buffer.write*BE calls):
 * every field, at its extremes, must come out as Buffer's own big-endian writers
 * (which check their ranges) would write it, and nothing outside the header may
 * change.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LEADER_EPOCH_OFFSET,
  LENGTH_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
} from '../../src/record/format.js';
import { type BatchHeaderFields, writeBatchHeader } from '../../src/record/write.js';

const INT32_MAX = 2 ** 31 - 1;

/** The header as Buffer's checked writers put it. */
function reference(buf: Buffer, start: number, end: number, h: BatchHeaderFields): void {
  buf.writeBigInt64BE(BigInt(h.baseOffset), start + BASE_OFFSET_OFFSET);
  buf.writeInt32BE(end - start - 12, start + LENGTH_OFFSET);
  buf.writeInt32BE(h.partitionLeaderEpoch, start + LEADER_EPOCH_OFFSET);
  buf.writeInt8(2, start + MAGIC_OFFSET);
  buf.writeUInt32BE(0, start + CRC_OFFSET);
  buf.writeInt16BE(h.attributes, start + ATTRIBUTES_OFFSET);
  buf.writeInt32BE(h.count - 1, start + LAST_OFFSET_DELTA_OFFSET);
  buf.writeBigInt64BE(BigInt(h.baseTimestamp), start + BASE_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(h.maxTimestamp), start + MAX_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(h.producerId), start + PRODUCER_ID_OFFSET);
  buf.writeInt16BE(h.producerEpoch, start + PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(h.baseSequence, start + BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(h.count, start + RECORDS_COUNT_OFFSET);
}

const safe = fc.oneof(fc.constantFrom(-1, 0, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER), fc.maxSafeInteger());
const i32 = fc.oneof(fc.constantFrom(-1, 0, INT32_MAX, -(2 ** 31)), fc.integer({ min: -(2 ** 31), max: INT32_MAX }));
const fields: fc.Arbitrary<BatchHeaderFields> = fc.record({
  baseOffset: fc.oneof(fc.constantFrom(0, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
  partitionLeaderEpoch: i32,
  attributes: fc.integer({ min: 0, max: 0x7fff }),
  count: fc.integer({ min: 1, max: INT32_MAX }),
  baseTimestamp: safe,
  maxTimestamp: safe,
  producerId: safe,
  producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
  baseSequence: i32,
});

describe('writeBatchHeader', () => {
  it("writes every field as Buffer's checked big-endian writers do, and only the header", () => {
    fc.assert(
      fc.property(fields, fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 4096 }), (h, start, records) => {
        const end = start + RECORDS_OFFSET + records;
        const fill = (b: Buffer): Buffer => b.fill(0xa5);
        const got = fill(Buffer.alloc(end + 16));
        const want = fill(Buffer.alloc(end + 16));
        writeBatchHeader(got, start, end, h);
        reference(want, start, end, h);
        expect(got.equals(want)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a range that is not a whole header inside the buffer, before writing anything', () => {
    const h: BatchHeaderFields = {
      baseOffset: 0, partitionLeaderEpoch: -1, attributes: 0, count: 1,
      baseTimestamp: 0, maxTimestamp: 0, producerId: -1, producerEpoch: -1, baseSequence: -1,
    };
    const buf = Buffer.alloc(100, 7);
    expect(() => writeBatchHeader(buf, 0, RECORDS_OFFSET - 1, h)).toThrow(RangeError);
    expect(() => writeBatchHeader(buf, 50, 50 + RECORDS_OFFSET, h)).toThrow(RangeError);
    expect(() => writeBatchHeader(buf, -1, RECORDS_OFFSET, h)).toThrow(RangeError);
    expect(buf.equals(Buffer.alloc(100, 7))).toBe(true);
  });
});
