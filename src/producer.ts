/**
 * Producer: sends records to a store's topics, batching them per partition
 * like Kafka's producer. Three modules do the work:
 *
 * - this one: the API — checks each send, backpressure, flush and close;
 * - src/accumulator.ts: the per-partition batches, into which each send's
 *   records are encoded as soon as it is accepted;
 * - src/producer-sender.ts: appends ready batches (one native call per
 *   partition), idempotence, retries, acknowledgements.
 *
 * Checking. `send` checks its records at once — topic, partition, key, value,
 * headers, timestamp, size — and a bad record fails its send before anything
 * of it is queued. Each record's fields are read once (src/record/measure.ts).
 *
 * Draining. With lingerMs 0 every open batch closes at the end of the current
 * event-loop turn: the drain runs from setImmediate, after every microtask of
 * the turn, so sends made by promise continuations of the same turn (64
 * writers each awaiting their previous ack, W3) join the same batches;
 * queueMicrotask would drain after the first continuation. A batch closes
 * early once it holds batchBytes.
 *
 * Backpressure. The estimated bytes of records accepted but not yet
 * acknowledged (written, or synced for acks 'durable') are bounded by
 * bufferBytes: a send that does not fit waits, in order, and fails with
 * BufferFullError after maxBlockMs. Sends never overtake each other: while one
 * waits (for buffer space or an auto-created topic), later ones queue behind
 * it. A send that waited is checked (and its fields read) again when accepted.
 *
 * expectedOffset. A send with `expectedOffset` (all of its records to one
 * explicit partition) is appended as a batch of its own, and only if the
 * partition's log end offset equals expectedOffset when it is appended;
 * otherwise it fails with ConflictError and nothing of it is written. Sends
 * queued before it in this producer are appended before it.
 */
import { Accumulator, SendOp, type SendTargets, estimateAll } from './accumulator.js';
import { checkOptionsObject, describe, rejectUnknownOptions } from './config.js';
import { InvalidArgumentError, RecordTooLargeError } from './errors.js';
import {
  type ProducerHost,
  type ProducerOptions,
  type RecordMetadata,
  type ResolvedProducerOptions,
  SEND_OPTIONS,
  type SendOptions,
  type SendRecord,
  type TopicHandle,
  checkAcks,
  resolveProducerOptions,
} from './producer-options.js';
import { Sender } from './producer-sender.js';
import { type MeasureOptions, RecordsMeasure, measureRecords, recordLabel as label } from './record/measure.js';
import { BufferFullError, ProducerClosedError, UnknownTopicError } from './store-errors.js';

export { PRODUCER_DEFAULTS } from './producer-options.js';
export type {
  ProducerHost,
  ProducerOptions,
  RecordMetadata,
  ResolvedProducerOptions,
  SendOptions,
  SendRecord,
  TopicHandle,
} from './producer-options.js';

/** A send that waits (for buffer space or an auto-created topic). */
interface Pending {
  op: SendOp;
  records: readonly SendRecord[];
  /** Estimated bytes when it was checked. */
  bytes: number;
  expectedOffset: number;
  timer: NodeJS.Timeout | null;
}

export class Producer {
  readonly options: ResolvedProducerOptions;
  readonly #host: ProducerHost;
  readonly #acc: Accumulator;
  readonly #sender: Sender;
  /** Each send's records are measured here, then written into their batches. */
  readonly #measure = new RecordsMeasure();
  readonly #waiting: Pending[] = [];
  /**
   * Accepted sends, in order, [#outHead, #outEnd): those not over yet, and
   * over ones not yet passed by #outHead (dropped when the array fills). A Set
   * cost an add, a delete and rehashes per send: P3 ran 22 % faster without it
   * (paired fresh-process runs).
   */
  readonly #outstanding: (SendOp | undefined)[] = [];
  #outHead = 0;
  #outEnd = 0;
  /** Sends in #outstanding that are not over. */
  #outLive = 0;
  #buffered = 0;
  #immediate: NodeJS.Immediate | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;
  #flushing = 0;
  #closing: Promise<void> | null = null;
  /** Failures of acks:'none' sends, reported by the next flush(). */
  #unreported: unknown[] = [];
  #pumping = false;
  /** Where the records of the send being accepted go (reused). */
  readonly #targets: SendTargets = newTargets();
  /** send()'s one-element array for a single record, and its measure options (reused: a send of one record allocates neither). */
  readonly #one: SendRecord[] = [undefined as unknown as SendRecord];
  readonly #measureOne: MeasureOptions = measureOptions(-1, true);
  readonly #measureMany: MeasureOptions = measureOptions(-1, false);
  /** send() is running (a record's getter may call it again). */
  #inSend = false;

