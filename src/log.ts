/**
 * Log: one partition log in one directory (DESIGN §2–4).
 *
 * The native side owns bytes, offsets and files; this class owns the policy:
 * encoding records into batches (one native call per batch), when to sync,
 * who waits for which sync, and argument checking.
 *
 * Group commit: a `durable` append waits for the first sync that starts after
 * it. A sync is started at the end of the current microtask queue when someone
 * waits, so every append of the same turn shares it; while a sync runs, appends
 * go on into the page cache and their waiters are served by the next sync.
 * fdatasync runs on the log's sync thread, never on the event loop.
 *
 * Group write: `durable` appends (by append()) are encoded at once (bad input
 * rejects that append alone) into a group buffer, and the group is written by
 * one native append (one pwritev) at the end of the microtask queue, just
 * before the sync that covers it. Nobody can see the difference: every other
 * call that looks at the log or appends (#checkOpen, logEndOffset) writes the
 * group first, and a durable append is acknowledged only after its sync.
 */
import { resolve as resolvePath } from 'node:path';
import {
  type Acks,
  type CompressionOption,
  type LogOptions,
  type ResolvedLogOptions,
  checkOptionsObject,
  describe,
  rejectUnknownOptions,
  resolveLogOptions,
} from './config.js';
import {
  BatchTooLargeError,
  CorruptRecordError,
  InvalidArgumentError,
  InvalidBatchError,
  InvalidStateError,
  LogClosedError,
  ReadOnlyError,
} from './errors.js';
import { AppendFlag, LookupResult, type NativeLog, type NativeRecoveryInfo, StateSlot, native } from './native.js';
import { BatchEncoder, checkBatchCodecs, decodeBatch, decodeBatches, decodeRecordBody } from './record/index.js';
import { decodeBatchFrom } from './record/decode.js';
import { RecordArena } from './record/arena.js';
import { type ResolvedEncodeOptions, resolveEncodeOptions } from './record/encode.js';
import type { LogRecord, ProducerRecord } from './record/types.js';

export type { LogOptions, ResolvedLogOptions } from './config.js';

export interface AppendOptions {
  /** Overrides the log's `acks` for this append. */
  acks?: Acks;
  /** Overrides the log's `compression` for this append. */
  compression?: CompressionOption;
}

export interface AppendBatchesOptions {
  /** true: the log assigns offsets (the batches' base offsets are ignored); false: they are kept and must follow the log end. @default true */
  assignOffsets?: boolean;
  acks?: Acks;
  /**
   * true: the bytes were just encoded by tidelog's own encoder with
   * `computeCrc: false` (a Producer does this): the log computes each batch's
   * CRC natively, in the append call, instead of checking the CRC field, and
   * does not walk the records of uncompressed batches again. Framing, sizes,
   * offsets and codecs are still checked. Never for bytes from elsewhere: a
   * damaged batch would be stored under a valid CRC. @default false
   */
  computeCrc?: boolean;
}

export interface AppendResult {
  /** Offset of the first record appended. */
  baseOffset: number;
  /** Offset of the last record appended. */
  lastOffset: number;
  /** The LogAppendTime given to the batch, or -1 under CreateTime. */
  logAppendTime: number;
}

export type Isolation = 'written' | 'durable';

export interface ReadOptions {
  /** Upper bound on the bytes of batches returned; at least one batch is always returned. @default 1048576 */
  maxBytes?: number;
  /** At most this many records (readRecords / records only). @default Infinity */
  maxRecords?: number;
  /** 'durable': only records that have been synced. @default 'written' */
  isolation?: Isolation;
}

export interface SegmentInfo {
  baseOffset: number;
  /** Offset after the segment's last record. */
  nextOffset: number;
  sizeBytes: number;
  /** Largest timestamp in the segment (-1 when empty). */
  maxTimestamp: number;
  active: boolean;
}

export type RecoveryInfo = Readonly<NativeRecoveryInfo>;

const APPEND_OPTIONS = ['acks', 'compression'] as const;
const APPEND_BATCHES_OPTIONS = ['assignOffsets', 'acks', 'computeCrc'] as const;

