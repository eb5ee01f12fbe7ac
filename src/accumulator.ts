/**
 * The producer's record accumulator (Kafka's RecordAccumulator): per
 * partition, a queue of batches; the last one is open and takes new records.
 *
 * Records are encoded into their batch when their send is accepted: each
 * batch is a BatchBuilder (src/record/builder.ts) over a buffer from a small
 * pool, so appending it later costs a 61-byte header and one native call, not
 * a second pass over its records. A send's records are checked and measured
 * once (src/record/measure.ts) before any is placed, and no code of the
 * caller's runs between the last check and the last write, so a send is
 * placed whole or not at all.
 *
 * Batching rules: a batch closes once it holds batchBytes; the records one
 * send gives one partition go in one batch (so they are appended all or
 * nothing) unless they exceed the partition's maxMessageBytes; sends never
 * overtake each other within a partition. Limits use an upper bound of each
 * record's size (its size alone + DELTA_SLACK), the exact bytes are the
 * builder's.
 *
 * Buffers: a batch takes a buffer from the pool (or allocates one) sized for
 * what it will hold and gives it back once appended; the pool keeps at most
 * POOL_BYTES. A batch kept for a retry keeps its buffer until it is done.
 */
import { type Acks, type CompressionOption, describe } from './config.js';
import { InvalidArgumentError, RecordTooLargeError } from './errors.js';
import type { Partition } from './partition.js';
import { StickyPartition, partitionForKey } from './partitioner.js';
import type { RecordMetadata, ResolvedProducerOptions, SendRecord, TopicHandle } from './producer-options.js';
import { BatchBuilder } from './record/builder.js';
import { HEADER_SIZE } from './record/format.js';
import { type RecordsMeasure, assertUnchanged, recordLabel as label } from './record/measure.js';

/** Bytes a record may grow by inside a batch (offset and timestamp deltas, length varint) over its size alone. */
export const DELTA_SLACK = 14;
/** Room kept below maxMessageBytes for an LZ4 frame of incompressible records. */
const lz4Margin = (bytes: number) => 64 + (bytes >>> 8);
/** Most bytes of idle batch buffers the pool keeps. */
const POOL_BYTES = 4 * 1024 * 1024;
/** Smallest buffer a batch starts with. */
const MIN_BATCH_BUFFER = 1024;

/** Upper bound of the bytes record i of `m` takes in a batch: its size alone + DELTA_SLACK. */
export function estimateOf(m: RecordsMeasure, i: number): number {
  return m.alone[i] + DELTA_SLACK;
}

/** Upper bound of the bytes all of m's records take in batches: what they hold of the producer's buffer. */
export function estimateAll(m: RecordsMeasure): number {
  return m.aloneBytes + m.count * DELTA_SLACK;
}

/** Where a send's records go, as the producer checked them. */
export interface SendTargets {
  /** The topic of every record, or null when they differ (then `topics`). */
  topic: TopicHandle | null;
  /** Per record, its topic (when `topic` is null). */
  topics: TopicHandle[];
  /** Per record, its explicit partition or -1. */
  partitions: Float64Array;
  /** Some record names its partition. */
  explicit: boolean;
  /** Every record names the same partition. */
  samePartition: boolean;
}

/** The SendOp whose promise is being made: takeResolvers hands it its functions (no closure per send). */
let constructing: SendOp;
function takeResolvers(resolve: (v: RecordMetadata | RecordMetadata[]) => void, reject: (err: unknown) => void): void {
  constructing.resolve = resolve;
  constructing.reject = reject;
}

/** One send call: its records' results, and how it ends. */
export class SendOp {
  /** Per record of the send, its metadata (created once its batch is appended; for acks 'none', when placed). */
  readonly results: RecordMetadata[];
  readonly acks: Acks;
  readonly single: boolean;
  /** When a send waits (for buffer space, a topic): its time, the timestamp of its records without one. */
  now = -1;
  remaining: number;
  settled = false;
  /** In the producer's list of accepted sends not yet over (see Producer.#track). */
  tracked = false;
  resolve!: (v: RecordMetadata | RecordMetadata[]) => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<RecordMetadata | RecordMetadata[]>;
  #ended = false;
  #finished: Promise<void> | null = null;
  #resolveFinished: (() => void) | null = null;

