/**
 * Idempotent-producer state of one partition, as Kafka's ProducerStateManager
 * keeps it: per producer id, its epoch and the metadata of its last 5 batches
 * (first/last sequence, first/last offset). With it the partition
 *
 * - recognises a retried batch (same producer id, epoch, first and last
 *   sequence as one of the last 5) and answers with its original offsets
 *   instead of writing it again;
 * - refuses a batch whose first sequence does not follow the producer's last
 *   one (OutOfOrderSequenceError) and a batch from an older epoch of the
 *   producer id (ProducerFencedError). A producer id the partition does not
 *   know (new, or expired) may start at any sequence, as in Kafka.
 *
 * Lifetime and crash behaviour. The state lives in memory and is checkpointed
 * to `<20-digit offset>.snapshot` files in the partition directory, in Kafka's
 * snapshot format (ProducerStateManager.java, version 1): the state after every
 * batch below that offset. A snapshot is written at clean close and every
 * `snapshotIntervalBytes` of appends; the newest two are kept. On open the
 * newest snapshot at or below the log end offset is loaded (newer ones are
 * stale after a truncation and are deleted; a corrupt one is deleted and the
 * next older one is tried), then the batches after it are scanned. A kill -9
 * therefore loses nothing: the tail after the snapshot is rebuilt from the log.
 *
 * Like Kafka's, a snapshot holds only each producer's last batch, so right
 * after a restart a retry of that last batch is recognised, older ones only if
 * they are in the scanned tail.
 *
 * Expiry: a producer id idle for `expirationMs` (wall clock, time of its last
 * append) is forgotten. A batch found by the scan on open counts as appended at
 * open time (CreateTime batch timestamps are the client's, not the append
 * time), unless the topic uses LogAppendTime.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidBatchError } from './errors.js';
import type { Log } from './log.js';
import { syncDir, unlinkIfExists, writeFileAtomic } from './metadata-file.js';
import { native } from './native.js';
import type { BatchHeader } from './record/types.js';
import { iterateBatches } from './record/index.js';
import { CorruptMetadataError, OutOfOrderSequenceError, ProducerFencedError } from './store-errors.js';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
export const BATCHES_TO_RETAIN = 5;
export const NO_PRODUCER_ID = -1;
export const NO_SEQUENCE = -1;
export const SNAPSHOT_SUFFIX = '.snapshot';
const INT32_MAX = 0x7fffffff;
const SNAPSHOTS_TO_KEEP = 2;

// Kafka's snapshot layout: version i16, crc u32 (CRC-32C of every byte after
// it), then an array (count i32) of 46-byte entries.
const SNAPSHOT_VERSION = 1;
const VERSION_OFFSET = 0;
const CRC_OFFSET = VERSION_OFFSET + 2;
const ENTRIES_OFFSET = CRC_OFFSET + 4; // the CRC covers the snapshot from here
const COUNT_LENGTH = 4;
const ENTRY_PRODUCER_ID = 0; // i64
const ENTRY_EPOCH = ENTRY_PRODUCER_ID + 8; // i16
const ENTRY_LAST_SEQUENCE = ENTRY_EPOCH + 2; // i32
const ENTRY_LAST_OFFSET = ENTRY_LAST_SEQUENCE + 4; // i64
const ENTRY_OFFSET_DELTA = ENTRY_LAST_OFFSET + 8; // i32
const ENTRY_TIMESTAMP = ENTRY_OFFSET_DELTA + 4; // i64
const ENTRY_COORDINATOR_EPOCH = ENTRY_TIMESTAMP + 8; // i32 (transactions: always -1 here)
const ENTRY_TXN_FIRST_OFFSET = ENTRY_COORDINATOR_EPOCH + 4; // i64 (transactions: always -1 here)
const ENTRY_SIZE = ENTRY_TXN_FIRST_OFFSET + 8; // 46

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  /** Wall-clock ms of the append. */
  timestamp: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  /** Oldest first, at most BATCHES_TO_RETAIN. */
  batches: BatchMetadata[];
  lastTimestamp: number;
}

/** The idempotence fields of one batch. */
export interface ProducerBatch {
  producerId: number;
  epoch: number;
  baseSequence: number;
  /** Records in the batch: lastOffsetDelta + 1. */
  count: number;
}

/** Kafka DefaultRecordBatch.incrementSequence: sequences wrap from INT32_MAX to 0. */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

