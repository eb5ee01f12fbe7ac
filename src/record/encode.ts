/**
 * Encoding records into one RecordBatch v2 (docs/format.md).
 *
 * Two passes over the records and one buffer: the first pass
 * (src/record/measure.ts) checks every record and measures it (key, value and
 * header byte lengths, timestamp), keeping the numbers in typed arrays the
 * encoder owns; the second (src/record/write.ts) writes the bytes. Nothing is
 * allocated per record. Then the header is written, the records region is
 * replaced by an LZ4 frame when asked, and the CRC-32C is computed (one native
 * call) unless the caller leaves it to the log's append (computeCrc: false).
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
import { BatchTooLargeError, InvalidArgumentError } from '../errors.js';
import { native } from '../native.js';
import { compressRecords } from './compression.js';
import { ATTRIBUTES_OFFSET, COMPRESSION_LZ4, CONTROL_MASK, CRC_OFFSET, HEADER_SIZE, LOG_OVERHEAD, TRANSACTIONAL_MASK } from './format.js';
import { INT32_MAX, type MeasureOptions, RecordsMeasure, measureRecords } from './measure.js';
import type { Compression, ProducerRecord } from './types.js';
import { writeBatchHeader, writeRecords } from './write.js';

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

const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** batchLength is an i32: a batch is at most this many bytes. */
const MAX_BATCH_BYTES = LOG_OVERHEAD + INT32_MAX;

/** Encode options checked and resolved once (resolveEncodeOptions); for callers that encode many batches alike. */
export interface ResolvedEncodeOptions {
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
  /** What the first pass needs, built once. */
  measure: Readonly<MeasureOptions>;
}

