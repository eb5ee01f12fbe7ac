/**
 * Encoding records into one RecordBatch v2 (docs/format.md).
 *
 * Two passes over the records and one buffer: the first pass checks every
 * record and measures it (key, value and header byte lengths, body size,
 * timestamp), keeping the numbers in typed arrays the encoder owns; the second
 * writes the bytes. Nothing is allocated per record. Then the header is
 * written, the records region is replaced by an LZ4 frame when asked, and the
 * CRC-32C is computed (one native call) unless the caller leaves it to the
 * log's append (computeCrc: false).
 *
 * BatchEncoder is the hot path: it keeps one growable buffer and returns a view
 * of it that is valid until its next encode(). encodeBatch() returns a fresh
 * Buffer of exactly the batch's size.
 *
 * Like Kafka's producer (MemoryRecordsBuilder), baseTimestamp is the first
 * record's timestamp (other records' deltas may be negative), maxTimestamp the
 * largest, offset deltas are 0, 1, 2, ... and record attributes are 0.
 */
import { checkOptionsObject, describe, rejectUnknownOptions } from '../config.js';
import { BatchTooLargeError, InvalidArgumentError, RecordTooLargeError } from '../errors.js';
import { native } from '../native.js';
import { compressRecords } from './compression.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  COMPRESSION_LZ4,
  CONTROL_MASK,
  CRC_OFFSET,
  HEADER_SIZE,
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
  TRANSACTIONAL_MASK,
} from './format.js';
import type { Bytes, Compression, ProducerRecord, RecordHeader } from './types.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export interface EncodeOptions {
  /** @default 'none' */
  compression?: Compression;
  /** @default 0 */
  baseOffset?: number;
  /** Timestamp (ms) of records that have none. @default Date.now() */
  now?: number;
  /**
   * The batch's baseTimestamp; record timestamps are stored as deltas from it.
   * Only for reproducing another writer's bytes. @default the first record's timestamp
   */
  baseTimestamp?: number;
  /** -1: none. @default -1 */
  producerId?: number;
  /** @default -1 */
  producerEpoch?: number;
  /** @default -1 */
  baseSequence?: number;
  /** @default -1 */
  partitionLeaderEpoch?: number;
  /** @default false */
  transactional?: boolean;
  /** @default false */
  control?: boolean;
  /**
   * The largest record accepted, counted as Kafka's producer counts it: the
   * size of a batch holding only that record (61-byte header + the record,
   * uncompressed). 0: no limit. @default 1048576 (1 MiB)
   */
  maxRecordBytes?: number;
  /** false: leave the CRC field 0 (the log's append computes it natively). @default true */
  computeCrc?: boolean;
}

const OPTION_NAMES: readonly string[] = [
  'compression',
  'baseOffset',
  'now',
  'baseTimestamp',
  'producerId',
  'producerEpoch',
  'baseSequence',
  'partitionLeaderEpoch',
  'transactional',
  'control',
  'maxRecordBytes',
  'computeCrc',
];

/**
 * Buffer#utf8Write: what Buffer#write calls for 'utf8' once it has parsed its
 * arguments (undocumented, present since Node 0.x; ~10% faster on 16-byte keys).
 */
interface NodeBuffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
}

const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
const INT32_MAX = 0x7fffffff;
/** batchLength is an i32: a batch is at most this many bytes. */
const MAX_BATCH_BYTES = LOG_OVERHEAD + INT32_MAX;
const TWO_32 = 2 ** 32;

interface Resolved {
  lz4: boolean;
  baseOffset: number;
  /** -1: take Date.now() when first needed. */
  now: number;
  /** -1: the first record's timestamp. */
  baseTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  partitionLeaderEpoch: number;
  attributes: number;
  maxRecordBytes: number;
  computeCrc: boolean;
}

const DEFAULTS: Readonly<Resolved> = Object.freeze({
  lz4: false,
  baseOffset: 0,
  now: -1,
  baseTimestamp: -1,
  producerId: -1,
  producerEpoch: -1,
  baseSequence: -1,
  partitionLeaderEpoch: -1,
  attributes: 0,
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
  computeCrc: true,
});

