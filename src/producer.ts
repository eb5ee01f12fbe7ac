/**
 * Producer: sends records to a store's topics, batching them per partition
 * like Kafka's RecordAccumulator.
 *
 * Batching. `send` checks its records at once (a bad record fails its send
 * and nothing of it is queued), picks each record's partition and adds it to
 * that partition's open batch. With lingerMs 0 every open batch closes at the
 * end of the current event-loop turn: the drain runs from setImmediate, after
 * every microtask of the turn, so sends made by promise continuations of the
 * same turn (64 writers each awaiting their previous ack, W3) join the same
 * batches; queueMicrotask would drain after the first continuation. Each
 * partition's ready batches are encoded (one RecordBatch v2 each, with the
 * producer id, epoch and sequence) and appended with ONE native call
 * (Partition.appendNow → Log.appendBatches). A batch closes early once it holds
 * batchBytes; the records one send gives one partition stay in one batch (and
 * so are appended atomically) unless they exceed maxMessageBytes.
 *
 * Backpressure. The estimated bytes of records accepted but not yet
 * acknowledged (written, or synced for acks 'durable') are bounded by
 * bufferBytes: a send that does not fit waits, in order, and fails with
 * BufferFullError after maxBlockMs. Sends never overtake each other: while one
 * waits (for buffer space or an auto-created topic), later ones queue behind it.
 *
 * Idempotence (default). The store allocates a producer id (and, for a named
 * producer, the next epoch of its id, fencing older instances). Each batch
 * carries the partition's next sequence number; a retriable failure (a full
 * disk) is retried with the same bytes, so a batch that did reach the log is
 * recognised by the partition and answered with its original offsets.
 *
 * expectedOffset. A send with `expectedOffset` (all of its records to one
 * explicit partition) is appended as a batch of its own, and only if the
 * partition's log end offset equals expectedOffset when it is appended;
 * otherwise it fails with ConflictError and nothing of it is written. Sends
 * queued before it in this producer are appended before it.
 */
import { type Acks, type CompressionOption, checkOptionsObject, describe, rejectUnknownOptions } from './config.js';
import { InvalidArgumentError, RecordTooLargeError, type TidelogError } from './errors.js';
import type { Partition } from './partition.js';
import { type Partitioner, StickyPartition, partitionForKey } from './partitioner.js';
import { incrementSequence } from './producer-state.js';
import { HEADER_SIZE } from './record/format.js';
import { BatchEncoder } from './record/index.js';
import type { Bytes, ProducerRecord } from './record/types.js';
import { sizeOfVarint } from './record/varint.js';
import { BufferFullError, ProducerClosedError, ProducerFencedError, UnknownTopicError } from './store-errors.js';
import type { ResolvedTopicConfig } from './topic-config.js';

export interface ProducerOptions {
  /** Acknowledgement of each send: 'none' (accepted into the buffer), 'written' (in the file), 'durable' (synced). @default 'written' */
  acks?: Acks;
  /** Codec of the batches, for topics whose compression is 'producer'. @default 'none' */
  compression?: CompressionOption;
  /** Wait up to this long for more records before a batch that is not full is appended; 0: at the end of the current event-loop turn. @default 0 */
  lingerMs?: number;
  /** A batch closes once it holds this many bytes (one send's records for one partition are never split below maxMessageBytes). @default 16384 */
  batchBytes?: number;
  /** Bytes of records accepted but not yet acknowledged; beyond it send waits. @default 33554432 (32 MiB) */
  bufferBytes?: number;
  /** How long a send may wait for buffer space (or for an auto-created topic) before BufferFullError. @default 60000 */
  maxBlockMs?: number;
  /** Producer id, epoch and sequence numbers in every batch: retries are never written twice. @default true */
  idempotent?: boolean;
  /** Chooses the partition of records without an explicit one. @default Kafka's: murmur2 of the key, sticky for unkeyed records */
  partitioner?: Partitioner;
  /** A stable name: a new producer with the same name gets the same producer id with a higher epoch and fences this one (Kafka's transactional.id fencing, without transactions). */
  name?: string;
  /** Retries of an append that failed with a retriable error (a full disk), with the same sequence numbers. @default 3 */
  retries?: number;
  /** Wait between retries. @default 100 */
  retryBackoffMs?: number;
}

export type ResolvedProducerOptions = Readonly<{
  acks: Acks;
  compression: CompressionOption;
  lingerMs: number;
  batchBytes: number;
  bufferBytes: number;
  maxBlockMs: number;
  idempotent: boolean;
  partitioner: Partitioner | null;
  name: string | null;
  retries: number;
  retryBackoffMs: number;
}>;

export const PRODUCER_DEFAULTS: ResolvedProducerOptions = Object.freeze({
  acks: 'written',
  compression: 'none',
  lingerMs: 0,
  batchBytes: 16384,
  bufferBytes: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  idempotent: true,
  partitioner: null,
  name: null,
  retries: 3,
  retryBackoffMs: 100,
});

