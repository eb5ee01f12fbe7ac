/**
 * The first pass of encoding: checks every record of a call and measures it,
 * before a byte is written (a batch, or a producer's send, is all or nothing).
 *
 * What it learns goes into a RecordsMeasure, typed arrays reused from call to
 * call by one writer (a BatchEncoder, a Producer): nothing is allocated per
 * record. The second pass (src/record/write.ts) writes records from those
 * numbers, at any offset and timestamp delta: a BatchEncoder writes them all
 * as one batch, a producer writes each into its partition's open batch.
 *
 * Each record's key, value, timestamp and headers (and each header's key and
 * value) are read exactly once, here: a getter runs once, and the writer uses
 * the references kept in the measure, so it runs no code of the caller's and
 * writes what was measured.
 *
 * Layout of the pass, for memory-level parallelism: keys drawn at random from
 * many distinct Buffers miss the CPU caches (the key object, then its bytes),
 * and those misses, not the arithmetic, are most of an encoder's time. So the
 * fields are read by one tight loop, key lengths by another, value lengths by
 * a third, sizes by a fourth: a tight loop keeps many misses in flight where
 * one big loop body keeps one or two. Anything unusual (headers, a bad field)
 * leaves the fast loops for one general loop that checks records in order, so
 * the error names the first bad record as before.
 */
import { describe } from '../config.js';
import { InvalidArgumentError, RecordTooLargeError } from '../errors.js';
import { HEADER_SIZE } from './format.js';
import type { Bytes, ProducerRecord, RecordHeader } from './types.js';
import { sizeOfVarint, sizeOfVarlong } from './varint.js';

export const INT32_MAX = 0x7fffffff;
/** Below this many records measureRecords uses its one general loop. */
const SMALL = 8;

/**
 * Per record i of the last measureRecords call:
 * - rec[4i] key length (-1: null), rec[4i+1] value length (-1: null),
 * - rec[4i+2] "fixed" bytes: the record's body (the bytes after its length
 *   varint) minus its timestampDelta and offsetDelta varints, which depend on
 *   where it is written,
 * - rec[4i+3] header count; its headers' lengths are hdr[2j] (key) and
 *   hdr[2j+1] (value, -1: null) for j from hslot[i];
 * - stamp[i] its timestamp (the default filled in).
 */
export class RecordsMeasure {
  /** Per record: its key, value and headers as read by the first pass (released by release()). */
  keys: unknown[] = [];
  values: unknown[] = [];
  headers: unknown[] = [];
  /** Per header slot (see hslot): its key and value as read. */
  headerKeys: unknown[] = [];
  headerValues: unknown[] = [];
  /** Some entry of `headers` is set (it is all undefined otherwise). */
  headerRefs = false;
  /** Header slots used by the last call. */
  headerCount = 0;
  rec = new Int32Array(4 * 64);
  stamp = new Float64Array(64);
  hslot = new Int32Array(64);
  /** Per record: the bytes it takes in a batch of its own (deltas 0), length varint included, header excluded. */
  alone = new Int32Array(64);
  /** Sum of the records' fixed bytes (rec[4i+2]). */
  fixedBytes = 0;
  /** Sum and largest of `alone` over the call's records. */
  aloneBytes = 0;
  aloneMax = 0;
  hdr = new Int32Array(32);
  count = 0;
  /** Keeps the prefetching loads of measureRecords from being optimized away. */
  touched = 0;
  /** The first record's timestamp, or the baseTimestamp given. */
  baseTimestamp = 0;
  maxTimestamp = 0;
  /** Bytes of the records written as one batch: offset deltas 0, 1, ... and timestamps from baseTimestamp. */
  recordsBytes = 0;

  reserve(count: number): void {
    if (this.stamp.length < count) {
      const n = Math.max(count, this.stamp.length * 2);
      this.rec = new Int32Array(4 * n);
      this.stamp = new Float64Array(n);
      this.hslot = new Int32Array(n);
      this.alone = new Int32Array(n);
    }
    const refs = this.keys;
    while (refs.length < count) {
      refs.push(undefined);
      this.values.push(undefined);
      this.headers.push(undefined);
    }
  }