function intOption(given: Record<string, unknown>, name: string, min: number, max: number, fallback: number): number {
  const v = given[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`option ${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

function boolOption(given: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const v = given[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`option ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function resolveOptions(options: EncodeOptions | undefined): Readonly<Resolved> {
  if (options === undefined) return DEFAULTS;
  const given = checkOptionsObject(options, 'encode');
  rejectUnknownOptions(given, OPTION_NAMES, 'encode');
  const compression = given.compression ?? 'none';
  if (compression !== 'none' && compression !== 'lz4') {
    throw new InvalidArgumentError(`option compression must be 'none' or 'lz4', got ${describe(compression)}`);
  }
  const MAX = Number.MAX_SAFE_INTEGER;
  const transactional = boolOption(given, 'transactional', false);
  const control = boolOption(given, 'control', false);
  return {
    lz4: compression === 'lz4',
    baseOffset: intOption(given, 'baseOffset', 0, MAX, 0),
    now: intOption(given, 'now', 0, MAX, -1),
    baseTimestamp: intOption(given, 'baseTimestamp', 0, MAX, -1),
    producerId: intOption(given, 'producerId', -1, MAX, -1),
    producerEpoch: intOption(given, 'producerEpoch', -1, 0x7fff, -1),
    baseSequence: intOption(given, 'baseSequence', -1, INT32_MAX, -1),
    partitionLeaderEpoch: intOption(given, 'partitionLeaderEpoch', -1, INT32_MAX, -1),
    attributes:
      (compression === 'lz4' ? COMPRESSION_LZ4 : 0) | (transactional ? TRANSACTIONAL_MASK : 0) | (control ? CONTROL_MASK : 0),
    maxRecordBytes: intOption(given, 'maxRecordBytes', 0, INT32_MAX, DEFAULT_MAX_RECORD_BYTES),
    computeCrc: boolOption(given, 'computeCrc', true),
  };
}

const BYTES_TYPES = 'a Buffer, Uint8Array, string or null';

function badBytes(index: number, field: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`record ${index}: ${field} must be ${BYTES_TYPES}, got ${describe(value)}`);
}

function changed(index: number, field: string): InvalidArgumentError {
  return new InvalidArgumentError(`record ${index}: ${field} changed while the batch was being encoded`);
}

function recordsChanged(): InvalidArgumentError {
  return new InvalidArgumentError('records changed while the batch was being encoded');
}

/**
 * What the first pass learns, in arrays reused from batch to batch. Per record
 * i: rec[4i] key length (-1: null), rec[4i+1] value length (-1: null),
 * rec[4i+2] body size (the bytes after the record's length varint),
 * rec[4i+3] header count; stamp[i] its timestamp. Per header, in order:
 * hdr[2j] key length, hdr[2j+1] value length (-1: null).
 */
class Measure {
  rec = new Int32Array(4 * 64);
  stamp = new Float64Array(64);
  hdr = new Int32Array(32);
  /** Bytes of the records region (uncompressed). */
  recordsBytes = 0;
  baseTimestamp = 0;
  maxTimestamp = 0;

  reserve(count: number): void {
    if (this.stamp.length < count) {
      const n = Math.max(count, this.stamp.length * 2);
      this.rec = new Int32Array(4 * n);
      this.stamp = new Float64Array(n);
    }
  }

  reserveHeaders(count: number): void {
    if (this.hdr.length < 2 * count) {
      const next = new Int32Array(Math.max(2 * count, this.hdr.length * 2));
      next.set(this.hdr);
      this.hdr = next;
    }
  }
}

/** Byte length of a key or value (-1: null), or throws naming the record and field. */
function bytesLength(value: unknown, index: number, field: string, undefinedIsNull: boolean): number {
  if (typeof value === 'string') return value.length === 0 ? 0 : Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.length;
  if (value === null || (value === undefined && undefinedIsNull)) return -1;
  throw badBytes(index, field, value);
}

function headerKeyLength(key: unknown, index: number, h: number): number {
  if (typeof key !== 'string') {
    throw new InvalidArgumentError(`record ${index}: headers[${h}].key must be a string, got ${describe(key)}`);
  }
  return key.length === 0 ? 0 : Buffer.byteLength(key, 'utf8');
}

/** Measures the headers of record `index`; returns the bytes they take after the count varint. */
function measureHeaders(m: Measure, headers: unknown, index: number, slot: number): number {
  let bytes = 0;
  let count = 0;
  if (Array.isArray(headers)) {
    const n = headers.length;
    m.reserveHeaders(slot + n);
    const hdr = m.hdr;
    for (let h = 0; h < n; h++) {
      const header = headers[h] as RecordHeader | null | undefined;
      if (header === null || typeof header !== 'object') {
        throw new InvalidArgumentError(`record ${index}: headers[${h}] must be an object { key, value }, got ${describe(header)}`);
      }
      const kl = headerKeyLength(header.key, index, h);
      const vl = bytesLength(header.value, index, `headers[${h}].value`, false);
      hdr[2 * (slot + h)] = kl;
      hdr[2 * (slot + h) + 1] = vl;
      bytes += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
    }
    count = n;
  } else if (typeof headers === 'object' && headers !== null) {
    const obj = headers as Record<string, Bytes>;
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue;
      m.reserveHeaders(slot + count + 1);
      const kl = key.length === 0 ? 0 : Buffer.byteLength(key, 'utf8');
      const vl = bytesLength(obj[key], index, `headers[${JSON.stringify(key)}]`, false);
      m.hdr[2 * (slot + count)] = kl;
      m.hdr[2 * (slot + count) + 1] = vl;
      bytes += sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
      count++;
    }
  } else {
    throw new InvalidArgumentError(`record ${index}: headers must be an array or an object, got ${describe(headers)}`);
  }
  m.rec[4 * index + 3] = count;
  return bytes;
}