  constructor(count: number, acks: Acks, single: boolean) {
    this.results = new Array(count);
    this.remaining = count;
    this.acks = acks;
    this.single = single;
    constructing = this;
    this.promise = new Promise(takeResolvers);
  }

  /** Resolves when every record is acknowledged or the send failed (flush waits on it; made only when asked). */
  get finished(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#finished ??= new Promise((res) => (this.#resolveFinished = res));
    return this.#finished;
  }

  /** True once the send is over (settled or failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The send is over (settled or failed). */
  done(): void {
    this.#ended = true;
    this.#resolveFinished?.();
  }
}

/**
 * What a batch is built in, reused from batch to batch through the pool:
 * the encoded bytes, and per record its timestamp and its index in its send
 * (to create its metadata once the batch is appended).
 */
export interface BatchMemory {
  buffer: Buffer;
  stamps: Float64Array;
  indexes: Int32Array;
}

/** A batch of one partition: its encoded records, and whose they are. */
export class Batch {
  readonly queue: PartitionQueue;
  readonly builder: BatchBuilder;
  /** Per record, in offset order: its timestamp and its index in its send. */
  stamps: Float64Array;
  indexes: Int32Array;
  count = 0;
  /** The sends of the records, in runs: ops[k] owns the next opCounts[k] records. */
  readonly ops: SendOp[] = [];
  readonly opCounts: number[] = [];
  /** Upper bound of the records' bytes, for batch limits and the producer's buffer. */
  bytes = 0;
  readonly createdAt: number;
  closed = false;
  expectedOffset = -1;
  /** Some record waits for a sync (acks 'durable'). */
  durable = false;
  /** Sequence numbers assigned (the first time the batch was appended). */
  sequenced = false;
  baseSequence = -1;
  /** The finished batch (header written, compressed when asked), kept while an append of it may be retried. */
  finished: Buffer | null = null;
  /** Its memory went back to the pool. */
  recycled = false;

  constructor(queue: PartitionQueue, memory: BatchMemory) {
    this.queue = queue;
    this.builder = new BatchBuilder(memory.buffer);
    this.stamps = memory.stamps;
    this.indexes = memory.indexes;
    this.createdAt = Date.now();
  }

  /** Room for `more` records in stamps and indexes. */
  reserve(more: number): void {
    const need = this.count + more;
    if (need <= this.stamps.length) return;
    const n = Math.max(need, 2 * this.stamps.length);
    const stamps = new Float64Array(n);
    stamps.set(this.stamps.subarray(0, this.count));
    const indexes = new Int32Array(n);
    indexes.set(this.indexes.subarray(0, this.count));
    this.stamps = stamps;
    this.indexes = indexes;
  }
}

export class PartitionQueue {
  readonly topic: TopicHandle;
  readonly index: number;
  readonly batches: Batch[] = [];
  nextSequence = 0;
  /** A retry is pending: nothing else of this partition is appended until it ends. */
  busy = false;
  /** While a send is placed: the indexes of its records for this partition (reused), and their estimated bytes. */
  readonly placing: number[] = [];
  placingBytes = 0;

  constructor(topic: TopicHandle, index: number) {
    this.topic = topic;
    this.index = index;
  }

  get open(): Batch | undefined {
    // Not batches[length - 1] on an empty list: the key -1 is a property name, a slow generic lookup.
    const n = this.batches.length;
    if (n === 0) return undefined;
    const last = this.batches[n - 1];
    return last.closed ? undefined : last;
  }

  get partition(): Partition | null {
    return this.topic.partitions[this.index] ?? null;
  }
}

export class Accumulator {
  readonly #options: ResolvedProducerOptions;
  readonly #queues = new Map<TopicHandle, PartitionQueue[]>();
  readonly #sticky = new Map<TopicHandle, StickyPartition>();
  readonly #pool: BatchMemory[] = [];
  /** The queues a send being placed goes to (reused). */
  readonly #touched: PartitionQueue[] = [];
  #pooledBytes = 0;
  /** A batch closed full since the last drain. */
  full = false;