  /** Drops the references to the measured records' keys, values and headers (so they can be collected). */
  release(): void {
    const n = this.count;
    const K = this.keys;
    const V = this.values;
    const H = this.headers;
    // A plain loop: Array#fill took ~10 ns per element here (Node 20).
    for (let i = 0; i < n; i++) {
      K[i] = undefined;
      V[i] = undefined;
    }
    if (this.headerRefs) {
      for (let i = 0; i < n; i++) H[i] = undefined;
      this.headerRefs = false;
    }
    const hk = this.headerKeys;
    const hv = this.headerValues;
    for (let j = 0; j < this.headerCount; j++) {
      hk[j] = undefined;
      hv[j] = undefined;
    }
    this.headerCount = 0;
  }

  reserveHeaders(count: number): void {
    if (this.hdr.length < 2 * count) {
      const next = new Int32Array(Math.max(2 * count, this.hdr.length * 2));
      next.set(this.hdr);
      this.hdr = next;
    }
    while (this.headerKeys.length < count) {
      this.headerKeys.push(undefined);
      this.headerValues.push(undefined);
    }
  }

  /** An upper bound of the bytes records [from, to) take (records idx[from..to) when idx is given), whatever their deltas. */
  boundOf(idx: ArrayLike<number> | null, from: number, to: number): number {
    // length varint <= 5, timestampDelta <= 10, offsetDelta <= 5
    if (idx === null && from === 0 && to === this.count) return this.fixedBytes + 20 * to;
    const rec = this.rec;
    let bytes = 0;
    for (let k = from; k < to; k++) bytes += rec[4 * (idx === null ? k : idx[k]) + 2] + 20;
    return bytes;
  }
}

const BYTES_TYPES = 'a Buffer, Uint8Array, string or null';

/** How errors name record i: "record i", or "record" for a call given one record. */
export function recordLabel(i: number, single: boolean): string {
  return single ? 'record' : `record ${i}`;
}

function badBytes(i: number, single: boolean, field: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${recordLabel(i, single)}: ${field} must be ${BYTES_TYPES}, got ${describe(value)}`);
}

/** UTF-8 byte length of a header key or value, or its Uint8Array length, -1 for null; throws naming a bad one. */
function headerBytesLength(value: unknown, i: number, single: boolean, field: string): number {
  if (typeof value === 'string') return value.length === 0 ? 0 : Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.length;
  if (value === null) return -1;
  throw badBytes(i, single, field, value);
}

/** Measures the headers of record i into hdr from `slot`; returns the bytes they take after their count varint. */
function measureHeaders(m: RecordsMeasure, headers: unknown, i: number, single: boolean, slot: number): number {
  let bytes = 0;
  let count = 0;
  if (Array.isArray(headers)) {
    const n = headers.length;
    m.reserveHeaders(slot + n);
    const hdr = m.hdr;
    for (let h = 0; h < n; h++) {
      const header = headers[h] as RecordHeader | null | undefined;
      if (header === null || typeof header !== 'object') {
        throw new InvalidArgumentError(`${recordLabel(i, single)}: headers[${h}] must be an object { key, value }, got ${describe(header)}`);
      }
      const key: unknown = header.key;
      if (typeof key !== 'string') {
        throw new InvalidArgumentError(`${recordLabel(i, single)}: headers[${h}].key must be a string, got ${describe(key)}`);
      }
      const value: unknown = header.value;
      const kl = key.length === 0 ? 0 : Buffer.byteLength(key, 'utf8');
      const vl = headerBytesLength(value, i, single, `headers[${h}].value`);
      hdr[2 * (slot + h)] = kl;
      hdr[2 * (slot + h) + 1] = vl;
      m.headerKeys[slot + h] = key;
      m.headerValues[slot + h] = value;
      bytes += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
    }
    count = n;
  } else if (typeof headers === 'object' && headers !== null) {
    const obj = headers as Record<string, Bytes>;
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue;
      m.reserveHeaders(slot + count + 1);
      const value: unknown = obj[key];
      const kl = key.length === 0 ? 0 : Buffer.byteLength(key, 'utf8');
      const vl = headerBytesLength(value, i, single, `headers[${JSON.stringify(key)}]`);
      m.hdr[2 * (slot + count)] = kl;
      m.hdr[2 * (slot + count) + 1] = vl;
      m.headerKeys[slot + count] = key;
      m.headerValues[slot + count] = value;
      bytes += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
      count++;
    }
  } else {
    throw new InvalidArgumentError(`${recordLabel(i, single)}: headers must be an array or an object, got ${describe(headers)}`);
  }
  m.rec[4 * i + 3] = count;
  m.hslot[i] = slot;
  return bytes;
}

function badTimestamp(i: number, single: boolean, ts: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${recordLabel(i, single)}: timestamp must be a non-negative safe integer (ms), got ${describe(ts)}`);
}

