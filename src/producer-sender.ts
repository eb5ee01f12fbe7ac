/**
 * The producer's sender: appends the accumulator's ready batches to their
 * partitions, with idempotence (Kafka's Sender + TransactionManager, without
 * transactions).
 *
 * Per partition, the ready batches go in ONE native call
 * (Partition.appendNow → Log.appendBatches with computeCrc: the log computes
 * each CRC in that call and does not walk records this process just encoded);
 * a batch with expectedOffset goes alone. Finishing a batch writes its
 * 61-byte header (producer id, epoch, base sequence) in front of records the
 * accumulator already encoded, and compresses it when asked.
 *
 * Idempotence. The store allocates a producer id (and, for a named producer,
 * the next epoch of its id, fencing older instances) before the first append.
 * Each batch carries the partition's next sequence number, assigned once: a
 * retriable failure (a full disk) is retried with the same bytes, so a batch
 * that did reach the log is recognised by the partition and answered with its
 * original offsets. While a retry is pending the partition is busy: nothing
 * after it is appended.
 *
 * Completion. Once a batch is in the log its records' metadata are created
 * (one tight loop per batch, with their offsets); sends with acks 'written'
 * whose records are all in are resolved, those with 'durable' after the log's
 * next sync. The batch's memory goes back to the accumulator's pool then.
 */
import type { Accumulator, Batch, PartitionQueue, SendOp } from './accumulator.js';
import { describe } from './config.js';
import type { TidelogError } from './errors.js';
import type { Partition } from './partition.js';
import type { ProducerHost, ResolvedProducerOptions } from './producer-options.js';
import { incrementSequence } from './producer-state.js';
import { ProducerFencedError, UnknownTopicError } from './store-errors.js';

/** What the sender tells its producer. */
export interface SenderHooks {
  /** Every record of the send is acknowledged. */
  settled(op: SendOp): void;
  failed(op: SendOp, err: unknown): void;
  /** `bytes` of the producer's buffer are free again. */
  released(bytes: number): void;
  /** Run drain() again soon (a retry ended, a batch still lingers). */
  drainLater(): void;
  /** Append every batch now, lingering ones too (lingerMs 0, a flush, or sends waiting for buffer space). */
  drainEverything(): boolean;
}

export class Sender {
  readonly #options: ResolvedProducerOptions;
  readonly #host: ProducerHost;
  readonly #acc: Accumulator;
  readonly #hooks: SenderHooks;
  #id: { producerId: number; epoch: number } | null = null;
  #init: Promise<void> | null = null;
  /** A drain waits for #init. */
  #drainAfterInit = false;
  /** Ends the producer: every later send fails with it. */
  fatal: TidelogError | Error | null = null;
  /** Where a run of several batches is put together for its one native call. */
  #runBuffer = Buffer.allocUnsafe(64 * 1024);

  constructor(options: ResolvedProducerOptions, host: ProducerHost, acc: Accumulator, hooks: SenderHooks) {
    this.#options = options;
    this.#host = host;
    this.#acc = acc;
    this.#hooks = hooks;
  }

  get producerId(): { producerId: number; epoch: number } | null {
    return this.#id;
  }