/** First pass: checks and measures every record. */
function measure(m: Measure, records: readonly ProducerRecord[], o: Readonly<Resolved>): void {
  if (!Array.isArray(records)) {
    throw new InvalidArgumentError(`records must be an array of records, got ${describe(records)}`);
  }
  const n = records.length;
  if (n === 0) throw new InvalidArgumentError('records must not be empty: a batch holds at least one record');
  if (n > INT32_MAX) throw new InvalidArgumentError(`a batch holds at most ${INT32_MAX} records, got ${n}`);
  m.reserve(n);
  const rec = m.rec;
  const stamp = m.stamp;
  const maxRecordBytes = o.maxRecordBytes;
  let now = o.now;
  let base = o.baseTimestamp;
  let max = -1;
  let total = 0;
  let headerSlot = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object') {
      throw new InvalidArgumentError(`record ${i} must be an object { key?, value, headers?, timestamp? }, got ${describe(r)}`);
    }
    const kl = bytesLength(r.key, i, 'key', true);
    const vl = bytesLength(r.value, i, 'value', false);
    let ts = r.timestamp;
    if (ts === undefined) {
      if (now < 0) now = Date.now();
      ts = now;
    } else if (typeof ts !== 'number' || !(ts >= 0 && ts <= Number.MAX_SAFE_INTEGER) || Math.floor(ts) !== ts) {
      throw new InvalidArgumentError(`record ${i}: timestamp must be a non-negative safe integer (ms), got ${describe(ts)}`);
    }
    if (base < 0) base = ts;
    if (ts > max) max = ts;
    let headerBytes = 0;
    const headers = r.headers;
    if (headers === undefined || headers === null) {
      rec[4 * i + 3] = 0;
    } else {
      headerBytes = measureHeaders(m, headers, i, headerSlot);
      headerSlot += rec[4 * i + 3];
    }
    // attributes (1) + timestampDelta + offsetDelta + key + value + headers
    const body =
      1 +
      sizeOfVarlong(ts - base) +
      sizeOfVarint(i) +
      sizeOfVarint(kl) +
      (kl > 0 ? kl : 0) +
      sizeOfVarint(vl) +
      (vl > 0 ? vl : 0) +
      sizeOfVarint(rec[4 * i + 3]) +
      headerBytes;
    const size = body <= INT32_MAX ? sizeOfVarint(body) + body : body + 5;
    if (maxRecordBytes !== 0 && HEADER_SIZE + size > maxRecordBytes) {
      throw new RecordTooLargeError(
        `record ${i} is ${size} bytes encoded (${HEADER_SIZE + size} bytes in a batch of its own), ` +
          `over maxRecordBytes ${maxRecordBytes} (key ${kl < 0 ? 0 : kl} bytes, value ${vl < 0 ? 0 : vl} bytes, headers ${headerBytes} bytes)`,
      );
    }
    if (body > INT32_MAX) {
      throw new RecordTooLargeError(`record ${i} is ${size} bytes encoded, over the format's limit of ${INT32_MAX}`);
    }
    rec[4 * i] = kl;
    rec[4 * i + 1] = vl;
    rec[4 * i + 2] = body;
    stamp[i] = ts;
    total += size;
  }
  if (HEADER_SIZE + total > MAX_BATCH_BYTES) {
    throw new BatchTooLargeError(
      `${n} records take ${HEADER_SIZE + total} bytes, over the ${MAX_BATCH_BYTES}-byte limit of one batch (batchLength is an i32)`,
    );
  }
  m.recordsBytes = total;
  m.baseTimestamp = base;
  m.maxTimestamp = max;
}