export interface MeasureOptions {
  /** Timestamp of records without one; -1: Date.now() when first needed. */
  now: number;
  /** The batch's baseTimestamp; -1: the first record's timestamp. */
  baseTimestamp: number;
  /** Refuse a record whose batch of its own (61-byte header + the record as placed here) exceeds this; 0: no limit. */
  maxRecordBytes: number;
  /** Errors say "record" instead of "record i" (a call given one record, not an array). */
  single: boolean;
}

function notAnObject(i: number, single: boolean, r: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${recordLabel(i, single)} must be an object { key?, value, headers?, timestamp? }, got ${describe(r)}`);
}

function isTimestamp(ts: unknown): ts is number {
  return typeof ts === 'number' && ts >= 0 && ts <= Number.MAX_SAFE_INTEGER && Math.floor(ts) === ts;
}

/** Bytes of a record (length varint included) alone in a batch (both deltas 0), from its fixed bytes. */
function sizeAloneOf(fixed: number): number {
  const body = fixed + 2;
  return sizeOfVarint(body) + body;
}

/** Bytes of record i (length varint included) placed at offset delta i, timestamp delta d, from its fixed bytes. */
function placedSize(fixed: number, d: number, i: number): number {
  const body = fixed + (d >= -64 && d < 64 ? 1 : sizeOfVarlong(d)) + (i < 64 ? 1 : sizeOfVarint(i));
  // Varints are zigzag-encoded: one byte holds [-64, 64).
  return body < 64 ? body + 1 : body <= INT32_MAX ? sizeOfVarint(body) + body : body + 5;
}

/**
 * Checks and measures `records` into `m`; throws a typed error naming the
 * first bad record (and what is wrong with it) before anything is written.
 * The caller writes them (src/record/write.ts), then calls m.release().
 */
export function measureRecords(m: RecordsMeasure, records: readonly ProducerRecord[], o: Readonly<MeasureOptions>): void {
  if (!Array.isArray(records)) {
    throw new InvalidArgumentError(`records must be an array of records, got ${describe(records)}`);
  }
  const n = records.length;
  if (n === 0) throw new InvalidArgumentError('records must not be empty: a batch holds at least one record');
  if (n > INT32_MAX) throw new InvalidArgumentError(`a batch holds at most ${INT32_MAX} records, got ${n}`);
  m.reserve(n);
  m.count = n;
  // A few records: one loop does it all (the fast loops pay off on cache misses of many).
  if (n < SMALL) return measureInOrder(m, records, o, 0, undefined, o.now);
  const K = m.keys;
  const V = m.values;
  const H = m.headers;
  const rec = m.rec;
  const stamp = m.stamp;
  let now = o.now;
  let fast = true;

  // 1. Read each record's fields, once.
  let read = 0;
  let rawTimestamp: unknown;
  for (; read < n; read++) {
    const r = records[read];
    if (r === null || typeof r !== 'object') {
      fast = false;
      break;
    }
    K[read] = r.key;
    V[read] = r.value;
    const h = r.headers;
    if (h !== undefined && h !== null) {
      // H holds only records' headers; release() clears it only when any was set.
      H[read] = h;
      m.headerRefs = true;
      fast = false;
    }
    const ts: unknown = r.timestamp;
    if (isTimestamp(ts)) {
      stamp[read] = ts;
    } else if (ts === undefined) {
      if (now < 0) now = Date.now();
      stamp[read] = now;
    } else {
      rawTimestamp = ts;
      stamp[read] = -1;
      read++;
      fast = false;
      break;
    }
  }

  // 2. Key lengths.
  if (fast) {
    let touched = 0;
    for (let i = 0; i < n; i++) {
      const k = K[i];
      let kl: number;
      if (k instanceof Uint8Array) {
        kl = k.length;
        // Loads the key's first bytes into the cache now, with many misses in
        // flight, rather than one at a time in the write loop: the encoder
        // went from 406 to 331 ms per million standard records (median of 21
        // interleaved runs, keys drawn from 100,000 distinct Buffers).
        if (kl > 0) touched |= k[0];
      }
      else if (typeof k === 'string') kl = k.length === 0 ? 0 : Buffer.byteLength(k, 'utf8');
      else if (k === null || k === undefined) kl = -1;
      else {
        fast = false;
        break;
      }
      rec[4 * i] = kl;
    }
    m.touched = touched;
  }
  // 3. Value lengths.
  if (fast) {
    let touched = 0;
    for (let i = 0; i < n; i++) {
      const v = V[i];
      let vl: number;
      if (v instanceof Uint8Array) {
        vl = v.length;
        if (vl > 0) touched |= v[0];
      }
      else if (typeof v === 'string') vl = v.length === 0 ? 0 : Buffer.byteLength(v, 'utf8');
      else if (v === null) vl = -1;
      else {
        fast = false;
        break;
      }
      rec[4 * i + 1] = vl;
    }
    m.touched |= touched;
  }
  // 4. Sizes, timestamps.
  if (fast) {
    const maxRecordBytes = o.maxRecordBytes;
    let base = o.baseTimestamp;
    if (base < 0) base = stamp[0];
    let max = -1;
    let total = 0;
    let aloneBytes = 0;
    let aloneMax = 0;
    let fixedBytes = 0;
    const alone = m.alone;
    for (let i = 0; i < n; i++) {
      const kl = rec[4 * i];
      const vl = rec[4 * i + 1];
      // attributes (1) + key + value + header count (0)
      const fixed = 1 + (kl < 64 ? 1 : sizeOfVarint(kl)) + (kl > 0 ? kl : 0) + (vl < 64 ? 1 : sizeOfVarint(vl)) + (vl > 0 ? vl : 0) + 1;
      const t = stamp[i];
      if (t > max) max = t;
      const size = placedSize(fixed, t - base, i);
      if ((maxRecordBytes !== 0 && HEADER_SIZE + size > maxRecordBytes) || fixed > INT32_MAX - 20) {
        fast = false;
        break;
      }
      rec[4 * i + 2] = fixed;
      rec[4 * i + 3] = 0;
      total += size;
      const a = fixed < 62 ? fixed + 3 : sizeAloneOf(fixed);
      fixedBytes += fixed;
      alone[i] = a;
      aloneBytes += a;
      if (a > aloneMax) aloneMax = a;
    }
    if (fast) {
      m.fixedBytes = fixedBytes;
      m.aloneBytes = aloneBytes;
      m.aloneMax = aloneMax;
      m.recordsBytes = total;
      m.baseTimestamp = base;
      m.maxTimestamp = max;
      return;
    }
  }
  measureInOrder(m, records, o, read, rawTimestamp, now);
}

/**
 * The general first pass: checks record after record, every field in turn,
 * throwing at the first problem. Records below `read` were read by the fast
 * loop (their fields are in m; the last one's timestamp may be `rawTimestamp`,
 * invalid); the others are read here, once.
 */
function measureInOrder(
  m: RecordsMeasure,
  records: readonly ProducerRecord[],
  o: Readonly<MeasureOptions>,
  read: number,
  rawTimestamp: unknown,
  now: number,
): void {
  const n = records.length;
  const K = m.keys;
  const V = m.values;
  const H = m.headers;
  const rec = m.rec;
  const stamp = m.stamp;
  const single = o.single;
  const maxRecordBytes = o.maxRecordBytes;
  let base = o.baseTimestamp;
  let max = -1;
  let total = 0;
  let aloneBytes = 0;
  let aloneMax = 0;
  let fixedBytes = 0;
  let headerSlot = 0;
  for (let i = 0; i < n; i++) {
    let ts: unknown;
    if (i < read) {
      ts = stamp[i] < 0 ? rawTimestamp : stamp[i];
    } else {
      const r = records[i];
      if (r === null || typeof r !== 'object') throw notAnObject(i, single, r);
      K[i] = r.key;
      V[i] = r.value;
      H[i] = r.headers;
      m.headerRefs = true;
      ts = r.timestamp;
    }
    const k = K[i];
    let kl: number;
    if (typeof k === 'string') kl = k.length === 0 ? 0 : Buffer.byteLength(k, 'utf8');
    else if (k instanceof Uint8Array) kl = k.length;
    else if (k === null || k === undefined) kl = -1;
    else throw badBytes(i, single, 'key', k);
    const v = V[i];
    let vl: number;
    if (typeof v === 'string') vl = v.length === 0 ? 0 : Buffer.byteLength(v, 'utf8');
    else if (v instanceof Uint8Array) vl = v.length;
    else if (v === null) vl = -1;
    else throw badBytes(i, single, 'value', v);
    if (ts === undefined) {
      if (now < 0) now = Date.now();
      ts = now;
    } else if (!isTimestamp(ts)) {
      throw new InvalidArgumentError(`${recordLabel(i, single)}: timestamp must be a non-negative safe integer (ms), got ${describe(ts)}`);
    }
    const t = ts as number;
    if (base < 0) base = t;
    if (t > max) max = t;
    let fixed = 1 + sizeOfVarint(kl) + (kl > 0 ? kl : 0) + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
    const headers = H[i];
    let headerBytes = 0;
    if (headers === undefined || headers === null) {
      rec[4 * i + 3] = 0;
      fixed += 1;
    } else {
      headerBytes = measureHeaders(m, headers, i, single, headerSlot);
      const hc = rec[4 * i + 3];
      headerSlot += hc;
      m.headerCount = headerSlot;
      fixed += sizeOfVarint(hc) + headerBytes;
    }
    const size = placedSize(fixed, t - base, i);
    if (maxRecordBytes !== 0 && HEADER_SIZE + size > maxRecordBytes) {
      throw new RecordTooLargeError(
        `${recordLabel(i, single)} is ${size} bytes encoded (${HEADER_SIZE + size} bytes in a batch of its own), ` +
          `over maxRecordBytes ${maxRecordBytes} (key ${kl < 0 ? 0 : kl} bytes, value ${vl < 0 ? 0 : vl} bytes, headers ${headerBytes} bytes)`,
      );
    }
    if (fixed > INT32_MAX - 20) {
      throw new RecordTooLargeError(`${recordLabel(i, single)} is ${size} bytes encoded, over the format's limit of ${INT32_MAX}`);
    }
    rec[4 * i] = kl;
    rec[4 * i + 1] = vl;
    rec[4 * i + 2] = fixed;
    stamp[i] = t;
    total += size;
    const a = sizeAloneOf(fixed);
    fixedBytes += fixed;
    m.alone[i] = a;
    aloneBytes += a;
    if (a > aloneMax) aloneMax = a;
  }
  m.fixedBytes = fixedBytes;
  m.aloneBytes = aloneBytes;
  m.aloneMax = aloneMax;
  m.recordsBytes = total;
  m.baseTimestamp = base;
  m.maxTimestamp = max;
}