  /**
   * An idempotent producer asks the store for its id (and epoch) as soon as it
   * is created, as Kafka's does with InitProducerId: the next id of the store's
   * reserved block for an unnamed producer, a durable write of
   * producer-ids.json for a named one, which its first send then need not wait
   * for. A failure ends the producer (`fatal`).
   */
  start(): void {
    if (this.#options.idempotent) void this.#allocateId();
  }

  #allocateId(): Promise<void> {
    this.#init ??= this.#host.allocateProducerId(this.#options.name ?? undefined).then(
      (id) => {
        this.#id = id;
      },
      (err) => {
        this.fatal = err as Error;
      },
    );
    return this.#init;
  }

  /** Appends every partition's ready batches (closed, or lingered long enough, or all when asked). */
  drain(): void {
    if (this.#options.idempotent && this.#id === null && this.fatal === null) {
      // Nothing is appended before the producer id is known.
      if (!this.#drainAfterInit) {
        this.#drainAfterInit = true;
        void this.#allocateId().then(() => {
          this.#drainAfterInit = false;
          this.drain();
        });
      }
      return;
    }
    this.#acc.full = false;
    const now = Date.now();
    const linger = this.#options.lingerMs;
    const all = this.#hooks.drainEverything();
    let lingering = false;
    for (const list of this.#acc.queues()) {
      for (const q of list) {
        if (q === undefined || q.busy || q.batches.length === 0) continue;
        let n = 0;
        while (n < q.batches.length) {
          const b = q.batches[n];
          if (!(b.closed || all || now - b.createdAt >= linger)) break;
          n++;
        }
        if (n < q.batches.length) lingering = true;
        if (n === 0) continue;
        const ready = q.batches.splice(0, n);
        for (const b of ready) b.closed = true;
        this.#acc.batchSent(q);
        this.#appendAll(q, ready);
      }
    }
    if (lingering) this.#hooks.drainLater();
  }

  /** The earliest time a lingering batch is due (Infinity: none). */
  nextDue(): number {
    let earliest = Infinity;
    for (const list of this.#acc.queues()) {
      for (const q of list) {
        const b = q?.batches[0];
        if (b !== undefined && !q.busy) earliest = Math.min(earliest, b.createdAt + this.#options.lingerMs);
      }
    }
    return earliest;
  }

  /** Appends a partition's ready batches: one native call per run of batches (a batch with expectedOffset goes alone). */
  #appendAll(q: PartitionQueue, batches: Batch[]): void {
    let start = 0;
    while (start < batches.length) {
      let end = start + 1;
      if (batches[start].expectedOffset < 0) while (end < batches.length && batches[end].expectedOffset < 0) end++;
      const run = start === 0 && end === batches.length ? batches : batches.slice(start, end);
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
      if (this.fatal) throw this.fatal;
      if (q.topic.deleted) throw new UnknownTopicError(q.topic.name, `topic ${describe(q.topic.name)} was deleted`);
      const p = q.partition;
      if (p === null) throw new UnknownTopicError(q.topic.name, `partition ${q.topic.name}-${q.index} is not open`);
      partition = p;
      const id = this.#id;
      if (id !== null && this.#options.name !== null && this.#host.currentEpoch(id.producerId) > id.epoch) {
        this.fatal = new ProducerFencedError(
          `producer ${describe(this.#options.name)} (id ${id.producerId}, epoch ${id.epoch}) is fenced: a newer producer with the same name has epoch ${this.#host.currentEpoch(id.producerId)}`,
        );
        throw this.fatal;
      }
      bytes = this.#finish(q, run);
    } catch (err) {
      for (const b of run) this.#failBatch(b, err);
      return true;
    }
    let result;
    try {
      result = partition.appendNow(bytes, run[0].expectedOffset, true);
    } catch (err) {
      if (err instanceof ProducerFencedError) this.fatal = err;
      for (const b of run) this.#failBatch(b, err);
      return true;
    }
    const { batches, written, appended } = result;
    if (written) {
      const last = run[run.length - 1];
      if (last.baseSequence >= 0) q.nextSequence = incrementSequence(last.baseSequence, last.count);
    }
    const settle = (logAppendTime: number) => {
      for (let i = 0; i < run.length; i++) this.#complete(run[i], batches[i].baseOffset, logAppendTime, partition);
    };
    if (appended === null) {
      settle(-1);
      return true;
    }
    if (!written) q.busy = true;
    appended.then(
      (r) => settle(r.logAppendTime),
      (err: TidelogError) => {
        if (err?.retriable && attempt < this.#options.retries) {
          // Retried with the same bytes (same sequence numbers): if they did reach
          // the log, the partition answers with their original offsets.
          q.busy = true;
          setTimeout(() => {
            if (this.#appendRun(q, run, attempt + 1)) {
              q.busy = false;
              this.#hooks.drainLater();
            }
          }, this.#options.retryBackoffMs);
          return;
        }
        for (const b of run) this.#failBatch(b, err);
        q.busy = false;
        this.#hooks.drainLater();
      },
    );
    return written;
  }

  /**
   * Finishes the batches of a run (the first time: assigns their sequence
   * numbers and writes their headers) and returns their bytes: the batch's
   * own when the run is one batch, else copied together into the run buffer.
   * A batch finished before (its append's outcome was unclear) is sent again
   * as it was: same sequence, same bytes.
   */
  #finish(q: PartitionQueue, run: Batch[]): Buffer {
    const lz4 = this.#acc.compression(q.topic) === 'lz4';
    const id = this.#id;
    let seq = q.nextSequence;
    let size = 0;
    for (const b of run) {
      if (b.finished === null) {
        if (!b.sequenced) b.baseSequence = id === null ? -1 : seq;
        b.sequenced = true;
        b.finished = b.builder.finish({
          lz4,
          producerId: id === null ? -1 : id.producerId,
          producerEpoch: id === null ? -1 : id.epoch,
          baseSequence: b.baseSequence,
        });
      }
      if (b.baseSequence >= 0) seq = incrementSequence(b.baseSequence, b.count);
      size += b.finished.length;
    }
    if (run.length === 1) return run[0].finished as Buffer;
    if (this.#runBuffer.length < size) this.#runBuffer = Buffer.allocUnsafe(Math.max(size, 2 * this.#runBuffer.length));
    let at = 0;
    for (const b of run) at += (b.finished as Buffer).copy(this.#runBuffer, at);
    return this.#runBuffer.subarray(0, size);
  }

  /**
   * A batch is in the log at `baseOffset`: create its records' metadata, its
   * memory goes back to the pool, its sends are resolved (after a sync for
   * acks 'durable') and its buffer bytes freed.
   */
  #complete(b: Batch, baseOffset: number, logAppendTime: number, partition: Partition): void {
    const topic = b.queue.topic.name;
    const index = b.queue.index;
    const stamps = b.stamps;
    const indexes = b.indexes;
    const ops = b.ops;
    const counts = b.opCounts;
    let k = 0;
    for (let r = 0; r < ops.length; r++) {
      const op = ops[r];
      const end = k + counts[r];
      // acks 'none' sends were resolved with offset -1 when accepted; a failed send needs none.
      if (op.acks !== 'none' && op.remaining > 0) {
        const results = op.results;
        for (; k < end; k++) {
          results[indexes[k]] = { topic, partition: index, offset: baseOffset + k, timestamp: logAppendTime >= 0 ? logAppendTime : stamps[k] };
        }
      }
      k = end;
    }
    this.#acc.recycle(b);
    this.#resolveOps(b, false);
    if (!b.durable) {
      this.#release(b);
      return;
    }
    partition.log.flush().then(
      () => {
        this.#resolveOps(b, true);
        this.#release(b);
      },
      (err) => this.#failBatch(b, err, true),
    );
  }

  /** Counts the batch's records off their sends (the durable ones or the others); a send with all its records in is settled. */
  #resolveOps(b: Batch, durable: boolean): void {
    const ops = b.ops;
    const counts = b.opCounts;
    for (let r = 0; r < ops.length; r++) {
      const op = ops[r];
      if ((op.acks === 'durable') !== durable || op.remaining <= 0) continue;
      op.remaining -= counts[r];
      if (op.remaining <= 0) {
        op.remaining = 0;
        this.#hooks.settled(op);
      }
    }
  }

  #failBatch(b: Batch, err: unknown, durableOnly = false): void {
    for (const op of b.ops) {
      if (durableOnly && op.acks !== 'durable') continue;
      if (op.remaining > 0) {
        op.remaining = 0;
        this.#hooks.failed(op, err);
      }
    }
    this.#acc.recycle(b);
    this.#release(b);
  }

  #release(b: Batch): void {
    if (b.bytes === 0) return;
    const bytes = b.bytes;
    b.bytes = 0;
    this.#hooks.released(bytes);
  }
}