const DEFAULTS: Readonly<ResolvedEncodeOptions> = Object.freeze({
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
  measure: Object.freeze({ now: -1, baseTimestamp: -1, maxRecordBytes: DEFAULT_MAX_RECORD_BYTES, single: false }),
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

/** Checks and resolves encode options (InvalidArgumentError naming a bad one). */
export function resolveEncodeOptions(options: EncodeOptions | undefined): Readonly<ResolvedEncodeOptions> {
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
  const now = intOption(given, 'now', 0, MAX, -1);
  const baseTimestamp = intOption(given, 'baseTimestamp', 0, MAX, -1);
  const maxRecordBytes = intOption(given, 'maxRecordBytes', 0, INT32_MAX, DEFAULT_MAX_RECORD_BYTES);
  return Object.freeze({
    lz4: compression === 'lz4',
    baseOffset: intOption(given, 'baseOffset', 0, MAX, 0),
    now,
    baseTimestamp,
    producerId: intOption(given, 'producerId', -1, MAX, -1),
    producerEpoch: intOption(given, 'producerEpoch', -1, 0x7fff, -1),
    baseSequence: intOption(given, 'baseSequence', -1, INT32_MAX, -1),
    partitionLeaderEpoch: intOption(given, 'partitionLeaderEpoch', -1, INT32_MAX, -1),
    attributes:
      (compression === 'lz4' ? COMPRESSION_LZ4 : 0) | (transactional ? TRANSACTIONAL_MASK : 0) | (control ? CONTROL_MASK : 0),
    maxRecordBytes,
    computeCrc: boolOption(given, 'computeCrc', true),
    measure: Object.freeze({ now, baseTimestamp, maxRecordBytes, single: false }),
  });
}

/** Writes the header of the batch buf[start, end) of `count` records measured by `m`, and its CRC when asked. */
function writeHeader(buf: Buffer, start: number, end: number, count: number, m: RecordsMeasure, o: Readonly<ResolvedEncodeOptions>): void {
  writeBatchHeader(buf, start, end, {
    baseOffset: o.baseOffset,
    partitionLeaderEpoch: o.partitionLeaderEpoch,
    attributes: o.attributes,
    count,
    baseTimestamp: m.baseTimestamp,
    maxTimestamp: m.maxTimestamp,
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    baseSequence: o.baseSequence,
  });
  if (o.computeCrc) buf.writeUInt32BE(native.crc32c(buf.subarray(start + ATTRIBUTES_OFFSET, end)), start + CRC_OFFSET);
}

function recordsChanged(): InvalidArgumentError {
  return new InvalidArgumentError('records changed while the batch was being encoded');
}

function checkBatchSize(m: RecordsMeasure): void {
  if (HEADER_SIZE + m.recordsBytes > MAX_BATCH_BYTES) {
    throw new BatchTooLargeError(
      `${m.count} records take ${HEADER_SIZE + m.recordsBytes} bytes, over the ${MAX_BATCH_BYTES}-byte limit of one batch (batchLength is an i32)`,
    );
  }
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
  readonly #m = new RecordsMeasure();

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
    return this.encodeResolved(records, resolveEncodeOptions(options));
  }

  /** encode() with options resolved beforehand by resolveEncodeOptions (the log's hot path: no option parsing per batch). */
  encodeResolved(records: readonly ProducerRecord[], o: Readonly<ResolvedEncodeOptions>): Buffer {
    const end = this.encodeAt(records, o, 0);
    return this.#buf.subarray(0, end); // after encodeAt: it may have replaced the buffer
  }

  /**
   * Encodes `records` as one batch at byte `at` of this encoder's buffer
   * (`buffer`), keeping the bytes before it: batches built back to back, as a
   * log's group of durable appends is. Returns the batch's end. On a throw
   * nothing after `at` counts. No view is made (the log's hot path).
   */
  encodeAt(records: readonly ProducerRecord[], o: Readonly<ResolvedEncodeOptions>, at: number): number {
    if (this.#busy) throw new InvalidArgumentError('BatchEncoder: encode() called again while it was encoding');
    this.#busy = true;
    try {
      return this.#encode(records, o, at);
    } finally {
      this.#m.release();
      this.#busy = false;
    }
  }

  /** The buffer encodeAt writes into (replaced when it grows). */
  get buffer(): Buffer {
    return this.#buf;
  }

  #encode(records: readonly ProducerRecord[], o: Readonly<ResolvedEncodeOptions>, at: number): number {
    const m = this.#m;
    measureRecords(m, records, o.measure);
    checkBatchSize(m);
    const body = at + HEADER_SIZE;
    let buf = this.#reserve(body + m.recordsBytes, at);
    let end = writeRecords(buf, body, m, null, 0, m.count, 0, m.baseTimestamp, false);
    if (end !== body + m.recordsBytes) throw recordsChanged();
    if (o.lz4) {
      const frame = compressRecords(buf.subarray(body, end));
      checkFrameSize(frame.length, m.count);
      buf = this.#reserve(body + frame.length, at);
      frame.copy(buf, body);
      end = body + frame.length;
    }
    writeHeader(buf, at, end, m.count, m, o);
    return end;
  }
}

const shared = new RecordsMeasure();

/** Encodes `records` as one batch, in a fresh Buffer of exactly the batch's size. */
export function encodeBatch(records: readonly ProducerRecord[], options?: EncodeOptions): Buffer {
  const o = resolveEncodeOptions(options);
  try {
    return encodeFresh(records, o);
  } finally {
    shared.release();
  }
}

function encodeFresh(records: readonly ProducerRecord[], o: Readonly<ResolvedEncodeOptions>): Buffer {
  measureRecords(shared, records, o.measure);
  checkBatchSize(shared);
  const size = HEADER_SIZE + shared.recordsBytes;
  let buf = Buffer.allocUnsafeSlow(size);
  let end = writeRecords(buf, HEADER_SIZE, shared, null, 0, shared.count, 0, shared.baseTimestamp, false);
  if (end !== size) throw recordsChanged();
  if (o.lz4) {
    const frame = compressRecords(buf.subarray(HEADER_SIZE, end));
    checkFrameSize(frame.length, shared.count);
    buf = Buffer.allocUnsafeSlow(HEADER_SIZE + frame.length);
    frame.copy(buf, HEADER_SIZE);
    end = buf.length;
  }
  writeHeader(buf, 0, end, shared.count, shared, o);
  return buf;
}