/**
 * Throws "record i: <field> changed while the batch was being encoded" when a
 * measured Uint8Array key, value or header value no longer has its measured
 * length (code of the caller's that ran since, a custom partitioner say,
 * resized or transferred its ArrayBuffer). A producer calls it before writing
 * a send's records into batches shared with other sends, so that the writes
 * cannot fail half-way.
 */
export function assertUnchanged(m: RecordsMeasure, single: boolean): void {
  const n = m.count;
  const rec = m.rec;
  const K = m.keys;
  const V = m.values;
  for (let i = 0; i < n; i++) {
    const k = K[i];
    if (k instanceof Uint8Array && k.length !== rec[4 * i]) throw changedError(i, single, 'key');
    const v = V[i];
    if (v instanceof Uint8Array && v.length !== rec[4 * i + 1]) throw changedError(i, single, 'value');
    const hc = rec[4 * i + 3];
    for (let h = 0; h < hc; h++) {
      const j = m.hslot[i] + h;
      const hv = m.headerValues[j];
      if (hv instanceof Uint8Array && hv.length !== m.hdr[2 * j + 1]) throw changedError(i, single, `headers[${h}].value`);
    }
  }
}

export function changedError(i: number, single: boolean, field: string): InvalidArgumentError {
  return new InvalidArgumentError(`${recordLabel(i, single)}: ${field} changed while the batch was being encoded`);
}
