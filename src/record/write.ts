/**
 * The second pass of encoding: writes records measured by measureRecords
 * (src/record/measure.ts) into a buffer, and the 61-byte batch header.
 *
 * The caller guarantees room: at least RecordsMeasure.boundOf(...) bytes
 * after `pos` (typed-array stores past the end would be dropped silently).
 *
 * Keys, values and headers come from the references the first pass kept
 * (each was read once from its record): no code of the caller's runs here. A
 * Uint8Array must still have its measured length (a getter run by the first
 * pass after it was measured may have resized or transferred its ArrayBuffer):
 * else the call fails with "record i: value changed while the batch was being
 * encoded" and the caller discards what it wrote. An ASCII string (its UTF-8 length equals its
 * length) of up to 32 chars is copied by a JS loop, which on the dev box
 * writes a 16-char key in 90 ns against 160 ns for Buffer#utf8Write (median
 * of 5 loops over 1 M hot keys); the loop checks every char is still ASCII.
 */
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LEADER_EPOCH_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
} from './format.js';
import { type RecordsMeasure, changedError } from './measure.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

/**
 * Buffer#utf8Write / #latin1Write: what Buffer#write calls once it has parsed
 * its arguments (undocumented, present since Node 0.x).
 */
interface NodeBuffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
}

const TWO_32 = 2 ** 32;
/** Longest ASCII string copied by the JS loop rather than utf8Write. */
const ASCII_LOOP_MAX = 32;

const changed = changedError;

/** Writes a string of `len` UTF-8 bytes at `pos` (after its length varint); returns the position after it or -1 if it changed. */
function writeString(buf: Buffer, pos: number, s: string, len: number): number {
  const n = s.length;
  if (n === len && n <= ASCII_LOOP_MAX) {
    let or = 0;
    for (let j = 0; j < n; j++) {
      const c = s.charCodeAt(j);
      or |= c;
      buf[pos + j] = c;
    }
    return or < 0x80 ? pos + n : -1;
  }
  // A string has at most as many UTF-16 units as UTF-8 bytes: a longer one changed.
  if (n > len || (len > 0 && (buf as NodeBuffer).utf8Write(s, pos, len) !== len)) return -1;
  return pos + len;
}

/** Writes a header key or value measured as `len` bytes; returns the position after it. */
function writeHeaderBytes(buf: Buffer, pos: number, value: unknown, len: number, i: number, single: boolean, field: string): number {
  if (len < 0) {
    buf[pos] = 1; // varint -1
    return pos + 1;
  }
  pos = writeVarint(buf, pos, len);
  if (typeof value === 'string') {
    const end = writeString(buf, pos, value, len);
    if (end < 0) throw changed(i, single, field);
    return end;
  }
  if (value instanceof Uint8Array && value.length === len) {
    buf.set(value, pos);
    return pos + len;
  }
  throw changed(i, single, field);
}

/** Writes the headers of record i from the references and lengths its measure kept. */
function writeHeaders(buf: Buffer, pos: number, m: RecordsMeasure, i: number, single: boolean): number {
  const count = m.rec[4 * i + 3];
  const hdr = m.hdr;
  const hk = m.headerKeys;
  const hv = m.headerValues;
  const slot = m.hslot[i];
  for (let h = 0; h < count; h++) {
    const j = slot + h;
    pos = writeHeaderBytes(buf, pos, hk[j], hdr[2 * j], i, single, `headers[${h}].key`);
    pos = writeHeaderBytes(buf, pos, hv[j], hdr[2 * j + 1], i, single, `headers[${h}].value`);
  }
  return pos;
}

/**
 * Writes records [from, to) measured into `m` (or, when `idx` is given, records
 * idx[from], ..., idx[to - 1]) at `pos`, with offset deltas firstOffsetDelta, firstOffsetDelta + 1,
 * ... and timestamp deltas from `baseTimestamp`. Returns the position after
 * them. Nothing is allocated.
 */