  constructor(host: ProducerHost, options?: ProducerOptions) {
    this.options = resolveProducerOptions(options);
    this.#host = host;
    this.#acc = new Accumulator(this.options);
    this.#sender = new Sender(this.options, host, this.#acc, {
      settled: (op) => this.#settle(op),
      failed: (op, err) => this.#fail(op, err),
      released: (bytes) => {
        this.#buffered -= bytes;
        if (this.#waiting.length > 0) this.#pump();
      },
      drainLater: () => this.#scheduleDrain(false),
      drainEverything: () => this.#flushing > 0 || this.options.lingerMs === 0 || this.#waiting.length > 0,
    });
    this.#sender.start();
  }

  /** The producer id and epoch (null when not idempotent, and until the store has allocated it: it asks at creation). */
  get producerId(): { producerId: number; epoch: number } | null {
    return this.#sender.producerId;
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
      if (this.#sender.fatal) throw this.#sender.fatal;
      const single = !Array.isArray(input);
      if (!single && (input as readonly SendRecord[]).length === 0) {
        throw new InvalidArgumentError('send takes a record or a non-empty array of records');
      }
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
      // The scratch state is this producer's, unless a getter of a record sends again
      // while the records are being read (a fresh one for that nested send).
      const nested = this.#inSend;
      const m = nested ? new RecordsMeasure() : this.#measure;
      const t = nested ? newTargets() : this.#targets;
      // One record: in the producer's one-element array (nothing allocated), unless nested.
      let records: readonly SendRecord[];
      if (!single) records = input as readonly SendRecord[];
      else if (nested) records = [input as SendRecord];
      else {
        this.#one[0] = input as SendRecord;
        records = this.#one;
      }
      this.#inSend = true;
      try {
        const needsTopic = this.#checkTargets(records, single, t);
        // Date.now() only if a record has no timestamp (measureRecords asks for it then).
        measureRecords(m, records, nested ? measureOptions(-1, single) : single ? this.#measureOne : this.#measureMany);
        const bytes = estimateAll(m);
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
        const op = new SendOp(records.length, acks, single);
        if (!needsTopic && this.#waiting.length === 0 && this.#buffered + bytes <= this.options.bufferBytes) {
          this.#accept(op, records, expectedOffset, m, t);
        } else {
          m.release(); // measured again when accepted, with the time of this send for records without one
          op.now = Date.now();
          this.#wait({ op, records: records === this.#one ? [input as SendRecord] : records, bytes, expectedOffset, timer: null });
        }
        return op.promise;
      } finally {
        if (!nested) {
          this.#inSend = false;
          this.#one[0] = undefined as unknown as SendRecord;
        }
        m.release();
      }
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends every batch now (lingerMs aside) and resolves when every send made before the call is acknowledged (or failed). */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      const ops: SendOp[] = [];
      for (let i = this.#outHead; i < this.#outEnd; i++) {
        const op = this.#outstanding[i] as SendOp;
        if (!op.ended) ops.push(op);
      }
      for (const w of this.#waiting) ops.push(w.op);
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

  /**
   * Checks each record's topic and explicit partition (not its other fields:
   * measureRecords does) and notes them in `t` for the accumulator.
   * Returns true when a topic must be created first (its handle is then
   * missing from the targets: they are checked again when the send is accepted).
   */
  #checkTargets(records: readonly SendRecord[], single: boolean, t: SendTargets): boolean {
    const n = records.length;
    if (t.partitions.length < n) t.partitions = new Float64Array(Math.max(n, 2 * t.partitions.length));
    const parts = t.partitions;
    const topics = t.topics;
    if (topics.length !== 0) topics.length = 0;
    let needsTopic = false;
    let explicit = false;
    let samePartition = true;
    let mixed = false;
    let lastName: unknown;
    let last: TopicHandle | undefined;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      if (r === null || typeof r !== 'object') {
        throw new InvalidArgumentError(`${label(i, single)} must be an object { topic, key?, value, headers?, timestamp?, partition? }, got ${describe(r)}`);
      }
      const name: unknown = r.topic;
      const p: unknown = r.partition;
      if (p === undefined) {
        parts[i] = -1;
      } else {
        if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) {
          throw new InvalidArgumentError(`${label(i, single)}: partition must be a non-negative integer, got ${describe(p)}`);
        }
        parts[i] = p;
        explicit = true;
      }
      if (parts[i] !== parts[0]) samePartition = false;
      if (name !== lastName) {
        if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`${label(i, single)}: topic must be a non-empty string, got ${describe(name)}`);
        const handle = this.#host.topic(name);
        if (handle === undefined) {
          if (!this.#host.autoCreateTopics()) {
            throw new UnknownTopicError(name, `${label(i, single)}: topic ${describe(name)} does not exist (and the store does not create topics on use)`);
          }
          needsTopic = true;
        }
        if (i > 0 && !mixed) {
          mixed = true;
          for (let k = 0; k < i; k++) topics.push(last as TopicHandle);
        }
        lastName = name;
        last = handle;
      }
      if (mixed) topics.push(last as TopicHandle);
    }
    t.topic = mixed ? null : (last ?? null);
    t.explicit = explicit;
    t.samePartition = explicit && samePartition;
    return needsTopic;
  }

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
        // Called from send() (a send that waits), the shared scratch may be in use.
        const m = this.#inSend ? new RecordsMeasure() : this.#measure;
        const t = this.#inSend ? newTargets() : this.#targets;
        try {
          if (this.#checkTargets(p.records, p.op.single, t)) {
            // Checked when sent, but a topic may have gone since.
            const missing = p.records.find((r) => this.#host.topic(r.topic) === undefined) as SendRecord;
            throw new UnknownTopicError(missing.topic, `topic ${describe(missing.topic)} does not exist`);
          }
          measureRecords(m, p.records, measureOptions(p.op.now, p.op.single));
          this.#accept(p.op, p.records, p.expectedOffset, m, t);
        } catch (err) {
          this.#fail(p.op, err);
        } finally {
          m.release();
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Places a send's records (measured into `m`, their targets in `t`) in their partitions' batches, all checked before any is placed. */
  #accept(op: SendOp, records: readonly SendRecord[], expectedOffset: number, m: RecordsMeasure, t: SendTargets): void {
    try {
      this.#acc.place(op, records, t, m, expectedOffset);
    } finally {
      if (t.topics.length !== 0) t.topics.length = 0;
    }
    const bytes = estimateAll(m);
    this.#buffered += bytes;
    this.#track(op);
    if (op.acks === 'none') {
      // Resolved once accepted; offsets are unknown (-1).
      op.settled = true;
      op.resolve(op.single ? op.results[0] : op.results);
    }
    this.#scheduleDrain(false);
  }

  // ---- draining -----------------------------------------------------------------

  /** Drains at the end of this turn (force, lingerMs 0, a flush, or a full batch), else when the oldest open batch's linger ends. */
  #scheduleDrain(force: boolean): void {
    if (force || this.options.lingerMs === 0 || this.#flushing > 0 || this.#acc.full) {
      this.#immediate ??= setImmediate(() => {
        this.#immediate = null;
        this.#sender.drain();
      });
      return;
    }
    // A new batch lingers no less than the open ones: an armed timer is early enough.
    if (this.#lingerTimer !== null) return;
    const earliest = this.#sender.nextDue();
    if (earliest === Infinity) return;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = null;
      this.#sender.drain();
    }, Math.max(0, earliest - Date.now()));
  }

  #settle(op: SendOp): void {
    if (!op.settled) {
      op.settled = true;
      op.resolve(op.single ? op.results[0] : op.results);
    }
    op.done();
    this.#untrack(op);
  }

  #fail(op: SendOp, err: unknown): void {
    if (!op.settled) {
      op.settled = true;
      op.reject(err);
    } else if (op.acks === 'none') {
      this.#unreported.push(err);
    }
    op.done();
    this.#untrack(op);
  }

  /**
   * An accepted send joins #outstanding. When the array is full and at most
   * half its sends are still live, the ones that are over are dropped first
   * (amortized O(1) a send).
   */
  #track(op: SendOp): void {
    const list = this.#outstanding;
    op.tracked = true;
    this.#outLive++;
    const used = this.#outEnd - this.#outHead;
    if (this.#outEnd === list.length && used >= 64 && 2 * this.#outLive <= used) {
      let k = 0;
      for (let i = this.#outHead; i < this.#outEnd; i++) {
        const o = list[i] as SendOp;
        if (!o.ended) list[k++] = o;
      }
      for (let i = k; i < this.#outEnd; i++) list[i] = undefined;
      this.#outHead = 0;
      this.#outEnd = k;
    }
    list[this.#outEnd++] = op;
  }

  /** A send is over: #outHead passes the sends at the front that are over (every one over: the array is empty again). */
  #untrack(op: SendOp): void {
    if (!op.tracked) return; // failed while it waited: never accepted
    op.tracked = false;
    this.#outLive--;
    const list = this.#outstanding;
    let h = this.#outHead;
    const end = this.#outEnd;
    while (h < end && (list[h] as SendOp).ended) list[h++] = undefined;
    if (h === end) h = this.#outEnd = 0;
    this.#outHead = h;
  }
}

function newTargets(): SendTargets {
  return { topic: null, topics: [], partitions: new Float64Array(64), explicit: false, samePartition: false };
}

function measureOptions(now: number, single: boolean): MeasureOptions {
  // maxRecordBytes 0: the accumulator checks each record against its partition's maxMessageBytes.
  return { now, baseTimestamp: -1, maxRecordBytes: 0, single };
}

