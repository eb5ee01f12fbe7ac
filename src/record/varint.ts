/**
 * Zigzag LEB128 varints, as protobuf and Kafka's ByteUtils write them: a signed
 * value v is mapped to the unsigned (v << 1) ^ (v >> 63) (0, -1, 1, -2 -> 0, 1,
 * 2, 3), then written 7 bits at a time, low bits first, with the top bit of
 * each byte set while more bytes follow.
 *
 * varint: a 32-bit value, 1 to 5 bytes. varlong: a 64-bit value, 1 to 10 bytes.
 *
 * JavaScript representation of a varlong: a number, restricted to the safe
 * integers [-(2^53 - 1), 2^53 - 1]. The writer rejects anything else
 * (InvalidArgumentError); the reader rejects an encoded value outside that range
 * (CorruptRecordError) rather than return a rounded number. Kafka uses varlongs
 * only for timestamp deltas, which are far inside that range.
 *
 * Readers take the end of the readable range and never read past it. They
 * return the value and leave the position after it in `varintCursor.pos` (one
 * module-level cursor instead of a returned pair: no allocation per call).
 * Like Kafka's readers they accept non-minimal encodings, and drop bits above
 * bit 31 (varint) or 63 (varlong) of the last byte.
 */
import { CorruptRecordError, InvalidArgumentError } from '../errors.js';

/** Position after the varint or varlong read by the last readVarint / readVarlong call. */
export const varintCursor = { pos: 0 };

/** The zigzag encoding of a 32-bit value, as an unsigned 32-bit number. */
export function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Bytes taken by the varint of `value` (an int32). */
export function sizeOfVarint(value: number): number {
  const v = ((value << 1) ^ (value >> 31)) >>> 0;
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Bytes taken by the varlong of `value` (a safe integer). */
export function sizeOfVarlong(value: number): number {
  if ((value | 0) === value) return sizeOfVarint(value);
  // |zigzag| >= 2^32 here. The zigzag value may round in floating point above
  // 2^53, but never across a power of 128, so the count is exact.
  let z = value >= 0 ? value * 2 : -value * 2 - 1;
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    n++;
  }
  return n;
}

/** Writes the varint of `value` (an int32) at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Writes the varlong of `value` (a safe integer) at `pos`; returns the position after it. */
export function writeVarlong(buf: Uint8Array, pos: number, value: number): number {
  if ((value | 0) === value) return writeVarint(buf, pos, value);
  if (!Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`varlong: ${value} is not a safe integer`);
  }
  // zigzag(v) = 2q + s with s = 1 for negative v, q = |v| - s: both exact.
  const neg = value < 0;
  let q = neg ? -value - 1 : value;
  let b = ((q & 0x3f) << 1) | (neg ? 1 : 0); // & keeps the low bits of any safe integer
  q = Math.floor(q / 64);
  while (q > 0) {
    buf[pos++] = b | 0x80;
    b = q & 0x7f;
    q = Math.floor(q / 0x80);
  }
  buf[pos++] = b;
  return pos;
}

/** Reads the varint at `pos` (bytes before `end`); the position after it goes to varintCursor.pos. */
export function readVarint(buf: Uint8Array, pos: number, end: number): number {
  let raw = 0;
  for (let shift = 0; shift <= 28; shift += 7) {
    if (pos >= end) throw new CorruptRecordError(`varint at position ${pos} runs past the end of its data (${end})`);
    const b = buf[pos++];
    raw |= (b & 0x7f) << shift;
    if (b < 0x80) {
      varintCursor.pos = pos;
      return (raw >>> 1) ^ -(raw & 1);
    }
  }
  throw new CorruptRecordError(`varint ending at position ${pos} is longer than 5 bytes`);
}

/** Reads the varlong at `pos` (bytes before `end`); the position after it goes to varintCursor.pos. */
export function readVarlong(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw new CorruptRecordError(`varlong at position ${pos} runs past the end of its data (${end})`);
  const start = pos;
  let b = buf[pos++];
  // zigzag = 2 * half + sign: accumulate `half` (exact while below 2^53) and keep the sign bit apart.
  const sign = b & 1;
  let half = (b & 0x7f) >>> 1;
  let scale = 64;
  let n = 1;
  while (b >= 0x80) {
    if (n === 10) throw new CorruptRecordError(`varlong at position ${start} is longer than 10 bytes`);
    if (pos >= end) throw new CorruptRecordError(`varlong at position ${start} runs past the end of its data (${end})`);
    b = buf[pos++];
    n++;
    half += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  if (half > Number.MAX_SAFE_INTEGER || (sign === 1 && half === Number.MAX_SAFE_INTEGER)) {
    throw new CorruptRecordError(`varlong at position ${start} is outside the safe integer range ±(2^53 - 1)`);
  }
  varintCursor.pos = pos;
  return sign === 1 ? -half - 1 : half;
}