/** Kafka DefaultRecordBatch.decrementSequence. */
export function decrementSequence(sequence: number, decrement: number): number {
  if (sequence < decrement) return INT32_MAX - (decrement - sequence) + 1;
  return sequence - decrement;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export function snapshotFileName(offset: number): string {
  return String(offset).padStart(20, '0') + SNAPSHOT_SUFFIX;
}

/** What check() decided for one batch: append it, or it duplicates an appended batch (answer with its offsets). */
export type CheckResult = { duplicate: false } | { duplicate: true; batch: BatchMetadata };

const APPEND: CheckResult = Object.freeze({ duplicate: false });

export class ProducerStateManager {
  readonly dir: string;
  readonly expirationMs: number;
  readonly #producers = new Map<number, ProducerEntry>();
  /** Offset of the newest snapshot written or loaded (-1: none). */
  #snapshotOffset = -1;
  #snapshotChain: Promise<void> = Promise.resolve();

  constructor(dir: string, expirationMs: number) {
    this.dir = dir;
    this.expirationMs = expirationMs;
  }

  get size(): number {
    return this.#producers.size;
  }

  get snapshotOffset(): number {
    return this.#snapshotOffset;
  }

  /** A copy of a producer's entry, or undefined. */
  entry(producerId: number): ProducerEntry | undefined {
    const e = this.#producers.get(producerId);
    return e === undefined ? undefined : { ...e, batches: e.batches.map((b) => ({ ...b })) };
  }

  /**
   * Checks the idempotent batches of one append, in order, as if each earlier
   * one had been appended: returns, per batch, whether to append it or which
   * appended batch it duplicates. Throws ProducerFencedError or
   * OutOfOrderSequenceError (naming `where`) and changes nothing.
   */
  check(batches: readonly ProducerBatch[], where: string): CheckResult[] {
    const out: CheckResult[] = [];
    // What the earlier batches of this append would make of each producer.
    let pending: Map<number, { epoch: number; firstSeq: number; lastSeq: number }[]> | null = null;
    for (const b of batches) {
      if (b.producerId === NO_PRODUCER_ID) {
        out.push(APPEND);
        continue;
      }
      const lastSeq = incrementSequence(b.baseSequence, b.count - 1);
      const mine = pending?.get(b.producerId);
      const entry = this.#producers.get(b.producerId);
      let epoch = entry?.epoch ?? -1;
      let last = entry && entry.batches.length > 0 ? entry.batches[entry.batches.length - 1].lastSeq : NO_SEQUENCE;
      if (mine && mine.length > 0) {
        epoch = mine[mine.length - 1].epoch;
        last = mine[mine.length - 1].lastSeq;
      }
      const label = `${where}: producer ${b.producerId}`;
      if (b.epoch < epoch) {
        throw new ProducerFencedError(`${label} epoch ${b.epoch} is fenced: epoch ${epoch} has written to this partition`);
      }
      if (b.epoch === epoch) {
        if (mine?.some((m) => m.firstSeq === b.baseSequence && m.lastSeq === lastSeq)) {
          throw new OutOfOrderSequenceError(`${label} sent the batch with sequences ${b.baseSequence}..${lastSeq} twice in one append`);
        }
        const dup = entry?.epoch === b.epoch ? entry.batches.find((m) => m.firstSeq === b.baseSequence && m.lastSeq === lastSeq) : undefined;
        if (dup && !(mine && mine.length > 0)) {
          out.push({ duplicate: true, batch: { ...dup } });
          continue;
        }
        if (last !== NO_SEQUENCE && !inSequence(last, b.baseSequence)) {
          throw new OutOfOrderSequenceError(
            `${label} epoch ${b.epoch}: sequence ${b.baseSequence} does not follow the last appended sequence ${last} (expected ${incrementSequence(last, 1)})`,
          );
        }
      } else if (epoch !== -1 && b.baseSequence !== 0) {
        throw new OutOfOrderSequenceError(`${label}: the first batch of epoch ${b.epoch} must start at sequence 0, not ${b.baseSequence}`);
      }
      pending ??= new Map();
      let list = pending.get(b.producerId);
      if (!list) pending.set(b.producerId, (list = []));
      list.push({ epoch: b.epoch, firstSeq: b.baseSequence, lastSeq });
      out.push(APPEND);
    }
    return out;
  }

  /** Records an appended idempotent batch whose records got offsets [baseOffset, baseOffset + count). */
  update(b: ProducerBatch, baseOffset: number, now: number): void {
    if (b.producerId === NO_PRODUCER_ID) return;
    let entry = this.#producers.get(b.producerId);
    if (entry === undefined) {
      entry = { producerId: b.producerId, epoch: b.epoch, batches: [], lastTimestamp: now };
      this.#producers.set(b.producerId, entry);
    } else if (b.epoch !== entry.epoch) {
      entry.epoch = b.epoch;
      entry.batches = [];
    }
    entry.batches.push({
      firstSeq: b.baseSequence,
      lastSeq: incrementSequence(b.baseSequence, b.count - 1),
      firstOffset: baseOffset,
      lastOffset: baseOffset + b.count - 1,
      timestamp: now,
    });
    if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
    entry.lastTimestamp = now;
  }

  /** Forgets producer ids idle for expirationMs or more. */
  expire(now: number): void {
    for (const [id, e] of this.#producers) if (now - e.lastTimestamp >= this.expirationMs) this.#producers.delete(id);
  }

  // ---- snapshots -------------------------------------------------------------

  /** Kafka's snapshot bytes of the current state. */
  serialize(): Buffer {
    const buf = Buffer.alloc(ENTRIES_OFFSET + COUNT_LENGTH + ENTRY_SIZE * this.#producers.size);
    buf.writeInt16BE(SNAPSHOT_VERSION, VERSION_OFFSET);
    buf.writeInt32BE(this.#producers.size, ENTRIES_OFFSET);
    let p = ENTRIES_OFFSET + COUNT_LENGTH;
    for (const e of this.#producers.values()) {
      const last = e.batches.length > 0 ? e.batches[e.batches.length - 1] : null;
      buf.writeBigInt64BE(BigInt(e.producerId), p + ENTRY_PRODUCER_ID);
      buf.writeInt16BE(e.epoch, p + ENTRY_EPOCH);
      buf.writeInt32BE(last ? last.lastSeq : NO_SEQUENCE, p + ENTRY_LAST_SEQUENCE);
      buf.writeBigInt64BE(BigInt(last ? last.lastOffset : -1), p + ENTRY_LAST_OFFSET);
      buf.writeInt32BE(last ? last.lastOffset - last.firstOffset : 0, p + ENTRY_OFFSET_DELTA);
      buf.writeBigInt64BE(BigInt(e.lastTimestamp), p + ENTRY_TIMESTAMP);
      buf.writeInt32BE(-1, p + ENTRY_COORDINATOR_EPOCH);
      buf.writeBigInt64BE(-1n, p + ENTRY_TXN_FIRST_OFFSET);
      p += ENTRY_SIZE;
    }
    buf.writeUInt32BE(native.crc32c(buf.subarray(ENTRIES_OFFSET)), CRC_OFFSET);
    return buf;
  }

  /** Parses Kafka snapshot bytes (CorruptMetadataError when they fail a check). */
  static parse(buf: Buffer, name: string): ProducerEntry[] {
    if (buf.length < ENTRIES_OFFSET + COUNT_LENGTH) throw new CorruptMetadataError(`${name}: ${buf.length} bytes is too short for a producer snapshot`);
    const version = buf.readInt16BE(VERSION_OFFSET);
    if (version !== SNAPSHOT_VERSION) throw new CorruptMetadataError(`${name}: unknown snapshot version ${version}`);
    const crc = buf.readUInt32BE(CRC_OFFSET);
    const computed = native.crc32c(buf.subarray(ENTRIES_OFFSET));
    if (crc !== computed) throw new CorruptMetadataError(`${name}: CRC mismatch (stored ${crc}, computed ${computed})`);
    const count = buf.readInt32BE(ENTRIES_OFFSET);
    if (count < 0 || buf.length !== ENTRIES_OFFSET + COUNT_LENGTH + count * ENTRY_SIZE) {
      throw new CorruptMetadataError(`${name}: ${count} entries do not fit its ${buf.length} bytes`);
    }
    const out: ProducerEntry[] = [];
    let p = ENTRIES_OFFSET + COUNT_LENGTH;
    for (let i = 0; i < count; i++, p += ENTRY_SIZE) {
      const producerId = Number(buf.readBigInt64BE(p + ENTRY_PRODUCER_ID));
      const epoch = buf.readInt16BE(p + ENTRY_EPOCH);
      const lastSeq = buf.readInt32BE(p + ENTRY_LAST_SEQUENCE);
      const lastOffset = Number(buf.readBigInt64BE(p + ENTRY_LAST_OFFSET));
      const delta = buf.readInt32BE(p + ENTRY_OFFSET_DELTA);
      const timestamp = Number(buf.readBigInt64BE(p + ENTRY_TIMESTAMP));
      const batches: BatchMetadata[] =
        lastOffset >= 0
          ? [{ firstSeq: decrementSequence(lastSeq, delta), lastSeq, firstOffset: lastOffset - delta, lastOffset, timestamp }]
          : [];
      out.push({ producerId, epoch, batches, lastTimestamp: timestamp });
    }
    return out;
  }

  /**
   * Writes a snapshot of the current state as `<offset>.snapshot` (offset: the
   * log end offset the state corresponds to) and removes all but the newest
   * two. The state is serialised now; the file is written on the thread pool.
   * Snapshots are written one at a time, in call order.
   */
  snapshot(offset: number, now: number): Promise<void> {
    this.expire(now);
    const bytes = this.serialize();
    this.#snapshotOffset = offset;
    const run = this.#snapshotChain.then(async () => {
      await writeFileAtomic(join(this.dir, snapshotFileName(offset)), bytes);
      const offsets = await listSnapshots(this.dir);
      for (const o of offsets.slice(0, Math.max(0, offsets.length - SNAPSHOTS_TO_KEEP))) {
        await unlinkIfExists(join(this.dir, snapshotFileName(o)));
      }
    });
    this.#snapshotChain = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every snapshot started so far is written. */
  async drain(): Promise<void> {
    await this.#snapshotChain;
  }

  /**
   * The state of `log` (opened for writing): the newest usable snapshot, then
   * a scan of the batches after it. Deletes snapshots above the log end offset
   * and corrupt ones.
   */
  static async load(dir: string, log: Log, expirationMs: number, now: number): Promise<ProducerStateManager> {
    const state = new ProducerStateManager(dir, expirationMs);
    const end = log.logEndOffset;
    const start = log.logStartOffset;
    let from = start;
    const offsets = await listSnapshots(dir);
    let removed = false;
    for (let i = offsets.length - 1; i >= 0; i--) {
      const offset = offsets[i];
      const name = snapshotFileName(offset);
      if (offset > end) {
        await unlinkIfExists(join(dir, name));
        removed = true;
        continue;
      }
      try {
        for (const e of ProducerStateManager.parse(await readFile(join(dir, name)), join(dir, name))) {
          if (e.producerId >= 0) state.#producers.set(e.producerId, e);
        }
        state.#snapshotOffset = offset;
        from = Math.max(offset, start);
        break;
      } catch (err) {
        if (!(err instanceof CorruptMetadataError)) throw err;
        await unlinkIfExists(join(dir, name));
        removed = true;
      }
    }
    // The removals must be durable before the log grows past those offsets
    // again: a snapshot above the end that came back after a power loss would
    // later pass for the state of different records.
    if (removed) await syncDir(dir);
    state.#scan(log, from, end, now);
    state.expire(now);
    return state;
  }

  /** Replays the idempotent batches of `log` in [from, end). */
  #scan(log: Log, from: number, end: number, now: number): void {
    let position = from;
    while (position < end) {
      const buf = log.readBatches(position, { maxBytes: 8 * 1024 * 1024 });
      if (buf === null) break;
      let next = position;
      for (const { header } of iterateBatches(buf)) {
        const last = header.baseOffset + header.lastOffsetDelta;
        next = last + 1;
        if (last < position || header.producerId < 0 || header.isControl) continue;
        const ts = header.timestampType === 'LogAppendTime' ? header.maxTimestamp : now;
        const b = { producerId: header.producerId, epoch: header.producerEpoch, baseSequence: header.baseSequence, count: header.lastOffsetDelta + 1 };
        this.update(b, header.baseOffset, ts);
      }
      if (next <= position) break;
      position = next;
    }
  }
}

/** The idempotence fields of a batch header; transactional batches are refused. */
export function batchOf(header: BatchHeader): ProducerBatch {
  if (header.isTransactional) {
    throw new InvalidBatchError(`batch at base offset ${header.baseOffset} is transactional: tidelog does not support transactions`);
  }
  return {
    producerId: header.producerId,
    epoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    count: header.lastOffsetDelta + 1,
  };
}

/** Offsets of the `.snapshot` files in `dir`, ascending. */
export async function listSnapshots(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => /^\d{20}\.snapshot$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}