  constructor(options: ResolvedProducerOptions) {
    this.#options = options;
  }

  /** Every partition queue (holes for partitions never written). */
  queues(): IterableIterator<PartitionQueue[]> {
    return this.#queues.values();
  }

  queue(topic: TopicHandle, partition: number): PartitionQueue {
    const list = this.#list(topic);
    let q = list[partition];
    if (q === undefined) list[partition] = q = new PartitionQueue(topic, partition);
    return q;
  }

  /** A partition's batches were handed to the sender: the topic's sticky partition moves on. */
  batchSent(q: PartitionQueue): void {
    this.#sticky.get(q.topic)?.batchSent(q.index);
  }

  /** The codec of a topic's batches. */
  compression(topic: TopicHandle): CompressionOption {
    const c = topic.config.compression;
    return c === 'producer' ? this.#options.compression : c;
  }

  /** The largest batch the partition's log takes (minus room for an LZ4 frame's overhead when compressing). */
  maxBatchBytes(q: PartitionQueue): number {
    const partition = q.topic.partitions[q.index];
    let max = q.topic.config.maxMessageBytes;
    if (partition) max = Math.min(max, partition.openConfig.maxMessageBytes);
    return this.compression(q.topic) === 'lz4' ? max - lz4Margin(max) : max;
  }