/** Writes a key, value or header value whose length the first pass measured. */
function writeBytes(buf: Buffer, pos: number, value: unknown, len: number, index: number, field: string): number {
  if (len < 0) {
    if (value !== null && value !== undefined) throw changed(index, field);
    buf[pos] = 1; // varint -1
    return pos + 1;
  }
  pos = writeVarint(buf, pos, len);
  if (typeof value === 'string') {
    // A string has at most as many UTF-16 units as UTF-8 bytes: a longer one changed.
    if (value.length > len || (len > 0 && (buf as NodeBuffer).utf8Write(value, pos, len) !== len)) throw changed(index, field);
  } else if (value instanceof Uint8Array && value.length === len) {
    buf.set(value, pos);
  } else {
    throw changed(index, field);
  }
  return pos + len;
}

/** Second pass: writes the records measured by `m` from `pos`; returns the position after them. */
function writeRecords(buf: Buffer, pos: number, m: Measure, records: readonly ProducerRecord[]): number {
  const n = records.length;
  const rec = m.rec;
  const stamp = m.stamp;
  const hdr = m.hdr;
  const base = m.baseTimestamp;
  let headerSlot = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const j = 4 * i;
    pos = writeVarint(buf, pos, rec[j + 2]);
    buf[pos++] = 0; // record attributes
    pos = writeVarlong(buf, pos, stamp[i] - base);
    pos = writeVarint(buf, pos, i);
    pos = writeBytes(buf, pos, r.key, rec[j], i, 'key');
    pos = writeBytes(buf, pos, r.value, rec[j + 1], i, 'value');
    const count = rec[j + 3];
    pos = writeVarint(buf, pos, count);
    if (count > 0) {
      pos = writeHeaders(buf, pos, r.headers, hdr, headerSlot, count, i);
      headerSlot += count;
    }
  }
  return pos;
}

function writeHeaders(
  buf: Buffer,
  pos: number,
  headers: unknown,
  hdr: Int32Array,
  slot: number,
  count: number,
  index: number,
): number {
  if (Array.isArray(headers)) {
    if (headers.length !== count) throw changed(index, 'headers');
    for (let h = 0; h < count; h++) {
      const header = headers[h] as RecordHeader;
      pos = writeBytes(buf, pos, header.key, hdr[2 * (slot + h)], index, `headers[${h}].key`);
      pos = writeBytes(buf, pos, header.value, hdr[2 * (slot + h) + 1], index, `headers[${h}].value`);
    }
    return pos;
  }
  const obj = headers as Record<string, Bytes>;
  let h = 0;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    if (h === count) throw changed(index, 'headers');
    pos = writeBytes(buf, pos, key, hdr[2 * (slot + h)], index, `headers[${JSON.stringify(key)}]`);
    pos = writeBytes(buf, pos, obj[key], hdr[2 * (slot + h) + 1], index, `headers[${JSON.stringify(key)}]`);
    h++;
  }
  if (h !== count) throw changed(index, 'headers');
  return pos;
}

function writeInt64(buf: Buffer, pos: number, value: number): void {
  const lo = value >>> 0; // value mod 2^32, for negative values too
  buf.writeInt32BE((value - lo) / TWO_32, pos);
  buf.writeUInt32BE(lo, pos + 4);
}