export function writeRecords(
  buf: Buffer,
  pos: number,
  m: RecordsMeasure,
  idx: ArrayLike<number> | null,
  from: number,
  to: number,
  firstOffsetDelta: number,
  baseTimestamp: number,
  single: boolean,
): number {
  const rec = m.rec;
  const stamp = m.stamp;
  const K = m.keys;
  const V = m.values;
  for (let n = from; n < to; n++) {
    const i = idx === null ? n : idx[n];
    const j = 4 * i;
    const kl = rec[j];
    const vl = rec[j + 1];
    const d = stamp[i] - baseTimestamp;
    const od = firstOffsetDelta + n - from;
    // body = fixed + timestampDelta varlong + offsetDelta varint
    const body = rec[j + 2] + (d >= -64 && d < 64 ? 1 : d >= -8192 && d < 8192 ? 2 : sizeOfVarlong(d)) + (od < 64 ? 1 : od < 8192 ? 2 : sizeOfVarint(od));
    // Varints are zigzag-encoded: one byte holds [-64, 64).
    if (body < 64) buf[pos++] = body << 1;
    else pos = writeVarint(buf, pos, body);
    buf[pos++] = 0; // record attributes
    if (d >= -64 && d < 64) buf[pos++] = (d << 1) ^ (d >> 31);
    else pos = writeVarlong(buf, pos, d);
    if (od < 64) buf[pos++] = od << 1;
    else pos = writeVarint(buf, pos, od);
    const k = K[i];
    if (kl < 0) {
      if (k !== null && k !== undefined) throw changed(i, single, 'key');
      buf[pos++] = 1; // varint -1
    } else {
      if (kl < 64) buf[pos++] = kl << 1;
      else pos = writeVarint(buf, pos, kl);
      if (k instanceof Uint8Array && k.length === kl) {
        buf.set(k, pos);
        pos += kl;
      } else if (typeof k === 'string') {
        pos = writeString(buf, pos, k, kl);
        if (pos < 0) throw changed(i, single, 'key');
      } else {
        throw changed(i, single, 'key');
      }
    }
    const v = V[i];
    if (vl < 0) {
      if (v !== null) throw changed(i, single, 'value');
      buf[pos++] = 1;
    } else {
      if (vl < 64) buf[pos++] = vl << 1;
      else pos = writeVarint(buf, pos, vl);
      if (v instanceof Uint8Array && v.length === vl) {
        buf.set(v, pos);
        pos += vl;
      } else if (typeof v === 'string') {
        pos = writeString(buf, pos, v, vl);
        if (pos < 0) throw changed(i, single, 'value');
      } else {
        throw changed(i, single, 'value');
      }
    }
    const hc = rec[j + 3];
    if (hc === 0) {
      buf[pos++] = 0;
    } else {
      pos = writeVarint(buf, pos, hc);
      pos = writeHeaders(buf, pos, m, i, single);
    }
  }
  return pos;
}

export interface BatchHeaderFields {
  baseOffset: number;
  partitionLeaderEpoch: number;
  /** Codec, timestamp type, transactional and control bits. */
  attributes: number;
  count: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

/** Big-endian i32 (or u32: the same bytes) at buf[pos, pos + 4); the caller has range-checked the value. */
function put32(buf: Buffer, pos: number, v: number): void {
  buf[pos] = v >>> 24;
  buf[pos + 1] = v >>> 16;
  buf[pos + 2] = v >>> 8;
  buf[pos + 3] = v;
}

/** Big-endian i64 of a safe integer at buf[pos, pos + 8). */
function put64(buf: Buffer, pos: number, value: number): void {
  const lo = value >>> 0; // value mod 2^32, for negative values too
  put32(buf, pos, (value - lo) / TWO_32);
  put32(buf, pos + 4, lo);
}

/**
 * Writes the 61-byte header of the batch in buf[start, end) (records region
 * already in place), with a CRC field of 0: the caller computes it (JS) or
 * leaves it to the log's append (native, ComputeCrc).
 *
 * Byte stores, not Buffer's writeInt32BE & co.: every field was range-checked
 * where it was resolved (encode options, the measure, the producer), and the
 * 17 checked calls cost ~300 ns a batch (295–391 ns in a loop of 1 M headers;
 * these stores 66–99 ns), a tenth of a W3 append (one batch per record there).
 */
export function writeBatchHeader(buf: Buffer, start: number, end: number, h: Readonly<BatchHeaderFields>): void {
  if (start < 0 || end - start < RECORDS_OFFSET || end > buf.length) {
    throw new RangeError(`batch header: [${start}, ${end}) is not a batch of a ${buf.length}-byte buffer`);
  }
  put64(buf, start + BASE_OFFSET_OFFSET, h.baseOffset);
  put32(buf, start + LENGTH_OFFSET, end - start - LOG_OVERHEAD);
  put32(buf, start + LEADER_EPOCH_OFFSET, h.partitionLeaderEpoch);
  buf[start + MAGIC_OFFSET] = MAGIC;
  put32(buf, start + CRC_OFFSET, 0);
  buf[start + ATTRIBUTES_OFFSET] = h.attributes >>> 8;
  buf[start + ATTRIBUTES_OFFSET + 1] = h.attributes;
  put32(buf, start + LAST_OFFSET_DELTA_OFFSET, h.count - 1);
  put64(buf, start + BASE_TIMESTAMP_OFFSET, h.baseTimestamp);
  put64(buf, start + MAX_TIMESTAMP_OFFSET, h.maxTimestamp);
  put64(buf, start + PRODUCER_ID_OFFSET, h.producerId);
  buf[start + PRODUCER_EPOCH_OFFSET] = h.producerEpoch >>> 8;
  buf[start + PRODUCER_EPOCH_OFFSET + 1] = h.producerEpoch;
  put32(buf, start + BASE_SEQUENCE_OFFSET, h.baseSequence);
  put32(buf, start + RECORDS_COUNT_OFFSET, h.count);
}
