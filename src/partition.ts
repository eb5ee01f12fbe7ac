/**
 * Partition: one partition of a topic in a store — its Log plus, for a
 * writer, its idempotent-producer state (src/producer-state.ts).
 *
 * appendBatches is the producer's (and a broker front end's) way in: whole
 * pre-encoded RecordBatch v2 batches, checked against the producer state
 * (retries answered with their original offsets, sequence gaps and fenced
 * epochs refused) and against `expectedOffset`, then appended with one native
 * call. The checks and the append run in one synchronous section, so no other
 * append of this process can come between them. Appending idempotent batches
 * with `partition.log.appendBatches` directly skips those checks.
 */
import { join } from 'node:path';
import { type Acks, describe } from './config.js';
import { InvalidArgumentError, InvalidBatchError, ReadOnlyError } from './errors.js';
import { readHead } from './head.js';
import { type AppendResult, Log } from './log.js';
import { type CheckResult, type ProducerBatch, ProducerStateManager } from './producer-state.js';
import {
  BASE_SEQUENCE_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
} from './record/format.js';
import { iterateBatches } from './record/index.js';
import { ConflictError } from './store-errors.js';
import { type ResolvedTopicConfig, logOptionsFor } from './topic-config.js';

export interface PartitionAppendOptions {
  /** @default 'written' */
  acks?: Acks;
  /** Append only if the partition's log end offset is this; else ConflictError and nothing is written. */
  expectedOffset?: number;
}

export interface BatchAppendResult {
  baseOffset: number;
  lastOffset: number;
  /** A retry of a batch appended before: these are its original offsets and nothing was written. */
  duplicate: boolean;
}

export interface PartitionAppendResult {
  /** One per batch given, in order. */
  batches: BatchAppendResult[];
  /** The LogAppendTime given to the appended batches, or -1 under CreateTime (or when every batch was a duplicate). */
  logAppendTime: number;
}

/** What appendNow did: per-batch offsets, and the log's promise for the append (null when nothing was appended). */
export interface AppendNow {
  /** Per batch; filled only when `written`. */
  batches: BatchAppendResult[];
  /** true: every batch is in the log now (appended, or found to be a duplicate). false: the log refused the append; `appended` rejects. */
  written: boolean;
  appended: Promise<AppendResult> | null;
}

export interface PartitionOpenOptions {
  readOnly: boolean;
  producerIdExpirationMs: number;
  /** The log option of that name (LogOptions). */
  syncHintBytes: number;
  /** Write a producer-state snapshot after this many bytes of appends. */
  snapshotIntervalBytes: number;
}

const VERIFY = Object.freeze({ assignOffsets: true, acks: 'written' as const });
const ENCODED_HERE = Object.freeze({ assignOffsets: true, acks: 'written' as const, computeCrc: true });

/** `<topic>-<partition>`: the partition's directory name, as in Kafka. */
export function partitionDirName(topic: string, index: number): string {
  return `${topic}-${index}`;
}

export class Partition {
  readonly topic: string;
  readonly index: number;
  /** The partition's log: read it freely; append through appendBatches or a producer to keep idempotence. */
  readonly log: Log;
  /** null for a read-only partition. */
  readonly producerState: ProducerStateManager | null;
  /** The topic's config when the log was opened (the log's options are fixed until it is reopened). */
  readonly openConfig: ResolvedTopicConfig;
  readonly #snapshotIntervalBytes: number;
  #sinceSnapshot = 0;
  #closing: Promise<void> | null = null;

  private constructor(topic: string, index: number, log: Log, state: ProducerStateManager | null, config: ResolvedTopicConfig, interval: number) {
    this.topic = topic;
    this.index = index;
    this.log = log;
    this.producerState = state;
    this.openConfig = config;
    this.#snapshotIntervalBytes = interval;
  }

  get name(): string {
    return partitionDirName(this.topic, this.index);
  }

  get dir(): string {
    return this.log.dir;
  }