  /**
   * Places a send's records (measured into `m`) in batches. `t` says where
   * they go, as the producer checked it. First chooses each record's
   * partition and checks every record fits its partition's maxMessageBytes;
   * throws, with nothing placed, on a bad partition or a record too large.
   * Then writes the records into their partitions' batches: nothing can fail
   * there.
   */
  place(op: SendOp, records: readonly SendRecord[], t: Readonly<SendTargets>, m: RecordsMeasure, expectedOffset: number): void {
    const n = records.length;
    const single = op.single;
    const touched = this.#touched;
    try {
      // 1. Partitions: the records of each queue gather in its `placing` list,
      //    unless the whole send goes to one partition of a one-topic send.
      let only: PartitionQueue | null = null;
      const topic = t.topic;
      if (topic !== null && this.#options.partitioner === null) {
        if (!t.explicit && topic.partitions.length === 1) only = this.queue(topic, 0);
        else if (t.explicit && t.samePartition) only = this.queue(topic, this.#checkPartition(topic, t.partitions[0], 0, single));
      }
      if (only !== null) {
        touched.push(only);
      } else {
        let lastTopic: TopicHandle | null = null;
        let lastList: PartitionQueue[] = [];
        for (let i = 0; i < n; i++) {
          const tp = topic ?? t.topics[i];
          if (tp !== lastTopic) {
            lastTopic = tp;
            lastList = this.#list(tp);
          }
          const p = this.#choose(t.partitions[i], tp, m, i, single);
          let q = lastList[p];
          if (q === undefined) lastList[p] = q = new PartitionQueue(tp, p);
          if (q.placing.length === 0) touched.push(q);
          q.placing.push(i);
          q.placingBytes += estimateOf(m, i);
        }
        // A custom partitioner is code of the caller's: it could have resized a
        // measured Uint8Array. Checked now, nothing can fail once writing starts.
        if (this.#options.partitioner !== null) assertUnchanged(m, single);
      }
      // 2. Sizes, against each partition's maxMessageBytes.
      for (const q of touched) {
        const limit = this.maxBatchBytes(q);
        if (HEADER_SIZE + m.aloneMax <= limit && expectedOffset < 0) continue;
        let bytes = 0;
        for (let k = 0, count = q === only ? n : q.placing.length; k < count; k++) {
          const i = q === only ? k : q.placing[k];
          const alone = HEADER_SIZE + m.alone[i];
          if (alone > limit) {
            throw new RecordTooLargeError(
              `${label(i, single)} is ${alone} bytes in a batch of its own, over maxMessageBytes ${limit} of ${q.topic.name}-${q.index}`,
            );
          }
          bytes += estimateOf(m, i);
        }
        if (expectedOffset >= 0 && HEADER_SIZE + bytes > limit) {
          throw new RecordTooLargeError(
            `a send with expectedOffset is appended as one batch: its ${n} records take up to ${HEADER_SIZE + bytes} bytes, over maxMessageBytes ${limit} of ${q.topic.name}-${q.index}`,
          );
        }
      }
      // 3. Place. From here on nothing can fail: the writes use what was measured.
      if (touched.length === 1) {
        const q = touched[0];
        const idx = q === only ? null : q.placing;
        const bytes = estimateAll(m);
        if (expectedOffset >= 0) {
          const open = q.open;
          if (open) open.closed = true;
          this.full = true;
          const b = this.#newBatch(q, HEADER_SIZE + bytes, n);
          b.bytes = bytes;
          b.expectedOffset = expectedOffset;
          this.#addRun(b, op, m, idx, 0, n);
          b.closed = true;
          q.batches.push(b);
        } else {
          this.#placeRecords(q, op, m, idx, n, bytes);
        }
        return;
      }
      for (const q of touched) this.#placeRecords(q, op, m, q.placing, q.placing.length, q.placingBytes);
    } finally {
      // (Setting an array's length is a runtime call: only when needed.)
      for (const q of touched) {
        if (q.placing.length !== 0) q.placing.length = 0;
        q.placingBytes = 0;
      }
      // pop() is inlined; setting length is a runtime call (~50 ns a send in P3).
      while (touched.length !== 0) touched.pop();
    }
  }

  /** The batch's memory goes back to the pool (the batch is appended, or failed for good). Idempotent. */
  recycle(b: Batch): void {
    if (b.recycled) return;
    b.recycled = true;
    b.finished = null;
    const buffer = b.builder.buffer;
    if (this.#pooledBytes + buffer.length > POOL_BYTES) return;
    this.#pool.push({ buffer, stamps: b.stamps, indexes: b.indexes });
    this.#pooledBytes += buffer.length;
  }

  #list(topic: TopicHandle): PartitionQueue[] {
    let list = this.#queues.get(topic);
    if (list === undefined) this.#queues.set(topic, (list = []));
    return list;
  }

  #checkPartition(topic: TopicHandle, partition: number, i: number, single: boolean): number {
    const count = topic.partitions.length;
    if (partition >= count) {
      throw new InvalidArgumentError(
        `${label(i, single)}: partition ${partition} of topic ${describe(topic.name)} does not exist: it has partitions 0 to ${count - 1}`,
      );
    }
    return partition;
  }

  /** The partition of record i (checked); `explicit`: the one it names, or -1. */
  #choose(explicit: number, topic: TopicHandle, m: RecordsMeasure, i: number, single: boolean): number {
    if (explicit >= 0) return this.#checkPartition(topic, explicit, i, single);
    const count = topic.partitions.length;
    const custom = this.#options.partitioner;
    const key = m.keys[i] as string | Uint8Array | null | undefined;
    if (custom !== null) {
      const p: unknown = custom({ topic: topic.name, key, value: m.values[i] as SendRecord['value'] }, count);
      if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0 || p >= count) {
        throw new InvalidArgumentError(
          `${label(i, single)}: the partitioner returned ${describe(p)}, not a partition of topic ${describe(topic.name)} (0 to ${count - 1})`,
        );
      }
      return p;
    }
    if (key !== undefined && key !== null) return count === 1 ? 0 : partitionForKey(key, count);
    let sticky = this.#sticky.get(topic);
    if (sticky === undefined) this.#sticky.set(topic, (sticky = new StickyPartition(this.#options.batchBytes)));
    return sticky.choose(count, estimateOf(m, i));
  }

  /**
   * Puts `count` records of one send, all for partition q — records 0..count,
   * or idx[0..count) — in its open batch if it then stays within batchBytes,
   * else in a new batch; they are split only where they would exceed
   * maxMessageBytes. `bytes`: their estimated total.
   */
  #placeRecords(q: PartitionQueue, op: SendOp, m: RecordsMeasure, idx: readonly number[] | null, count: number, bytes: number): void {
    const target = this.#options.batchBytes;
    const max = this.maxBatchBytes(q);
    let b = this.#openFor(q, bytes, target);
    if (b === undefined) {
      b = this.#newBatch(q, Math.min(max, Math.max(target, HEADER_SIZE + bytes)), count);
      q.batches.push(b);
    }
    if (HEADER_SIZE + b.bytes + bytes <= max) {
      // All in one batch (the usual case).
      b.bytes += bytes;
      this.#addRun(b, op, m, idx, 0, count);
    } else {
      let runFrom = 0;
      let left = bytes;
      for (let k = 0; k < count; k++) {
        const s = estimateOf(m, idx === null ? k : idx[k]);
        if (b.count + (k - runFrom) > 0 && HEADER_SIZE + b.bytes + s > max) {
          this.#addRun(b, op, m, idx, runFrom, k);
          b.closed = this.full = true;
          b = this.#newBatch(q, Math.min(max, Math.max(target, HEADER_SIZE + left)), count - k);
          q.batches.push(b);
          runFrom = k;
        }
        b.bytes += s;
        left -= s;
      }
      this.#addRun(b, op, m, idx, runFrom, count);
    }
    if (HEADER_SIZE + b.bytes >= target) b.closed = this.full = true;
  }

  /** The queue's open batch if `bytes` more keep it within batchBytes; else closes it (undefined). */
  #openFor(q: PartitionQueue, bytes: number, target: number): Batch | undefined {
    const b = q.open;
    if (b !== undefined && b.count > 0 && HEADER_SIZE + b.bytes + bytes > target) {
      b.closed = this.full = true;
      return undefined;
    }
    return b;
  }

  /**
   * Writes records [from, to) (of idx, when given) into b, with their
   * timestamps and indexes; a send with acks 'none' gets its metadata now
   * (offset -1), the others when the batch is appended.
   */
  #addRun(b: Batch, op: SendOp, m: RecordsMeasure, idx: readonly number[] | null, from: number, to: number): void {
    if (to <= from) return;
    const n = to - from;
    b.builder.add(m, idx, from, to, op.single);
    b.reserve(n);
    const stamps = b.stamps;
    const indexes = b.indexes;
    const at = b.count;
    if (idx === null) {
      if (n > 32) stamps.set(m.stamp.subarray(from, to), at);
      else for (let k = 0; k < n; k++) stamps[at + k] = m.stamp[from + k];
      for (let k = 0; k < n; k++) indexes[at + k] = from + k;
    } else {
      for (let k = 0; k < n; k++) {
        const i = idx[from + k];
        stamps[at + k] = m.stamp[i];
        indexes[at + k] = i;
      }
    }
    b.count = at + n;
    const last = b.ops.length - 1;
    if (last >= 0 && b.ops[last] === op) b.opCounts[last] += n;
    else {
      b.ops.push(op);
      b.opCounts.push(n);
    }
    if (op.acks === 'durable') b.durable = true;
    else if (op.acks === 'none') {
      const topic = b.queue.topic.name;
      const partition = b.queue.index;
      for (let k = at; k < at + n; k++) op.results[indexes[k]] = { topic, partition, offset: -1, timestamp: stamps[k] };
    }
  }

  /** A new batch of q with a buffer of at least `bytes` (from the pool when one fits), expecting about `records` records. */
  #newBatch(q: PartitionQueue, bytes: number, records: number): Batch {
    const want = Math.max(bytes, MIN_BATCH_BUFFER);
    const pool = this.#pool;
    for (let k = pool.length - 1; k >= 0; k--) {
      const mem = pool[k];
      if (mem.buffer.length >= want) {
        pool[k] = pool[pool.length - 1];
        pool.pop();
        this.#pooledBytes -= mem.buffer.length;
        return new Batch(q, mem);
      }
    }
    const n = Math.max(records, 16);
    return new Batch(q, { buffer: Buffer.allocUnsafe(want), stamps: new Float64Array(n), indexes: new Int32Array(n) });
  }
}