/** A record to send: a ProducerRecord plus where it goes. */
export interface SendRecord extends ProducerRecord {
  topic: string;
  /** An explicit partition; otherwise the partitioner chooses. */
  partition?: number;
}

export interface SendOptions {
  /** Overrides the producer's acks for this send. */
  acks?: Acks;
  /** Append only if the partition's log end offset is this (every record must name the same topic and partition); else ConflictError and nothing is written. */
  expectedOffset?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks 'none' (the send resolves before the append). */
  offset: number;
  /** The record's timestamp (the LogAppendTime under LogAppendTime topics). */
  timestamp: number;
}

/** What a producer sees of a topic (the store's open topic). */
export interface TopicHandle {
  readonly name: string;
  readonly partitions: readonly (Partition | null)[];
  readonly config: ResolvedTopicConfig;
  readonly deleted: boolean;
}

/** What a producer needs from its store. */
export interface ProducerHost {
  topic(name: string): TopicHandle | undefined;
  autoCreateTopics(): boolean;
  ensureTopic(name: string): Promise<TopicHandle>;
  allocateProducerId(name: string | undefined): Promise<{ producerId: number; epoch: number }>;
  /** The newest epoch this store allocated for a named producer id (-1: none). */
  currentEpoch(producerId: number): number;
  producerClosed(producer: Producer): void;
}

const OPTION_NAMES = Object.keys(PRODUCER_DEFAULTS);
const ONE: readonly number[] = Object.freeze([0]);
const SEND_OPTIONS = ['acks', 'expectedOffset'] as const;
/** Bytes a record may grow by inside a batch (offset and timestamp deltas) over its size alone. */
const DELTA_SLACK = 14;
/** Room kept below maxMessageBytes for an LZ4 frame of incompressible records. */
const lz4Margin = (bytes: number) => 64 + (bytes >>> 8);