  /**
   * Opens the partition's log in `<dataDir>/<topic>-<index>` (creating it when
   * writing) and, for a writer, loads its producer state. A read-only partition
   * whose directory no writer has created yet is opened as null.
   */
  static async open(
    dataDir: string,
    topic: string,
    index: number,
    config: ResolvedTopicConfig,
    options: PartitionOpenOptions,
  ): Promise<Partition | null> {
    const dir = join(dataDir, partitionDirName(topic, index));
    // Read-only: a partition no writer has opened yet (its first writer may
    // have been killed before it published its head) has nothing to read.
    if (options.readOnly && readHead(dir) === null) return null;
    const log = await Log.open(dir, { ...logOptionsFor(config, options.readOnly), syncHintBytes: options.syncHintBytes });
    if (options.readOnly) return new Partition(topic, index, log, null, config, options.snapshotIntervalBytes);
    try {
      const state = await ProducerStateManager.load(dir, log, options.producerIdExpirationMs, Date.now());
      return new Partition(topic, index, log, state, config, options.snapshotIntervalBytes);
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Appends whole RecordBatch v2 batches (CRC-checked by the log), as one
   * native call, after checking `expectedOffset` and the idempotent producers'
   * sequences and epochs. Batches that repeat an appended one (a retry) are not
   * written again: their result is their original offsets, `duplicate: true`.
   * All or nothing.
   */
  async appendBatches(batches: Uint8Array, options?: PartitionAppendOptions): Promise<PartitionAppendResult> {
    const given = options ?? {};
    if (given === null || typeof given !== 'object') {
      throw new InvalidArgumentError(`appendBatches options must be an object, got ${describe(given)}`);
    }
    for (const k of Object.keys(given)) {
      if (k !== 'acks' && k !== 'expectedOffset') throw new InvalidArgumentError(`unknown appendBatches option '${k}'`);
    }
    const acks = given.acks ?? 'written';
    if (acks !== 'none' && acks !== 'written' && acks !== 'durable') {
      throw new InvalidArgumentError(`option acks must be 'none', 'written' or 'durable', got ${describe(acks)}`);
    }
    const expected = given.expectedOffset;
    if (expected !== undefined && (typeof expected !== 'number' || !Number.isSafeInteger(expected) || expected < 0)) {
      throw new InvalidArgumentError(`option expectedOffset must be a non-negative integer, got ${describe(expected)}`);
    }
    if (!(batches instanceof Uint8Array)) {
      throw new InvalidArgumentError(`appendBatches takes a Buffer or Uint8Array, got ${describe(batches)}`);
    }
    const buf = Buffer.isBuffer(batches) ? batches : Buffer.from(batches.buffer, batches.byteOffset, batches.byteLength);
    const now = this.appendNow(buf, expected ?? -1);
    let logAppendTime = -1;
    if (now.appended !== null) {
      logAppendTime = (await now.appended).logAppendTime;
      if (acks === 'durable') await this.log.flush();
    }
    return { batches: now.batches, logAppendTime };
  }

  /**
   * The synchronous core of appendBatches: checks and appends now. Throws
   * ConflictError, ProducerFencedError, OutOfOrderSequenceError or the codec's
   * framing errors before anything is written; an append the log refuses
   * rejects `appended` (and nothing was written).
   *
   * `encodedHere`: the batches were just encoded by this process's producer
   * with a CRC field of 0; the log computes their CRCs in the append call
   * (Log.appendBatches computeCrc) rather than checking them and walking their
   * records again.
   */
  appendNow(buf: Buffer, expectedOffset: number, encodedHere = false): AppendNow {
    if (this.producerState === null) throw new ReadOnlyError(`partition ${this.name} was opened read-only`);
    const views: Buffer[] = [];
    const infos: ProducerBatch[] = [];
    let idempotent = false;
    if (encodedHere) {
      // Our own encoder's batches: only the fields the producer state needs are read.
      for (let pos = 0; pos < buf.length; ) {
        const end = pos + LOG_OVERHEAD + buf.readInt32BE(pos + LENGTH_OFFSET);
        const hi = buf.readInt32BE(pos + PRODUCER_ID_OFFSET);
        const producerId = hi * 2 ** 32 + buf.readUInt32BE(pos + PRODUCER_ID_OFFSET + 4);
        views.push(buf.subarray(pos, end));
        infos.push({
          producerId,
          epoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
          baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
          count: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET) + 1,
        });
        if (producerId >= 0) idempotent = true;
        pos = end;
      }
    } else {
      for (const { header, bytes } of iterateBatches(buf)) {
        if (header.isTransactional || header.isControl) {
          throw new InvalidBatchError(
            `${this.name}: the batch at position ${views.length} is ${header.isControl ? 'a control batch' : 'transactional'}: tidelog does not support transactions`,
          );
        }
        views.push(bytes);
        infos.push({ producerId: header.producerId, epoch: header.producerEpoch, baseSequence: header.baseSequence, count: header.lastOffsetDelta + 1 });
        if (header.producerId >= 0) idempotent = true;
      }
    }
    if (views.length === 0) throw new InvalidArgumentError(`${this.name}: appendBatches takes at least one batch`);
    const checks: readonly CheckResult[] | null = idempotent ? this.producerState.check(infos, this.name) : null;
    const results: BatchAppendResult[] = new Array(views.length);
    let toAppend = buf;
    let appendCount = views.length;
    if (checks !== null) {
      const fresh: Buffer[] = [];
      for (let i = 0; i < views.length; i++) {
        const c = checks[i];
        if (c.duplicate) results[i] = { baseOffset: c.batch.firstOffset, lastOffset: c.batch.lastOffset, duplicate: true };
        else fresh.push(views[i]);
      }
      appendCount = fresh.length;
      if (appendCount === 0) return { batches: results, written: true, appended: null };
      if (appendCount !== views.length) toAppend = Buffer.concat(fresh);
    }
    const before = this.log.logEndOffset;
    if (expectedOffset >= 0 && before !== expectedOffset) {
      throw new ConflictError(this.topic, this.index, expectedOffset, before);
    }
    // The log's append is synchronous (its promise only carries the result):
    // the end offset tells at once whether it happened.
    const appended = this.log.appendBatches(toAppend, encodedHere ? ENCODED_HERE : VERIFY);
    if (this.log.logEndOffset === before) return { batches: results, written: false, appended };
    const now = Date.now();
    let offset = before;
    for (let i = 0; i < views.length; i++) {
      if (checks !== null && checks[i].duplicate) continue;
      const info = infos[i];
      results[i] = { baseOffset: offset, lastOffset: offset + info.count - 1, duplicate: false };
      this.producerState.update(info, offset, now);
      offset += info.count;
    }
    this.#sinceSnapshot += toAppend.length;
    if (this.#sinceSnapshot >= this.#snapshotIntervalBytes) {
      this.#sinceSnapshot = 0;
      // Best effort: a failed snapshot only means a longer scan at the next open.
      this.producerState.snapshot(this.log.logEndOffset, now).catch(() => undefined);
    }
    return { batches: results, written: true, appended };
  }

  /** Writes the producer-state snapshot (writer), then closes the log (sync, clean-shutdown marker, lock released). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const state = this.producerState;
      try {
        if (state !== null && !this.log.closed) {
          const end = this.log.logEndOffset;
          if (state.snapshotOffset !== end) await state.snapshot(end, Date.now()).catch(() => undefined);
          await state.drain();
        }
      } finally {
        await this.log.close();
      }
    })();
    return this.#closing;
  }
}