/** Writes the 61-byte header of a batch of `count` records whose records region ends at `end`. */
function writeHeader(buf: Buffer, end: number, count: number, m: Measure, o: Readonly<Resolved>): void {
  writeInt64(buf, BASE_OFFSET_OFFSET, o.baseOffset);
  buf.writeInt32BE(end - LOG_OVERHEAD, LENGTH_OFFSET);
  buf.writeInt32BE(o.partitionLeaderEpoch, LEADER_EPOCH_OFFSET);
  buf[MAGIC_OFFSET] = MAGIC;
  buf.writeUInt32BE(0, CRC_OFFSET);
  buf.writeInt16BE(o.attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(buf, BASE_TIMESTAMP_OFFSET, m.baseTimestamp);
  writeInt64(buf, MAX_TIMESTAMP_OFFSET, m.maxTimestamp);
  writeInt64(buf, PRODUCER_ID_OFFSET, o.producerId);
  buf.writeInt16BE(o.producerEpoch, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(o.baseSequence, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  if (o.computeCrc) buf.writeUInt32BE(native.crc32c(buf.subarray(ATTRIBUTES_OFFSET, end)), CRC_OFFSET);
}

function checkFrameSize(frameBytes: number, records: number): void {
  if (HEADER_SIZE + frameBytes > MAX_BATCH_BYTES) {
    throw new BatchTooLargeError(
      `${records} records compress to ${HEADER_SIZE + frameBytes} bytes, over the ${MAX_BATCH_BYTES}-byte limit of one batch`,
    );
  }
}

/**
 * Encodes records into batches, reusing one buffer. Not reentrant; one per
 * writer. The buffer grows to the largest batch encoded and is kept.
 *
 * Two passes (measure every record, then write them all) measured as fast as
 * one pass that measures and writes each record in turn, for Buffer keys, and
 * 5-10% faster for string keys (same process, interleaved runs, 1,000 records
 * of 16 + 100 bytes per batch, keys drawn at random from 100,000: medians
 * 2.51 vs 2.50 and 2.75 vs 2.40 M records/s). The cache misses on the keys are
 * most of the cost either way.
 */
export class BatchEncoder {
  #buf: Buffer;
  #busy = false;
  readonly #m = new Measure();

  /** @param initialBytes the buffer's starting size. @default 65536 */
  constructor(initialBytes = 64 * 1024) {
    if (!Number.isSafeInteger(initialBytes) || initialBytes < 0) {
      throw new InvalidArgumentError(`BatchEncoder: initialBytes must be a non-negative integer, got ${describe(initialBytes)}`);
    }
    this.#buf = Buffer.allocUnsafe(Math.max(initialBytes, HEADER_SIZE));
  }

  #reserve(bytes: number, keep: number): Buffer {
    if (this.#buf.length >= bytes) return this.#buf;
    const next = Buffer.allocUnsafe(Math.max(bytes, Math.min(this.#buf.length * 2, MAX_BATCH_BYTES)));
    if (keep > 0) this.#buf.copy(next, 0, 0, keep);
    this.#buf = next;
    return next;
  }

  /**
   * Encodes `records` as one batch. The result is a view of this encoder's
   * buffer: valid until the next encode() call, which overwrites it.
   */
  encode(records: readonly ProducerRecord[], options?: EncodeOptions): Buffer {
    if (this.#busy) throw new InvalidArgumentError('BatchEncoder: encode() called again while it was encoding');
    this.#busy = true;
    try {
      return this.#encode(records, options);
    } finally {
      this.#busy = false;
    }
  }

  #encode(records: readonly ProducerRecord[], options: EncodeOptions | undefined): Buffer {
    const o = resolveOptions(options);
    const m = this.#m;
    measure(m, records, o);
    let buf = this.#reserve(HEADER_SIZE + m.recordsBytes, 0);
    let end = writeRecords(buf, HEADER_SIZE, m, records);
    if (end !== HEADER_SIZE + m.recordsBytes) throw recordsChanged();
    if (o.lz4) {
      const frame = compressRecords(buf.subarray(HEADER_SIZE, end));
      checkFrameSize(frame.length, records.length);
      buf = this.#reserve(HEADER_SIZE + frame.length, 0);
      frame.copy(buf, HEADER_SIZE);
      end = HEADER_SIZE + frame.length;
    }
    writeHeader(buf, end, records.length, m, o);
    return buf.subarray(0, end);
  }
}

const shared = new Measure();

/** Encodes `records` as one batch, in a fresh Buffer of exactly the batch's size. */
export function encodeBatch(records: readonly ProducerRecord[], options?: EncodeOptions): Buffer {
  const o = resolveOptions(options);
  measure(shared, records, o);
  const size = HEADER_SIZE + shared.recordsBytes;
  let buf = Buffer.allocUnsafeSlow(size);
  let end = writeRecords(buf, HEADER_SIZE, shared, records);
  if (end !== size) throw recordsChanged();
  if (o.lz4) {
    const frame = compressRecords(buf.subarray(HEADER_SIZE, end));
    checkFrameSize(frame.length, records.length);
    buf = Buffer.allocUnsafeSlow(HEADER_SIZE + frame.length);
    frame.copy(buf, HEADER_SIZE);
    end = buf.length;
  }
  writeHeader(buf, end, records.length, shared, o);
  return buf;
}