interface ResolvedAppendBatches {
  assign: boolean;
  computeCrc: boolean;
  acks: Acks;
}
/** appendBatches options objects already checked (frozen ones only: they cannot change). */
const RESOLVED_APPEND_BATCHES = new WeakMap<object, ResolvedAppendBatches>();
const READ_OPTIONS = ['maxBytes', 'maxRecords', 'isolation'] as const;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const noop = (): void => undefined;

interface Waiter {
  target: number;
  /** Called with `value` once every offset below `target` is durable. */
  resolve: (value: never) => void;
  reject: (err: unknown) => void;
  value: unknown;
}

/** A durable append encoded into the group buffer, not yet written (see the file comment). */
interface GroupedAppend extends Waiter {
  /** Its batch in the group buffer. */
  start: number;
  end: number;
  records: number;
  value: AppendResult;
}

/** A group is written before it grows past this many bytes (or segmentBytes / 8). */
const MAX_GROUP_BYTES = 256 * 1024;

export class Log {
  /** Absolute path of the partition directory. */
  readonly dir: string;
  readonly options: ResolvedLogOptions;
  /** What opening found and repaired. */
  readonly recovery: RecoveryInfo;

  readonly #native: NativeLog;
  readonly #state: Float64Array;
  readonly #encoder = new BatchEncoder(64 * 1024);
  readonly #arena: RecordArena;
  readonly #encodeNone: Readonly<ResolvedEncodeOptions>;
  readonly #encodeLz4: Readonly<ResolvedEncodeOptions>;
  #closed = false;
  #closing: Promise<void> | null = null;
  #truncating = false;
  #syncing: Promise<boolean> | null = null;
  #syncScheduled = false;
  #forceCheckpoint = false;
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** Durable appends of this turn, encoded back to back by #groupEncoder, written by #writeGroup. */
  #group: GroupedAppend[] = [];
  readonly #groupEncoder = new BatchEncoder(16 * 1024);
  #groupBytes = 0;
  #groupScheduled = false;
  readonly #groupLimit: number;
  readonly #writeGroupTask = (): void => {
    this.#groupScheduled = false;
    this.#writeGroup();
  };
  /** append()'s one-element array for a single record (reused: nothing allocated per call). */
  readonly #one: ProducerRecord[] = [];

  private constructor(dir: string, options: ResolvedLogOptions, handle: NativeLog, recovery: NativeRecoveryInfo) {
    this.dir = dir;
    this.options = options;
    this.#native = handle;
    this.#state = handle.state;
    this.#arena = new RecordArena(handle);
    this.recovery = Object.freeze({ ...recovery });
    // The CRC is left to the native append (AppendFlag.ComputeCrc), in the same call.
    const encode = { maxRecordBytes: options.maxMessageBytes, computeCrc: false } as const;
    this.#encodeNone = resolveEncodeOptions({ ...encode, compression: 'none' });
    this.#encodeLz4 = resolveEncodeOptions({ ...encode, compression: 'lz4' });
    this.#groupLimit = Math.min(MAX_GROUP_BYTES, Math.floor(options.segmentBytes / 8));
    if (options.flushIntervalMs !== null && !options.readOnly) {
      this.#timer = setInterval(() => {
        if (this.#state[StateSlot.UnsyncedBytes] > 0) this.#requestSync();
      }, options.flushIntervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Opens (creating if needed) the log in `dir`. Recovery after an unclean stop
   * runs on a worker thread. A second writer gets LogLockedError at once.
   */
  static async open(dir: string, options?: LogOptions): Promise<Log> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new InvalidArgumentError(`log directory must be a non-empty string, got ${describe(dir)}`);
    }
    const resolved = resolveLogOptions(options);
    const path = resolvePath(dir);
    const { log, recovery } = await native.openLog({
      dir: path,
      segmentBytes: resolved.segmentBytes,
      segmentMs: resolved.segmentMs,
      indexIntervalBytes: resolved.indexIntervalBytes,
      maxIndexBytes: resolved.maxIndexBytes,
      maxMessageBytes: resolved.maxMessageBytes,
      checkpointIntervalBytes: resolved.checkpointIntervalBytes,
      syncHintBytes: resolved.syncHintBytes,
      readOnly: resolved.readOnly,
    });
    return new Log(path, resolved, log, recovery);
  }

  /** Offset of the first record still in the log. */
  get logStartOffset(): number {
    this.#refreshIfReader();
    return this.#state[StateSlot.LogStartOffset];
  }

  /** Offset the next record will get: every record below it is written (survives a process crash). */
  get logEndOffset(): number {
    this.#refreshIfReader();
    if (this.#group.length > 0) this.#writeGroup();
    return this.#state[StateSlot.LogEndOffset];
  }

  /** Every record below this offset has been synced to disk (survives power loss). */
  get durableOffset(): number {
    this.#refreshIfReader();
    return this.#state[StateSlot.DurableOffset];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends records as one batch (all or nothing) and resolves once they are
   * acknowledged at the requested level. Offsets are assigned by the log.
   */
  append(records: readonly ProducerRecord[] | ProducerRecord, options?: AppendOptions): Promise<AppendResult> {
    try {
      const acks = this.#appendAcks(options);
      if (acks === 'durable') return this.#appendGrouped(records, options?.compression);
      return Promise.resolve(this.#appendRecords(records, options?.compression));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends records as one batch, synchronously, acknowledged as `written`. */
  appendSync(records: readonly ProducerRecord[] | ProducerRecord, options?: Omit<AppendOptions, 'acks'>): AppendResult {
    if (options !== undefined) rejectUnknownOptions(checkOptionsObject(options, 'append'), ['compression'], 'append');
    return this.#appendRecords(records, options?.compression);
  }

  /**
   * Appends pre-encoded RecordBatch v2 bytes (one or more whole batches), as a
   * broker does. Every batch's framing and CRC is checked, and the records of
   * uncompressed batches; with assignOffsets:false each batch's base offset must
   * be at or above the log end offset. A batch compressed with a codec tidelog
   * cannot read back (gzip, snappy, zstd) is refused with
   * UnsupportedCompressionError. All or nothing.
   */
  appendBatches(batches: Uint8Array, options?: AppendBatchesOptions): Promise<AppendResult> {
    try {
      const { assign, computeCrc, acks } = this.#appendBatchesOptions(options);
      if (!(batches instanceof Uint8Array)) {
        throw new InvalidArgumentError(`appendBatches takes a Buffer or Uint8Array, got ${describe(batches)}`);
      }
      this.#checkWritable();
      checkBatchCodecs(batches);
      let flags = computeCrc ? AppendFlag.ComputeCrc : AppendFlag.VerifyCrc | AppendFlag.ValidateRecords;
      if (assign) flags |= AppendFlag.AssignOffsets;
      if (this.options.messageTimestampType === 'LogAppendTime') flags |= AppendFlag.LogAppendTime;
      const result = this.#nativeAppend(batches, flags);
      return acks === 'durable' ? this.#waitDurable(result.lastOffset + 1, result) : Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Whole batches starting with the one that holds `offset` (it may begin
   * before `offset`), as one zero-copy Buffer, or null at the end of the log.
   * The Buffer points into the segment's mapping and keeps it alive until it is
   * collected; bytes a later truncateTo removes read as zeros.
   *
   * Every batch returned passed its CRC-32C check (natively, once per batch and
   * session). When the batch holding `offset` is damaged this throws
   * CorruptRecordError naming the file, position and offset; a damaged batch
   * after it ends the Buffer before it, so the next read (at its offset) throws.
   * There is no option to skip the check.
   */
  readBatches(offset: number, options?: ReadOptions): Buffer | null {
    const { maxBytes, upper } = this.#readArgs(offset, options, 'readBatches');
    return this.#native.read(offset, maxBytes, upper);
  }

  /**
   * Records from `offset` on, decoded, synchronously: at most maxRecords, from
   * at most about maxBytes of batches. Keys and values are views of the log's
   * mapped bytes (copy them to keep them past a truncateTo). Control batches
   * (transaction markers) are skipped. A damaged batch ends the result before
   * it; a call that starts at it throws CorruptRecordError (see readBatches).
   */
  readRecords(offset: number, options?: ReadOptions): LogRecord[] {
    const { maxBytes, upper, maxRecords } = this.#readArgs(offset, options, 'readRecords');
    const out: LogRecord[] = [];
    let position = offset;
    let budget = maxBytes;
    while (out.length < maxRecords && budget > 0) {
      let buf: Buffer | null;
      try {
        buf = this.#native.read(position, budget, upper);
      } catch (err) {
        // Return the good records before a damaged batch; the next call, which starts at it, throws.
        if (err instanceof CorruptRecordError && out.length > 0) break;
        throw err;
      }
      if (buf === null) break;
      decodeBatches(buf, out, position, maxRecords);
      budget -= buf.length;
      const next = this.#state[StateSlot.Aux1];
      if (next <= position) break;
      position = next;
    }
    return out;
  }

  /**
   * Iterates the records from `offset` (default: the log start) to the log end
   * as it is when each batch is read, skipping control batches. Throws
   * CorruptRecordError on reaching a damaged batch, after every record before it.
   */
  records(offset?: number, options?: ReadOptions): AsyncGenerator<LogRecord, void, undefined> {
    // Behaves as an async generator would (lazy: arguments are checked by the
    // first next(); done after an error, return() or throw()), but is a plain
    // object whose next() hands out records decoded by one native read of up
    // to maxBytes: an async generator paid for its own promise machinery on
    // every record, and ran at half the speed of readRecords (W4).
    let started = false;
    let done = false;
    let position = 0;
    let maxBytes = 0;
    let maxRecords = 0;
    let durable = false;
    let yielded = 0;
    let from = 0;
    /** The last native read (whole batches), and where its next batch starts. */
    let buf: Buffer | null = null;
    let bufPos = 0;
    /** The decoded records of one batch of `buf`; the next to hand out. */
    const chunk: LogRecord[] = [];
    let index = 0;
    /** The last read did not move the position: nothing follows its batches. */
    let stuck = false;
    /**
     * Decodes the next batch into `chunk`, reading more when `buf` is used up;
     * false at the end. One native read per maxBytes, but one batch of decoded
     * records at a time: the records die young (a whole read's 9,000 decoded
     * records outlived scavenges and made W4's records() spend a third of its
     * time in GC).
     */
    const fill = (): boolean => {
      if (!started) {
        started = true;
        // Only undefined means the default: null is a bad offset here as in every other call.
        position = offset === undefined ? this.logStartOffset : offset;
        const args = this.#readArgs(position, options, 'records');
        maxBytes = args.maxBytes;
        maxRecords = args.maxRecords;
        durable = args.isolation === 'durable';
      }
      chunk.length = 0;
      index = 0;
      while (yielded < maxRecords) {
        if (buf === null || bufPos >= buf.length) {
          buf = null;
          if (stuck) return false;
          if (this.#closed) throw new LogClosedError(`log ${this.dir} is closed`);
          const upper = durable ? this.durableOffset : this.logEndOffset;
          const read = this.#native.read(position, maxBytes, upper);
          if (read === null) return false;
          const next = this.#state[StateSlot.Aux1];
          stuck = next <= position;
          buf = read;
          bufPos = 0;
          // Records below `from` in the first batch are skipped by the decoder.
          from = position;
          position = next;
        }
        bufPos = decodeBatchFrom(buf, bufPos, chunk, from, maxRecords - yielded);
        if (chunk.length > 0) return true;
      }
      return false;
    };
    const finish = (): void => {
      done = true;
      buf = null;
      chunk.length = 0;
      index = 0;
    };
    const it: AsyncGenerator<LogRecord, void, undefined> = {
      next(): Promise<IteratorResult<LogRecord, void>> {
        if (done) return Promise.resolve({ done: true, value: undefined });
        try {
          if (index >= chunk.length && !fill()) {
            finish();
            return Promise.resolve({ done: true, value: undefined });
          }
        } catch (err) {
          finish();
          return Promise.reject(err);
        }
        yielded++;
        return Promise.resolve({ done: false, value: chunk[index++] });
      },
      return(value?: void | PromiseLike<void>): Promise<IteratorResult<LogRecord, void>> {
        finish();
        return Promise.resolve(value).then((v) => ({ done: true, value: v }));
      },
      throw(err?: unknown): Promise<IteratorResult<LogRecord, void>> {
        finish();
        return Promise.reject(err);
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    } as AsyncGenerator<LogRecord, void, undefined>;
    return it;
  }

  /**
   * The record at `offset`, or null when there is none (below the start, at or
   * past the end, in a gap, or a control record). CorruptRecordError when its
   * batch is damaged.
   */
  get(offset: number): LogRecord | null {
    this.#checkOffset(offset, 'get');
    this.#checkOpen();
    const n = this.#native.getRecord(offset);
    if (n === LookupResult.InArena) return this.#arena.take();
    if (n >= 0) return decodeRecordBody(this.#native.scratch, n);
    if (n === LookupResult.None) return null;
    const batch = this.#native.batchAt(offset);
    if (batch === null) return null;
    for (const r of decodeBatch(batch, [], offset)) if (r.offset === offset) return r;
    return null;
  }

  /** The first offset whose record has a timestamp >= `timestamp`, or null when there is none. */
  offsetForTimestamp(timestamp: number): number | null {
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) {
      throw new InvalidArgumentError(`offsetForTimestamp: timestamp must be an integer, got ${describe(timestamp)}`);
    }
    this.#checkOpen();
    const r = this.#native.offsetForTimestamp(timestamp);
    if (r >= 0) return r;
    if (r === LookupResult.None) return null;
    const batch = this.#native.batchForTimestamp(timestamp);
    if (batch === null) return null;
    const start = this.#state[StateSlot.LogStartOffset];
    for (const rec of decodeBatch(batch, [], start)) if (rec.timestamp >= timestamp) return rec.offset;
    return null;
  }

  /** Resolves when everything appended before the call is durable (one sync covers all waiters). */
  flush(): Promise<void> {
    try {
      this.#checkOpen();
      this.#checkWritable();
      return this.#waitDurable(this.#state[StateSlot.LogEndOffset]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Removes every batch whose last offset is >= `offset` (a follower's
   * truncation). The cut is at a batch boundary, so the new log end offset is
   * the base offset of the first removed batch: `offset` itself when it starts a
   * batch. Appends must wait for the returned promise.
   */
  async truncateTo(offset: number): Promise<void> {
    this.#checkOffset(offset, 'truncateTo');
    this.#checkOpen();
    this.#checkWritable();
    if (this.#truncating) throw new InvalidStateError(`truncateTo is already running on ${this.dir}`);
    this.#truncating = true;
    try {
      while (this.#syncing) await this.#syncing.catch(() => undefined);
      this.#checkOpen();
      const end = this.#native.truncateTo(offset);
      for (const w of this.#waiters.filter((w) => w.target > end)) {
        w.reject(new InvalidStateError(`records up to offset ${w.target - 1} were truncated before they were synced`));
      }
      this.#waiters = this.#waiters.filter((w) => w.target <= end);
      // The checkpointed recovery point must not stay above the new end, or a
      // crash after new appends would trust them unchecked: rewrite it now.
      this.#forceCheckpoint = true;
      await this.#runSync();
    } finally {
      this.#truncating = false;
    }
  }

  /** The segments, oldest first. */
  segments(): SegmentInfo[] {
    this.#checkOpen();
    return this.#native.segments();
  }

  /** Syncs everything, writes the clean-shutdown marker and releases the lock. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    // Durable appends made before close() are written, and synced by the close.
    if (this.#group.length > 0) this.#writeGroup();
    this.#closing = (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = null;
      while (this.#syncing) await this.#syncing.catch(() => undefined);
      this.#closed = true;
      const waiters = this.#waiters;
      this.#waiters = [];
      try {
        await this.#native.close();
      } catch (err) {
        // Not synced, as far as anyone can tell: no waiter may be left hanging.
        for (const w of waiters) w.reject(err);
        throw err;
      }
      // Close synced everything: every waiter is durable now.
      for (const w of waiters) w.resolve(w.value as never);
    })();
    return this.#closing;
  }

  // ---- internals -------------------------------------------------------------

  #refreshIfReader(): void {
    if (this.options.readOnly && !this.#closed) this.#native.refresh();
  }

  /** Throws when closed; writes the group first, so that every call that looks at the log (or appends otherwise) comes after it. */
  #checkOpen(): void {
    if (this.#closed || this.#closing) throw new LogClosedError(`log ${this.dir} is closed`);
    if (this.#group.length > 0) this.#writeGroup();
  }

  #checkWritable(): void {
    this.#checkOpen();
    this.#checkAppendable();
  }

  /** #checkWritable without writing the group (for appends that join it). */
  #checkAppendable(): void {
    if (this.#closed || this.#closing) throw new LogClosedError(`log ${this.dir} is closed`);
    if (this.options.readOnly) {
      throw new ReadOnlyError(`log ${this.dir} was opened read-only`);
    }
    if (this.#truncating) {
      throw new InvalidStateError(`truncateTo is running on ${this.dir}: await it before appending`);
    }
  }

  #checkOffset(offset: unknown, what: string): asserts offset is number {
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError(`${what}: offset must be a non-negative integer, got ${describe(offset)}`);
    }
  }

  #appendAcks(options: AppendOptions | undefined): Acks {
    if (options === undefined) return this.options.acks;
    const given = checkOptionsObject(options, 'append');
    rejectUnknownOptions(given, APPEND_OPTIONS, 'append');
    const acks = given.acks ?? this.options.acks;
    if (acks !== 'none' && acks !== 'written' && acks !== 'durable') {
      throw new InvalidArgumentError(`option acks must be 'none', 'written' or 'durable', got ${describe(acks)}`);
    }
    if (given.compression !== undefined && given.compression !== 'none' && given.compression !== 'lz4') {
      throw new InvalidArgumentError(`option compression must be 'none' or 'lz4', got ${describe(given.compression)}`);
    }
    return acks;
  }

  /** appendBatches' options, checked; a frozen options object (a producer's, passed per batch) is checked once. */
  #appendBatchesOptions(options: AppendBatchesOptions | undefined): ResolvedAppendBatches {
    const known = options !== undefined ? RESOLVED_APPEND_BATCHES.get(options) : undefined;
    if (known !== undefined && known.acks === (options?.acks ?? this.options.acks)) return known;
    const given = checkOptionsObject(options, 'appendBatches');
    rejectUnknownOptions(given, APPEND_BATCHES_OPTIONS, 'appendBatches');
    const assign = given.assignOffsets ?? true;
    if (typeof assign !== 'boolean') {
      throw new InvalidArgumentError(`option assignOffsets must be a boolean, got ${describe(assign)}`);
    }
    const computeCrc = given.computeCrc ?? false;
    if (typeof computeCrc !== 'boolean') {
      throw new InvalidArgumentError(`option computeCrc must be a boolean, got ${describe(computeCrc)}`);
    }
    const acks = this.#appendAcks({ acks: given.acks as Acks | undefined });
    const resolved = { assign, computeCrc, acks };
    if (options !== undefined && Object.isFrozen(options)) RESOLVED_APPEND_BATCHES.set(options, resolved);
    return resolved;
  }

  #appendRecords(records: readonly ProducerRecord[] | ProducerRecord, compression?: CompressionOption): AppendResult {
    this.#checkWritable();
    return this.#nativeAppend(this.#encodeRecords(records, compression), this.#recordsFlags());
  }

  #recordsFlags(): number {
    let flags = AppendFlag.AssignOffsets | AppendFlag.ComputeCrc;
    if (this.options.messageTimestampType === 'LogAppendTime') flags |= AppendFlag.LogAppendTime;
    return flags;
  }

  /** One batch of `records`: a view of the encoder's buffer, valid until the next encode. */
  #encodeRecords(records: readonly ProducerRecord[] | ProducerRecord, compression: CompressionOption | undefined): Buffer {
    const list = this.#recordList(records);
    try {
      return this.#encoder.encodeResolved(list, this.#encodeOptions(compression));
    } finally {
      this.#one[0] = undefined as unknown as ProducerRecord;
    }
  }

  /** append()'s records as an array: a single record goes into #one (the caller clears it). */
  #recordList(records: readonly ProducerRecord[] | ProducerRecord): readonly ProducerRecord[] {
    if (Array.isArray(records)) return records;
    if (records !== null && typeof records === 'object') {
      this.#one[0] = records as ProducerRecord;
      return this.#one;
    }
    throw new InvalidArgumentError(`append takes a record or an array of records, got ${describe(records)}`);
  }

  /** Encode options resolved once per log: no option parsing per append. */
  #encodeOptions(compression: CompressionOption | undefined): Readonly<ResolvedEncodeOptions> {
    const codec = compression ?? this.options.compression;
    if (codec === 'none') return this.#encodeNone;
    if (codec === 'lz4') return this.#encodeLz4;
    throw new InvalidArgumentError(`option compression must be 'none' or 'lz4', got ${describe(codec)}`);
  }

  /**
   * A durable append joins the group (see the file comment): encoded now (bad
   * input throws here and nothing joins), written by #writeGroup at the end of
   * the microtask queue, resolved by the sync after that.
   */
  #appendGrouped(records: readonly ProducerRecord[] | ProducerRecord, compression?: CompressionOption): Promise<AppendResult> {
    this.#checkAppendable();
    let start = this.#groupBytes;
    let end: number;
    try {
      // Encoded in place, after the group's other batches.
      end = this.#groupEncoder.encodeAt(this.#recordList(records), this.#encodeOptions(compression), start);
    } finally {
      this.#one[0] = undefined as unknown as ProducerRecord;
    }
    if (start > 0 && end > this.#groupLimit) {
      // Too big a group: write the others, and start the next group with this batch.
      this.#writeGroup();
      this.#groupEncoder.buffer.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    this.#groupBytes = end;
    const count = Array.isArray(records) ? records.length : 1;
    const value: AppendResult = { baseOffset: -1, lastOffset: -1, logAppendTime: -1 };
    const g: GroupedAppend = { target: 0, resolve: noop, reject: noop, value, start, end, records: count };
    const promise = new Promise<AppendResult>((resolve, reject) => {
      g.resolve = resolve as (value: never) => void;
      g.reject = reject;
    });
    this.#group.push(g);
    if (!this.#groupScheduled) {
      this.#groupScheduled = true;
      queueMicrotask(this.#writeGroupTask);
    }
    return promise;
  }

  /**
   * Writes the group with one native append and hands its appends to the
   * next sync. Never throws: a failure rejects the group's appends. When the
   * native append refuses one batch (InvalidBatchError, BatchTooLargeError:
   * found before anything is written), each batch is appended on its own, so
   * only the bad one fails, as it would have alone.
   */
  #writeGroup(): void {
    const group = this.#group;
    if (group.length === 0) return;
    const bytes = this.#groupBytes;
    this.#group = [];
    this.#groupBytes = 0;
    const buf = this.#groupEncoder.buffer;
    const flags = this.#recordsFlags();
    try {
      this.#writeGrouped(group, 0, group.length, buf.subarray(0, bytes), flags);
    } catch (err) {
      if (group.length > 1 && (err instanceof InvalidBatchError || err instanceof BatchTooLargeError)) {
        for (let i = 0; i < group.length; i++) {
          const g = group[i];
          try {
            this.#writeGrouped(group, i, i + 1, buf.subarray(g.start, g.end), flags);
          } catch (e) {
            g.reject(e);
          }
        }
      } else {
        for (const g of group) g.reject(err);
      }
    }
  }

  /** Appends the batches of group[from, to) (`bytes`), fills in their results and queues them for the next sync. */
  #writeGrouped(group: GroupedAppend[], from: number, to: number, bytes: Buffer, flags: number): void {
    let offset = this.#native.append(bytes, flags);
    const time = this.#state[StateSlot.Aux2];
    for (let i = from; i < to; i++) {
      const g = group[i];
      g.value.baseOffset = offset;
      offset += g.records;
      g.value.lastOffset = offset - 1;
      g.value.logAppendTime = time;
      g.target = offset;
      this.#waiters.push(g);
    }
    // Every append of the group waits for a sync (this covers flushBytes too).
    this.#requestSync();
  }

  #nativeAppend(batch: Uint8Array, flags: number): AppendResult {
    const baseOffset = this.#native.append(batch, flags);
    const result: AppendResult = {
      baseOffset,
      lastOffset: this.#state[StateSlot.Aux1],
      logAppendTime: this.#state[StateSlot.Aux2],
    };
    const { flushBytes } = this.options;
    if (flushBytes !== null && this.#state[StateSlot.UnsyncedBytes] >= flushBytes) this.#requestSync();
    return result;
  }

  #readArgs(offset: number, options: ReadOptions | undefined, what: string) {
    this.#checkOffset(offset, what);
    const given = checkOptionsObject(options, what);
    rejectUnknownOptions(given, READ_OPTIONS, what);
    const maxBytes = given.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new InvalidArgumentError(`option maxBytes must be a positive integer, got ${describe(maxBytes)}`);
    }
    const maxRecords = given.maxRecords ?? Infinity;
    if (typeof maxRecords !== 'number' || !(maxRecords === Infinity || (Number.isSafeInteger(maxRecords) && maxRecords >= 1))) {
      throw new InvalidArgumentError(`option maxRecords must be a positive integer, got ${describe(maxRecords)}`);
    }
    const isolation = given.isolation ?? 'written';
    if (isolation !== 'written' && isolation !== 'durable') {
      throw new InvalidArgumentError(`option isolation must be 'written' or 'durable', got ${describe(isolation)}`);
    }
    this.#checkOpen();
    if (this.options.readOnly) this.#native.refresh();
    const upper = isolation === 'durable' ? this.#state[StateSlot.DurableOffset] : this.#state[StateSlot.LogEndOffset];
    return { maxBytes, maxRecords, isolation: isolation as Isolation, upper };
  }

  /** Resolves to `value` once every offset below `target` is durable. */
  #waitDurable<T = void>(target: number, value?: T): Promise<T> {
    if (this.#state[StateSlot.DurableOffset] >= target) return Promise.resolve(value as T);
    return new Promise<T>((resolve, reject) => {
      this.#waiters.push({ target, resolve: resolve as (value: never) => void, reject, value });
      this.#requestSync();
    });
  }

  /** Starts a sync at the end of this microtask queue, unless one is running (it restarts when done). */
  #requestSync(): void {
    if (this.#syncScheduled || this.#syncing) return;
    this.#syncScheduled = true;
    queueMicrotask(() => {
      this.#syncScheduled = false;
      if (!this.#syncing && !this.#closed && !this.#truncating) this.#runSync().catch(() => undefined);
    });
  }

  async #runSync(): Promise<void> {
    const force = this.#forceCheckpoint;
    this.#forceCheckpoint = false;
    const p = this.#native.sync(force);
    this.#syncing = p;
    let failure: unknown = null;
    try {
      await p;
    } catch (err) {
      failure = err;
      if (force) this.#forceCheckpoint = true;
    } finally {
      this.#syncing = null;
    }
    const durable = this.#state[StateSlot.DurableOffset];
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (failure !== null) w.reject(failure);
      else if (w.target <= durable) w.resolve(w.value as never);
      else still.push(w);
    }
    this.#waiters = still;
    if (still.length > 0 && !this.#closed) this.#requestSync();
    if (failure !== null) throw failure;
  }
}