function resolveProducerOptions(options: unknown): ResolvedProducerOptions {
  const given = checkOptionsObject(options, 'producer');
  rejectUnknownOptions(given, OPTION_NAMES, 'producer');
  const out: Record<string, unknown> = { ...PRODUCER_DEFAULTS };
  const int = (name: string, min: number, max: number) => {
    const v = given[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`option ${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
    }
    out[name] = v;
  };
  int('lingerMs', 0, 2 ** 31 - 1);
  int('batchBytes', 1, 2 ** 31 - 1);
  int('bufferBytes', 1, Number.MAX_SAFE_INTEGER);
  int('maxBlockMs', 0, 2 ** 31 - 1);
  int('retries', 0, 2 ** 31 - 1);
  int('retryBackoffMs', 0, 2 ** 31 - 1);
  if (given.acks !== undefined) out.acks = checkAcks(given.acks);
  if (given.compression !== undefined) {
    if (given.compression !== 'none' && given.compression !== 'lz4') {
      throw new InvalidArgumentError(`option compression must be 'none' or 'lz4', got ${describe(given.compression)}`);
    }
    out.compression = given.compression;
  }
  if (given.idempotent !== undefined) {
    if (typeof given.idempotent !== 'boolean') throw new InvalidArgumentError(`option idempotent must be a boolean, got ${describe(given.idempotent)}`);
    out.idempotent = given.idempotent;
  }
  if (given.partitioner !== undefined && given.partitioner !== null) {
    if (typeof given.partitioner !== 'function') throw new InvalidArgumentError(`option partitioner must be a function, got ${describe(given.partitioner)}`);
    out.partitioner = given.partitioner;
  }
  if (given.name !== undefined && given.name !== null) {
    if (typeof given.name !== 'string' || given.name.length === 0) {
      throw new InvalidArgumentError(`option name must be a non-empty string, got ${describe(given.name)}`);
    }
    if (given.idempotent === false) throw new InvalidArgumentError('option name needs an idempotent producer (idempotent: false was given)');
    out.name = given.name;
  }
  return Object.freeze(out) as ResolvedProducerOptions;
}

function checkAcks(acks: unknown): Acks {
  if (acks !== 'none' && acks !== 'written' && acks !== 'durable') {
    throw new InvalidArgumentError(`option acks must be 'none', 'written' or 'durable', got ${describe(acks)}`);
  }
  return acks;
}

// ---- record checks -----------------------------------------------------------

const BYTES_TYPES = 'a Buffer, Uint8Array, string or null';

/** How errors name a record: its index in the send, or -1 for a send of one record (built only on error). */
function label(at: number): string {
  return at < 0 ? 'record' : `record ${at}`;
}

/**
 * UTF-8 length of a string, as Buffer.byteLength counts it (a lone surrogate
 * is 3 bytes: U+FFFD). Counted in JS for short strings, where the call into
 * C++ costs more than the loop.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Byte length of a key or value (-1: null), or throws naming the record and field. */
function bytesLength(value: unknown, at: number, field: string, undefinedIsNull: boolean): number {
  if (typeof value === 'string') return utf8Length(value);
  if (value instanceof Uint8Array) return value.length;
  if (value === null || (value === undefined && undefinedIsNull)) return -1;
  throw new InvalidArgumentError(`${label(at)}: ${field} must be ${BYTES_TYPES}, got ${describe(value)}`);
}

function fieldBytes(len: number): number {
  return sizeOfVarint(len) + (len > 0 ? len : 0);
}

/** Bytes the headers take after their count, and their count; throws naming a bad header. */
function headersSize(headers: unknown, at: number): { bytes: number; count: number } {
  let bytes = 0;
  let count = 0;
  if (Array.isArray(headers)) {
    for (let h = 0; h < headers.length; h++) {
      const header = headers[h] as { key?: unknown; value?: unknown } | null;
      if (header === null || typeof header !== 'object') {
        throw new InvalidArgumentError(`${label(at)}: headers[${h}] must be an object { key, value }, got ${describe(header)}`);
      }
      if (typeof header.key !== 'string') {
        throw new InvalidArgumentError(`${label(at)}: headers[${h}].key must be a string, got ${describe(header.key)}`);
      }
      bytes += fieldBytes(utf8Length(header.key)) + fieldBytes(bytesLength(header.value, at, `headers[${h}].value`, false));
    }
    count = headers.length;
  } else if (typeof headers === 'object' && headers !== null) {
    const obj = headers as Record<string, unknown>;
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue;
      bytes += fieldBytes(utf8Length(key)) + fieldBytes(bytesLength(obj[key], at, `headers[${JSON.stringify(key)}]`, false));
      count++;
    }
  } else {
    throw new InvalidArgumentError(`${label(at)}: headers must be an array or an object, got ${describe(headers)}`);
  }
  return { bytes, count };
}

/**
 * Checks a record's fields and returns its size encoded alone in a batch
 * without the 61-byte header (offset and timestamp deltas 0): what the
 * record codec compares with maxRecordBytes, minus the header.
 */
function recordSize(r: SendRecord, at: number): number {
  const kl = bytesLength(r.key, at, 'key', true);
  const vl = bytesLength(r.value, at, 'value', false);
  const ts = r.timestamp;
  if (ts !== undefined && (typeof ts !== 'number' || !(ts >= 0 && ts <= Number.MAX_SAFE_INTEGER) || Math.floor(ts) !== ts)) {
    throw new InvalidArgumentError(`${label(at)}: timestamp must be a non-negative safe integer (ms), got ${describe(ts)}`);
  }
  let hb = 0;
  let hc = 0;
  if (r.headers !== undefined && r.headers !== null) {
    const h = headersSize(r.headers, at);
    hb = h.bytes;
    hc = h.count;
  }
  // attributes, timestampDelta 0, offsetDelta 0, key, value, headers
  const body = 3 + fieldBytes(kl) + fieldBytes(vl) + sizeOfVarint(hc) + hb;
  return sizeOfVarint(body) + body;
}

// ---- accumulator state -----------------------------------------------------------

/** One send call: its records' results, and how it ends. */
class SendOp {
  readonly results: RecordMetadata[];
  readonly acks: Acks;
  readonly single: boolean;
  readonly now: number;
  remaining: number;
  settled = false;
  resolve!: (v: RecordMetadata | RecordMetadata[]) => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<RecordMetadata | RecordMetadata[]>;
  /** Resolves when every record is acknowledged or the send failed (flush waits on it). */
  done!: () => void;
  readonly finished: Promise<void>;

  constructor(count: number, acks: Acks, single: boolean, now: number) {
    this.results = new Array(count);
    this.remaining = count;
    this.acks = acks;
    this.single = single;
    this.now = now;
    this.promise = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.finished = new Promise((res) => (this.done = res));
  }
}

/** An accepted send's records, before they are placed in batches. */
interface Pending {
  op: SendOp;
  records: readonly SendRecord[];
  sizes: number[];
  bytes: number;
  expectedOffset: number;
  timer: NodeJS.Timeout | null;
}

class Batch {
  readonly records: ProducerRecord[] = [];
  readonly ops: SendOp[] = [];
  /** Index of each record in its send. */
  readonly indexes: number[] = [];
  /** Estimated bytes of the records (with delta slack), for batch limits and the buffer. */
  bytes = 0;
  readonly now: number;
  readonly createdAt: number;
  closed = false;
  expectedOffset = -1;
  durable = false;
  /** The batch's bytes, kept once a retry needs them. */
  encoded: Buffer | null = null;
  sequenced = false;
  /** Where #encode put the batch in the run buffer. */
  encodedAt = 0;
  encodedEnd = 0;
  baseSequence = -1;

  constructor(now: number) {
    this.now = now;
    this.createdAt = Date.now();
  }
}

class PartitionQueue {
  readonly topic: TopicHandle;
  readonly index: number;
  readonly batches: Batch[] = [];
  nextSequence = 0;
  /** A retry is pending: nothing else of this partition is appended until it ends. */
  busy = false;

  constructor(topic: TopicHandle, index: number) {
    this.topic = topic;
    this.index = index;
  }

  get open(): Batch | undefined {
    const last = this.batches[this.batches.length - 1];
    return last !== undefined && !last.closed ? last : undefined;
  }
}

export class Producer {
  readonly options: ResolvedProducerOptions;
  readonly #host: ProducerHost;
  readonly #queues = new Map<TopicHandle, PartitionQueue[]>();
  readonly #sticky = new Map<TopicHandle, StickyPartition>();
  readonly #waiting: Pending[] = [];
  readonly #outstanding = new Set<SendOp>();
  #buffered = 0;
  #immediate: NodeJS.Immediate | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;
  /** A batch closed full since the last drain. */
  #full = false;
  #flushing = 0;
  #closing: Promise<void> | null = null;
  #id: { producerId: number; epoch: number } | null = null;
  #init: Promise<void> | null = null;
  #fatal: TidelogError | Error | null = null;
  /** Failures of acks:'none' sends, reported by the next flush(). */
  #unreported: unknown[] = [];
  #pumping = false;
  readonly #encoder = new BatchEncoder(64 * 1024);
  #runBuffer = Buffer.allocUnsafe(64 * 1024);

  constructor(host: ProducerHost, options?: ProducerOptions) {
    this.options = resolveProducerOptions(options);
    this.#host = host;
  }

  /** The producer id and epoch (null before the first send of an idempotent producer, or when not idempotent). */
  get producerId(): { producerId: number; epoch: number } | null {
    return this.#id;
  }

  /** Bytes of records accepted and not yet acknowledged. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Sends one record (resolves to its metadata) or an array (resolves to one
   * metadata per record, in order), acknowledged at `acks`. A record that is
   * invalid fails its whole send before anything is queued.
   */
  send(record: SendRecord, options?: SendOptions): Promise<RecordMetadata>;
  send(records: readonly SendRecord[], options?: SendOptions): Promise<RecordMetadata[]>;
  send(input: SendRecord | readonly SendRecord[], options?: SendOptions): Promise<RecordMetadata | RecordMetadata[]> {
    try {
      if (this.#closing) throw new ProducerClosedError('send after close(): the producer is closed');
      if (this.#fatal) throw this.#fatal;
      const single = !Array.isArray(input);
      const records = (single ? [input] : input) as readonly SendRecord[];
      if (!single && records.length === 0) throw new InvalidArgumentError('send takes a record or a non-empty array of records');
      let acks = this.options.acks;
      let expectedOffset = -1;
      if (options !== undefined) {
        const given = checkOptionsObject(options, 'send');
        rejectUnknownOptions(given, SEND_OPTIONS, 'send');
        if (given.acks !== undefined) acks = checkAcks(given.acks);
        if (given.expectedOffset !== undefined) {
          const e = given.expectedOffset;
          if (typeof e !== 'number' || !Number.isSafeInteger(e) || e < 0) {
            throw new InvalidArgumentError(`option expectedOffset must be a non-negative integer, got ${describe(e)}`);
          }
          expectedOffset = e;
        }
      }
      const sizes: number[] = new Array(records.length);
      let bytes = 0;
      let needsTopic = false;
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const at = single ? -1 : i;
        if (r === null || typeof r !== 'object') {
          throw new InvalidArgumentError(`${label(at)} must be an object { topic, key?, value, headers?, timestamp?, partition? }, got ${describe(r)}`);
        }
        if (typeof r.topic !== 'string' || r.topic.length === 0) throw new InvalidArgumentError(`${label(at)}: topic must be a non-empty string, got ${describe(r.topic)}`);
        const p = r.partition;
        if (p !== undefined && (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0)) {
          throw new InvalidArgumentError(`${label(at)}: partition must be a non-negative integer, got ${describe(p)}`);
        }
        const topic = this.#host.topic(r.topic);
        if (topic === undefined) {
          if (!this.#host.autoCreateTopics()) throw new UnknownTopicError(r.topic, `${label(at)}: topic ${describe(r.topic)} does not exist (and the store does not create topics on use)`);
          needsTopic = true;
        }
        sizes[i] = recordSize(r, at) + DELTA_SLACK;
        bytes += sizes[i];
      }
      if (expectedOffset >= 0) {
        if (acks === 'none') throw new InvalidArgumentError("a send with expectedOffset needs acks 'written' or 'durable' to learn whether it conflicted");
        const { topic, partition } = records[0];
        if (partition === undefined) throw new InvalidArgumentError('a send with expectedOffset must give its records an explicit partition');
        if (records.some((r) => r.topic !== topic || r.partition !== partition)) {
          throw new InvalidArgumentError('a send with expectedOffset must send every record to the same topic and partition');
        }
      }
      if (bytes > this.options.bufferBytes) {
        throw new RecordTooLargeError(`send of ${bytes} bytes (estimated) can never fit in the producer's bufferBytes (${this.options.bufferBytes})`);
      }
      const op = new SendOp(records.length, acks, single, Date.now());
      const pending: Pending = { op, records, sizes, bytes, expectedOffset, timer: null };
      if (!needsTopic && this.#waiting.length === 0 && this.#buffered + bytes <= this.options.bufferBytes) {
        this.#accept(pending);
      } else {
        this.#wait(pending);
      }
      return op.promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends every batch now (lingerMs aside) and resolves when every send made before the call is acknowledged (or failed). */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      const ops = [...this.#outstanding, ...this.#waiting.map((w) => w.op)];
      this.#scheduleDrain(true);
      await Promise.all(ops.map((o) => o.finished));
    } finally {
      this.#flushing--;
    }
    if (this.#unreported.length > 0) {
      const err = this.#unreported[0];
      this.#unreported = [];
      throw err;
    }
  }

  /** Refuses new sends, flushes, and detaches from the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.flush();
      } finally {
        if (this.#immediate) clearImmediate(this.#immediate);
        if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
        this.#host.producerClosed(this);
      }
    })();
    return this.#closing;
  }

  // ---- accepting sends ---------------------------------------------------------

  #wait(p: Pending): void {
    this.#waiting.push(p);
    // Like Kafka's accumulator when memory is exhausted: append what is buffered now, lingerMs aside.
    this.#scheduleDrain(true);
    if (this.options.maxBlockMs >= 0) {
      p.timer = setTimeout(() => {
        const i = this.#waiting.indexOf(p);
        if (i < 0) return;
        this.#waiting.splice(i, 1);
        const missing = p.records.find((r) => this.#host.topic(r.topic) === undefined);
        const why = missing
          ? `for topic ${describe(missing.topic)} to be created`
          : i > 0
            ? `behind ${i} earlier sends waiting for buffer space`
            : `for buffer space (${this.#buffered} of ${this.options.bufferBytes} bytes pending, ${p.bytes} needed)`;
        this.#fail(p.op, new BufferFullError(`send waited ${this.options.maxBlockMs} ms (maxBlockMs) ${why}`));
        this.#pump();
      }, this.options.maxBlockMs);
    }
    this.#pump();
  }

  /** Accepts waiting sends in order while they fit; starts topic creation for the first one if it needs it. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0) {
        const p = this.#waiting[0];
        const missing = p.records.find((r) => this.#host.topic(r.topic) === undefined);
        if (missing !== undefined && !this.#host.autoCreateTopics()) {
          // Deleted while the send waited.
          this.#waiting.shift();
          if (p.timer) clearTimeout(p.timer);
          this.#fail(p.op, new UnknownTopicError(missing.topic, `topic ${describe(missing.topic)} does not exist (it was deleted while the send waited)`));
          continue;
        }
        if (missing !== undefined) {
          this.#host.ensureTopic(missing.topic).then(
            () => this.#pump(),
            (err) => {
              const i = this.#waiting.indexOf(p);
              if (i < 0) return;
              this.#waiting.splice(i, 1);
              if (p.timer) clearTimeout(p.timer);
              this.#fail(p.op, err);
              this.#pump();
            },
          );
          break;
        }
        if (this.#buffered + p.bytes > this.options.bufferBytes) break;
        this.#waiting.shift();
        if (p.timer) clearTimeout(p.timer);
        try {
          this.#accept(p);
        } catch (err) {
          this.#fail(p.op, err);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Chooses partitions (all checked before any record is queued), then queues the records in batches. */
  #accept(p: Pending): void {
    const { op, records, sizes } = p;
    const n = records.length;
    const parts = new Array<PartitionQueue>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i];
      const at = op.single ? -1 : i;
      const topic = this.#host.topic(r.topic);
      if (topic === undefined) throw new UnknownTopicError(r.topic, `${label(at)}: topic ${describe(r.topic)} does not exist`);
      const count = topic.partitions.length;
      let partition = r.partition;
      if (partition === undefined) {
        const custom = this.options.partitioner;
        if (custom !== null) {
          partition = custom({ topic: r.topic, key: r.key, value: r.value }, count);
          if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0 || partition >= count) {
            throw new InvalidArgumentError(`${label(at)}: the partitioner returned ${describe(partition)}, not a partition of topic ${describe(r.topic)} (0 to ${count - 1})`);
          }
        } else if (r.key !== undefined && r.key !== null) {
          partition = count === 1 ? 0 : partitionForKey(r.key, count);
        } else {
          let sticky = this.#sticky.get(topic);
          if (sticky === undefined) this.#sticky.set(topic, (sticky = new StickyPartition(this.options.batchBytes)));
          partition = sticky.choose(count, sizes[i]);
        }
      } else if (partition >= count) {
        throw new InvalidArgumentError(`${label(at)}: partition ${partition} of topic ${describe(r.topic)} does not exist: it has partitions 0 to ${count - 1}`);
      }
      const q = this.#queue(topic, partition);
      const limit = this.#maxBatchBytes(q);
      if (HEADER_SIZE + sizes[i] - DELTA_SLACK > limit) {
        throw new RecordTooLargeError(
          `${label(at)} is ${HEADER_SIZE + sizes[i] - DELTA_SLACK} bytes in a batch of its own, over maxMessageBytes ${limit} of ${topic.name}-${partition}`,
        );
      }
      parts[i] = q;
    }
    this.#buffered += p.bytes;
    this.#outstanding.add(op);
    if (p.expectedOffset >= 0) {
      let total = HEADER_SIZE;
      for (const s of sizes) total += s;
      const q = parts[0];
      if (total > this.#maxBatchBytes(q)) {
        this.#buffered -= p.bytes;
        this.#outstanding.delete(op);
        throw new RecordTooLargeError(
          `a send with expectedOffset is appended as one batch: its ${n} records take up to ${total} bytes, over maxMessageBytes ${this.#maxBatchBytes(q)} of ${q.topic.name}-${q.index}`,
        );
      }
      const open = q.open;
      if (open) open.closed = true;
      this.#full = true;
      const b = new Batch(op.now);
      b.expectedOffset = p.expectedOffset;
      for (let i = 0; i < n; i++) this.#add(b, records[i], op, i, sizes[i]);
      b.closed = true;
      q.batches.push(b);
    } else if (n === 1 || parts.every((q) => q === parts[0])) {
      this.#place(parts[0], records, op, n === 1 ? ONE : Array.from({ length: n }, (_, i) => i), p.bytes, sizes);
    } else {
      // The records of this send for each partition, in order.
      const groups = new Map<PartitionQueue, number[]>();
      for (let i = 0; i < n; i++) {
        const list = groups.get(parts[i]);
        if (list) list.push(i);
        else groups.set(parts[i], [i]);
      }
      for (const [q, idx] of groups) {
        let bytes = 0;
        for (const i of idx) bytes += sizes[i];
        this.#place(q, records, op, idx, bytes, sizes);
      }
    }
    if (op.acks === 'none') this.#resolveEarly(op, parts, records);
    this.#scheduleDrain(false);
  }

  /**
   * Puts one send's records for one partition in the open batch if it then
   * stays within batchBytes, else in a new batch; they are split only where
   * they would exceed maxMessageBytes.
   */
  #place(q: PartitionQueue, records: readonly SendRecord[], op: SendOp, idx: readonly number[], bytes: number, sizes: number[]): void {
    const target = this.options.batchBytes;
    const max = this.#maxBatchBytes(q);
    let b = q.open;
    if (b !== undefined && b.records.length > 0 && HEADER_SIZE + b.bytes + bytes > target) {
      b.closed = this.#full = true;
      b = undefined;
    }
    for (const i of idx) {
      if (b === undefined || (b.records.length > 0 && HEADER_SIZE + b.bytes + sizes[i] > max)) {
        if (b) b.closed = this.#full = true;
        b = new Batch(op.now);
        q.batches.push(b);
      }
      this.#add(b, records[i], op, i, sizes[i]);
    }
    if (b !== undefined && HEADER_SIZE + b.bytes >= target) b.closed = this.#full = true;
  }

  #add(b: Batch, r: SendRecord, op: SendOp, index: number, size: number): void {
    // Records without a timestamp get their send's time; the batch encodes with the
    // time of its first send, so a later send's records are stamped explicitly.
    const rec: ProducerRecord = r.timestamp === undefined && op.now !== b.now ? { key: r.key, value: r.value, headers: r.headers, timestamp: op.now } : r;
    b.records.push(rec);
    b.ops.push(op);
    b.indexes.push(index);
    b.bytes += size;
    if (op.acks === 'durable') b.durable = true;
  }

  /** The largest batch the partition's log takes (minus room for an LZ4 frame's overhead when compressing). */
  #maxBatchBytes(q: PartitionQueue): number {
    const partition = q.topic.partitions[q.index];
    let max = q.topic.config.maxMessageBytes;
    if (partition) max = Math.min(max, partition.openConfig.maxMessageBytes);
    return this.#compression(q.topic) === 'lz4' ? max - lz4Margin(max) : max;
  }

  #compression(topic: TopicHandle): CompressionOption {
    const c = topic.config.compression;
    return c === 'producer' ? this.options.compression : c;
  }

  #queue(topic: TopicHandle, partition: number): PartitionQueue {
    let list = this.#queues.get(topic);
    if (list === undefined) this.#queues.set(topic, (list = []));
    let q = list[partition];
    if (q === undefined) list[partition] = q = new PartitionQueue(topic, partition);
    return q;
  }

  /** acks 'none': the send resolves once accepted; offsets are unknown (-1). */
  #resolveEarly(op: SendOp, parts: PartitionQueue[], records: readonly SendRecord[]): void {
    for (let i = 0; i < records.length; i++) {
      op.results[i] = { topic: records[i].topic, partition: parts[i].index, offset: -1, timestamp: records[i].timestamp ?? op.now };
    }
    op.settled = true;
    op.resolve(op.single ? op.results[0] : op.results);
  }

  // ---- draining -----------------------------------------------------------------

  /** Drains at the end of this turn (force, lingerMs 0, a flush, or a full batch), else when the oldest open batch's linger ends. */
  #scheduleDrain(force: boolean): void {
    if (force || this.options.lingerMs === 0 || this.#flushing > 0 || this.#full) {
      this.#immediate ??= setImmediate(() => {
        this.#immediate = null;
        this.#drain();
      });
      return;
    }
    // A new batch lingers no less than the open ones: an armed timer is early enough.
    if (this.#lingerTimer !== null) return;
    let earliest = Infinity;
    for (const list of this.#queues.values()) {
      for (const q of list) {
        const b = q?.batches[0];
        if (b !== undefined && !q.busy) earliest = Math.min(earliest, b.createdAt + this.options.lingerMs);
      }
    }
    if (earliest === Infinity) return;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = null;
      this.#drain();
    }, Math.max(0, earliest - Date.now()));
  }

  #drain(): void {
    if (this.options.idempotent && this.#id === null && this.#fatal === null) {
      // The first drain waits for the store to allocate the producer id.
      this.#init ??= this.#host
        .allocateProducerId(this.options.name ?? undefined)
        .then(
          (id) => {
            this.#id = id;
          },
          (err) => {
            this.#fatal = err as Error;
          },
        )
        .then(() => this.#drain());
      return;
    }
    this.#full = false;
    const now = Date.now();
    const all = this.#flushing > 0 || this.options.lingerMs === 0 || this.#waiting.length > 0;
    let lingering = false;
    for (const list of this.#queues.values()) {
      for (const q of list) {
        if (q === undefined || q.busy || q.batches.length === 0) continue;
        let n = 0;
        while (n < q.batches.length) {
          const b = q.batches[n];
          if (!(b.closed || all || now - b.createdAt >= this.options.lingerMs)) break;
          n++;
        }
        if (n < q.batches.length) lingering = true;
        if (n === 0) continue;
        const ready = q.batches.splice(0, n);
        for (const b of ready) b.closed = true;
        this.#sticky.get(q.topic)?.batchSent(q.index);
        this.#appendAll(q, ready);
      }
    }
    if (lingering) this.#scheduleDrain(false);
  }

  /** Appends a partition's ready batches: one native call per run of batches (a batch with expectedOffset goes alone). */
  #appendAll(q: PartitionQueue, batches: Batch[]): void {
    let start = 0;
    while (start < batches.length) {
      let end = start + 1;
      if (batches[start].expectedOffset < 0) while (end < batches.length && batches[end].expectedOffset < 0) end++;
      const run = batches.slice(start, end);
      start = end;
      if (!this.#appendRun(q, run, 0)) {
        // A retry is pending: what follows waits for it.
        q.batches.unshift(...batches.slice(start));
        return;
      }
    }
  }

  /** Appends one run of batches; returns false when a retry was scheduled (the partition is then busy). */
  #appendRun(q: PartitionQueue, run: Batch[], attempt: number): boolean {
    let bytes: Buffer;
    let partition: Partition;
    try {
      if (this.#fatal) throw this.#fatal;
      if (q.topic.deleted) throw new UnknownTopicError(q.topic.name, `topic ${describe(q.topic.name)} was deleted`);
      const p = q.topic.partitions[q.index];
      if (p === null || p === undefined) throw new UnknownTopicError(q.topic.name, `partition ${q.topic.name}-${q.index} is not open`);
      partition = p;
      const id = this.#id;
      if (id !== null && this.options.name !== null && this.#host.currentEpoch(id.producerId) > id.epoch) {
        this.#fatal = new ProducerFencedError(
          `producer ${describe(this.options.name)} (id ${id.producerId}, epoch ${id.epoch}) is fenced: a newer producer with the same name has epoch ${this.#host.currentEpoch(id.producerId)}`,
        );
        throw this.#fatal;
      }
      bytes = this.#encode(q, run);
    } catch (err) {
      for (const b of run) this.#failBatch(b, err);
      return true;
    }
    let result;
    try {
      result = partition.appendNow(bytes, run[0].expectedOffset);
    } catch (err) {
      if (err instanceof ProducerFencedError) this.#fatal = err;
      for (const b of run) this.#failBatch(b, err);
      return true;
    }
    const { batches, written, appended } = result;
    if (written) {
      const last = run[run.length - 1];
      if (last.baseSequence >= 0) q.nextSequence = incrementSequence(last.baseSequence, last.records.length);
    }
    const settle = (logAppendTime: number) => {
      for (let i = 0; i < run.length; i++) this.#complete(q, run[i], batches[i].baseOffset, logAppendTime, partition);
    };
    if (appended === null) {
      settle(-1);
      return true;
    }
    if (!written) {
      q.busy = true;
      this.#keepForRetry(run, bytes);
    }
    appended.then(
      (r) => settle(r.logAppendTime),
      (err: TidelogError) => {
        if (err?.retriable && attempt < this.options.retries) {
          // Retried with the same bytes (same sequence numbers): if they did reach
          // the log, the partition answers with their original offsets.
          q.busy = true;
          setTimeout(() => {
            if (this.#appendRun(q, run, attempt + 1)) {
              q.busy = false;
              this.#scheduleDrain(false);
            }
          }, this.options.retryBackoffMs);
          return;
        }
        for (const b of run) this.#failBatch(b, err);
        q.busy = false;
        this.#scheduleDrain(false);
      },
    );
    return written;
  }

  /**
   * Encodes the batches of a run (the first time: assigns their sequence
   * numbers) with the producer's reused encoder, into one reused buffer. The
   * result is valid until the next #encode; #keepForRetry copies it.
   */
  #encode(q: PartitionQueue, run: Batch[]): Buffer {
    const compression = this.#compression(q.topic);
    const id = this.#id;
    let seq = q.nextSequence;
    let size = 0;
    for (const b of run) {
      let bytes = b.encoded;
      if (bytes === null) {
        // A batch encoded before (its append's outcome was unclear) keeps its sequence: same bytes again.
        if (!b.sequenced) b.baseSequence = id === null ? -1 : seq;
        b.sequenced = true;
        bytes = this.#encoder.encode(b.records, {
          compression,
          now: b.now,
          producerId: id === null ? -1 : id.producerId,
          producerEpoch: id === null ? -1 : id.epoch,
          baseSequence: b.baseSequence,
          maxRecordBytes: 0,
          computeCrc: true,
        });
      }
      if (b.baseSequence >= 0) seq = incrementSequence(b.baseSequence, b.records.length);
      if (run.length === 1) return bytes; // the encoder's view: appended before the next encode
      if (this.#runBuffer.length < size + bytes.length) {
        const next = Buffer.allocUnsafe(Math.max(size + bytes.length, 2 * this.#runBuffer.length));
        this.#runBuffer.copy(next, 0, 0, size);
        this.#runBuffer = next;
      }
      bytes.copy(this.#runBuffer, size);
      b.encodedAt = size;
      b.encodedEnd = size += bytes.length;
    }
    return this.#runBuffer.subarray(0, size);
  }

  /** A run that will be retried keeps private copies of its batches' bytes. */
  #keepForRetry(run: Batch[], bytes: Buffer): void {
    for (const b of run) {
      if (b.encoded !== null) continue;
      b.encoded = Buffer.from(run.length === 1 ? bytes : bytes.subarray(b.encodedAt, b.encodedEnd));
    }
  }

  /** A batch is in the log at `baseOffset`: resolve its records (after a sync for acks 'durable'), then free its buffer bytes. */
  #complete(q: PartitionQueue, b: Batch, baseOffset: number, logAppendTime: number, partition: Partition): void {
    const resolveRecords = (durable: boolean) => {
      const topic = q.topic.name;
      for (let k = 0; k < b.records.length; k++) {
        const op = b.ops[k];
        if ((op.acks === 'durable') !== durable || op.remaining <= 0) continue;
        if (op.acks !== 'none') {
          const timestamp = logAppendTime >= 0 ? logAppendTime : (b.records[k].timestamp ?? b.now);
          op.results[b.indexes[k]] = { topic, partition: q.index, offset: baseOffset + k, timestamp };
        }
        if (--op.remaining === 0) this.#settle(op);
      }
    };
    resolveRecords(false);
    if (!b.durable) {
      this.#release(b);
      return;
    }
    partition.log.flush().then(
      () => {
        resolveRecords(true);
        this.#release(b);
      },
      (err) => this.#failBatch(b, err, true),
    );
  }

  #settle(op: SendOp): void {
    this.#outstanding.delete(op);
    if (!op.settled) {
      op.settled = true;
      op.resolve(op.single ? op.results[0] : op.results);
    }
    op.done();
  }

  #fail(op: SendOp, err: unknown): void {
    this.#outstanding.delete(op);
    if (!op.settled) {
      op.settled = true;
      op.reject(err);
    } else if (op.acks === 'none') {
      this.#unreported.push(err);
    }
    op.done();
  }

  #failBatch(b: Batch, err: unknown, durableOnly = false): void {
    for (let k = 0; k < b.ops.length; k++) {
      const op = b.ops[k];
      if (durableOnly && op.acks !== 'durable') continue;
      if (op.remaining > 0) {
        op.remaining = 0;
        this.#fail(op, err);
      }
    }
    this.#release(b);
  }

  #release(b: Batch): void {
    if (b.bytes === 0) return;
    this.#buffered -= b.bytes;
    b.bytes = 0;
    if (this.#waiting.length > 0) this.#pump();
  }
}
