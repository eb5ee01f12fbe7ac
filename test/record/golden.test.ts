/**
 * Golden bytes: batches written out by hand from the format (docs/format.md),
 * field by field, compared with what the encoder produces. The CRCs are
 * checked with a bitwise CRC-32C written here, independent of the native one.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { decodeBatch, encodeBatch, readBatchHeader, verifyBatchCrc } from '../../src/record/index.js';

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Hex with spaces, comments (// to end of line) and newlines removed. */
function hex(text: string): Buffer {
  return Buffer.from(
    text
      .split('\n')
      .map((line) => line.replace(/\/\/.*$/, ''))
      .join('')
      .replace(/\s+/g, ''),
    'hex',
  );
}

const RECORDS = [
  { key: 'k1', value: 'v1', headers: [{ key: 'h', value: 'x' }], timestamp: 1_700_000_000_000 },
  // An earlier timestamp than the first record's: a negative delta.
  { key: null, value: Buffer.from([0xde, 0xad]), timestamp: 1_699_999_999_999 },
];

// The records region, shared by the uncompressed and the LZ4 batch.
const RECORDS_HEX = `
  1c                       // record 0 length: varint 14 (zigzag 28)
    00                     //   attributes
    00                     //   timestampDelta: varlong 0
    00                     //   offsetDelta: varint 0
    04 6b 31               //   keyLength 2 ("k1")
    04 76 31               //   valueLength 2 ("v1")
    02                     //   headersCount 1
      02 68                //     header keyLength 1 ("h")
      02 78                //     header valueLength 1 ("x")
  10                       // record 1 length: varint 8 (zigzag 16)
    00                     //   attributes
    01                     //   timestampDelta: varlong -1 (zigzag 1)
    02                     //   offsetDelta: varint 1 (zigzag 2)
    01                     //   keyLength -1: null
    04 de ad               //   valueLength 2
    00                     //   headersCount 0
`;

function header(batchLength: string, crc: string, attributes: string): string {
  return `
  00 00 00 00 00 00 00 00  // baseOffset 0
  ${batchLength}           // batchLength: bytes after this field
  ff ff ff ff              // partitionLeaderEpoch -1
  02                       // magic 2
  ${crc}                   // crc: CRC-32C of attributes .. end
  ${attributes}            // attributes
  00 00 00 01              // lastOffsetDelta 1
  00 00 01 8b cf e5 68 00  // baseTimestamp 1700000000000 (0x18bcfe56800): the first record's
  00 00 01 8b cf e5 68 00  // maxTimestamp 1700000000000
  ff ff ff ff ff ff ff ff  // producerId -1
  ff ff                    // producerEpoch -1
  ff ff ff ff              // baseSequence -1
  00 00 00 02              // recordsCount 2
`;
}

// 61 + 24 bytes: batchLength 85 - 12 = 73.
const GOLDEN_PLAIN = hex(header('00 00 00 49', 'c0 7e 17 01', '00 00') + RECORDS_HEX);

// The records region as one LZ4 frame, as Kafka writes it. LZ4 cannot shrink
// 24 bytes, so the block is stored: 61 + 7 + 4 + 24 + 4 = 100 bytes, batchLength 88.
const GOLDEN_LZ4 = hex(
  header('00 00 00 58', '93 21 72 fc', '00 03             // codec 3: lz4') +
    `
  04 22 4d 18              // LZ4 frame magic 0x184D2204, little-endian
  60                       // FLG: version 01, independent blocks, no checksums, no content size
  40                       // BD: maximum block size 64 KiB
  82                       // HC: (xxhash32(60 40) >> 8) & 0xff
  18 00 00 80              // block size 24, top bit set: stored uncompressed
` +
    RECORDS_HEX +
    `
  00 00 00 00              // end mark
`,
);

describe('golden bytes', () => {
  it('the hand-written batches have the CRC-32C a bitwise implementation computes', () => {
    expect(GOLDEN_PLAIN.length).toBe(85);
    expect(GOLDEN_LZ4.length).toBe(100);
    expect(crc32cBitwise(GOLDEN_PLAIN.subarray(21))).toBe(GOLDEN_PLAIN.readUInt32BE(17));
    expect(crc32cBitwise(GOLDEN_LZ4.subarray(21))).toBe(GOLDEN_LZ4.readUInt32BE(17));
  });

  it('encodeBatch writes exactly the hand-written uncompressed batch', () => {
    expect(encodeBatch(RECORDS).toString('hex')).toBe(GOLDEN_PLAIN.toString('hex'));
  });

  it('encodeBatch writes exactly the hand-written LZ4 batch', () => {
    expect(encodeBatch(RECORDS, { compression: 'lz4' }).toString('hex')).toBe(GOLDEN_LZ4.toString('hex'));
  });

  it('computeCrc: false leaves the CRC field 0 and changes nothing else', () => {
    const expected = Buffer.from(GOLDEN_PLAIN);
    expected.writeUInt32BE(0, 17);
    expect(encodeBatch(RECORDS, { computeCrc: false }).toString('hex')).toBe(expected.toString('hex'));
  });

  it('decodes the golden batches back into the records', () => {
    for (const batch of [GOLDEN_PLAIN, GOLDEN_LZ4]) {
      expect(verifyBatchCrc(batch)).toBe(true);
      const h = readBatchHeader(batch);
      expect(h).toMatchObject({ baseOffset: 0, batchLength: batch.length - 12, recordsCount: 2, lastOffsetDelta: 1 });
      expect(decodeBatch(batch)).toEqual([
        {
          offset: 0,
          timestamp: 1_700_000_000_000,
          key: Buffer.from('k1'),
          value: Buffer.from('v1'),
          headers: [{ key: 'h', value: Buffer.from('x') }],
        },
        { offset: 1, timestamp: 1_699_999_999_999, key: null, value: Buffer.from([0xde, 0xad]), headers: [] },
      ]);
    }
  });
});

describe('native CRC-32C', () => {
  it('has the standard check value', () => {
    expect(native.crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32cBitwise(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(native.crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('portable, hardware and default paths agree with the bitwise CRC on many lengths and alignments', () => {
    const hardware = native.crc32cHardware(Buffer.alloc(1));
    const big = randomBytes(4096 + 64);
    for (let len = 0; len <= 300; len++) {
      for (const offset of [0, 1, 3, 7]) {
        const bytes = big.subarray(offset, offset + len);
        const want = crc32cBitwise(bytes);
        expect(native.crc32c(bytes)).toBe(want);
        expect(native.crc32cPortable(bytes)).toBe(want);
        if (hardware !== null) expect(native.crc32cHardware(bytes)).toBe(want);
      }
    }
    for (const len of [1023, 1024, 1025, 4096]) {
      const bytes = big.subarray(5, 5 + len);
      const want = crc32cBitwise(bytes);
      expect(native.crc32c(bytes)).toBe(want);
      expect(native.crc32cPortable(bytes)).toBe(want);
      if (hardware !== null) expect(native.crc32cHardware(bytes)).toBe(want);
    }
  });

  it('continues from an initial value: crc(a + b) = crc(b, crc(a))', () => {
    const data = randomBytes(1000);
    for (const cut of [0, 1, 8, 33, 999, 1000]) {
      const whole = native.crc32c(data);
      expect(native.crc32c(data.subarray(cut), native.crc32c(data.subarray(0, cut)))).toBe(whole);
      expect(native.crc32cPortable(data.subarray(cut), native.crc32cPortable(data.subarray(0, cut)))).toBe(whole);
    }
  });
});
