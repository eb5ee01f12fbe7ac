/**
 * Zigzag LEB128 varints and varlongs, checked against a BigInt reference
 * implementation written here from the protobuf definition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, InvalidArgumentError } from '../../src/errors.js';
import {
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  varintCursor,
  writeVarint,
  writeVarlong,
  zigzag32,
} from '../../src/record/varint.js';

/** Reference: zigzag of a 64-bit value, then LEB128, with BigInt. */
function referenceVarlong(value: bigint): Buffer {
  let z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

function varint(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function varlong(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, value));
}

const INT32_BOUNDARIES = [
  0, 1, -1, 2, -2, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 2 ** 20 - 1, -(2 ** 20), 2 ** 27, -(2 ** 27) - 1,
  2 ** 31 - 1, -(2 ** 31),
];

const SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const VARLONG_BOUNDARIES = [
  ...INT32_BOUNDARIES,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32 - 1,
  2 ** 32,
  -(2 ** 32),
  2 ** 35 - 1,
  2 ** 42,
  -(2 ** 49),
  2 ** 52,
  SAFE - 1,
  SAFE,
  -SAFE,
  -SAFE + 1,
  1_700_000_000_000,
  -1_700_000_000_000,
];

describe('varint (32-bit)', () => {
  it('writes the protobuf bytes', () => {
    expect(varint(0).toString('hex')).toBe('00');
    expect(varint(-1).toString('hex')).toBe('01');
    expect(varint(1).toString('hex')).toBe('02');
    expect(varint(63).toString('hex')).toBe('7e');
    expect(varint(-64).toString('hex')).toBe('7f');
    expect(varint(64).toString('hex')).toBe('8001');
    expect(varint(2 ** 31 - 1).toString('hex')).toBe('feffffff0f');
    expect(varint(-(2 ** 31)).toString('hex')).toBe('ffffffff0f');
    expect(zigzag32(-(2 ** 31))).toBe(2 ** 32 - 1);
  });

  it('round-trips the boundaries and any int32, and sizeOfVarint matches', () => {
    const check = (v: number) => {
      const bytes = varint(v);
      expect(bytes.toString('hex')).toBe(referenceVarlong(BigInt(v)).toString('hex'));
      expect(sizeOfVarint(v)).toBe(bytes.length);
      const padded = Buffer.concat([Buffer.from([0xaa]), bytes, Buffer.from([0xbb])]);
      expect(readVarint(padded, 1, padded.length)).toBe(v);
      expect(varintCursor.pos).toBe(1 + bytes.length);
    };
    for (const v of INT32_BOUNDARIES) check(v);
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => check(v)), { numRuns: 2000 });
  });

  it('accepts non-minimal encodings, as Kafka does', () => {
    expect(readVarint(Buffer.from([0x80, 0x00]), 0, 2)).toBe(0);
    expect(readVarint(Buffer.from([0x82, 0x80, 0x00]), 0, 3)).toBe(1);
  });

  it('rejects a varint longer than 5 bytes or cut short, never reading past `end`', () => {
    expect(() => readVarint(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 0, 6)).toThrow(CorruptRecordError);
    expect(() => readVarint(Buffer.from([0x80, 0x80]), 0, 2)).toThrow(CorruptRecordError);
    expect(() => readVarint(Buffer.from([0x80, 0x00]), 0, 1)).toThrow(/runs past the end/);
    expect(() => readVarint(Buffer.from([]), 0, 0)).toThrow(CorruptRecordError);
  });
});

describe('varlong (64-bit, as JS numbers: the safe integers)', () => {
  it('writes the protobuf bytes for the boundaries, and round-trips them', () => {
    for (const v of VARLONG_BOUNDARIES) {
      const bytes = varlong(v);
      expect(bytes.toString('hex'), `value ${v}`).toBe(referenceVarlong(BigInt(v)).toString('hex'));
      expect(sizeOfVarlong(v), `value ${v}`).toBe(bytes.length);
      expect(readVarlong(bytes, 0, bytes.length), `value ${v}`).toBe(v);
      expect(varintCursor.pos).toBe(bytes.length);
    }
  });

  it('round-trips any safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const bytes = varlong(v);
        expect(bytes.equals(referenceVarlong(BigInt(v)))).toBe(true);
        expect(sizeOfVarlong(v)).toBe(bytes.length);
        expect(readVarlong(bytes, 0, bytes.length)).toBe(v);
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes any valid 64-bit varlong in the safe range, and rejects the rest', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const bytes = referenceVarlong(v);
        if (v >= -BigInt(SAFE) && v <= BigInt(SAFE)) {
          expect(readVarlong(bytes, 0, bytes.length)).toBe(Number(v));
        } else {
          expect(() => readVarlong(bytes, 0, bytes.length)).toThrow(CorruptRecordError);
        }
      }),
      { numRuns: 5000 },
    );
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      const bytes = referenceVarlong(v);
      expect(() => readVarlong(bytes, 0, bytes.length)).toThrow(/safe integer range/);
    }
  });

  it('rejects a varlong longer than 10 bytes or cut short', () => {
    const eleven = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    expect(() => readVarlong(eleven, 0, eleven.length)).toThrow(/longer than 10 bytes/);
    expect(() => readVarlong(Buffer.from([0xff, 0xff]), 0, 2)).toThrow(/runs past the end/);
    expect(() => readVarlong(Buffer.from([]), 0, 0)).toThrow(CorruptRecordError);
  });

  it('refuses to write a number that is not a safe integer', () => {
    const buf = Buffer.alloc(16);
    for (const v of [2 ** 53, -(2 ** 53), 1e300, 0.5 + 2 ** 40, 1.5, -0.25, Number.NaN, Infinity]) {
      expect(() => writeVarlong(buf, 0, v)).toThrow(InvalidArgumentError);
    }
  });
});
