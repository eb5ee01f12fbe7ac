/**
 * A batch filled record by record (Kafka's MemoryRecordsBuilder): the
 * producer's open batch. Records measured by measureRecords are written into
 * the builder's buffer as they are accepted — offset deltas 0, 1, ... and
 * timestamps as deltas from the batch's first record — so appending the batch
 * later only writes its 61-byte header (and compresses, when asked): the
 * records are never copied into an intermediate structure or encoded twice.
 *
 * The buffer is the caller's (a producer reuses them from a pool); the
 * builder grows it (copying) when records overflow it. `finish` leaves the
 * CRC field 0: the log's append computes it natively (appendBatches with
 * computeCrc: true).
 */
import { BatchTooLargeError } from '../errors.js';
import { compressRecords } from './compression.js';
import { COMPRESSION_LZ4, HEADER_SIZE, LOG_OVERHEAD } from './format.js';
import { INT32_MAX, type RecordsMeasure } from './measure.js';
import { writeBatchHeader, writeRecords } from './write.js';

/** batchLength is an i32: a batch is at most this many bytes. */
const MAX_BATCH_BYTES = LOG_OVERHEAD + INT32_MAX;

export interface FinishOptions {
  lz4: boolean;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

export class BatchBuilder {
  #buf: Buffer;
  #end = HEADER_SIZE;
  #count = 0;
  #baseTimestamp = -1;
  #maxTimestamp = -1;

  /** @param buf where the batch is built; at least HEADER_SIZE bytes. */
  constructor(buf: Buffer) {
    this.#buf = buf.length >= HEADER_SIZE ? buf : Buffer.allocUnsafe(HEADER_SIZE);
  }

  get count(): number {
    return this.#count;
  }

  /** Bytes of the batch so far (header included). */
  get sizeBytes(): number {
    return this.#end;
  }

  /** The buffer the batch is built in (it changes when the batch grows). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /**
   * Writes records [from, to) of `m` (records idx[from..to) when idx is given)
   * after the records already in the batch.
   * Throws (InvalidArgumentError "changed while the batch was being encoded")
   * only if a measured Uint8Array changed length since; the batch is then as
   * it was before the call.
   */
  add(m: RecordsMeasure, idx: ArrayLike<number> | null, from: number, to: number, single: boolean): void {
    const bound = m.boundOf(idx, from, to);
    if (this.#end + bound > this.#buf.length) this.#grow(this.#end + bound);
    const stamp = m.stamp;
    const base = this.#count === 0 ? stamp[idx === null ? from : idx[from]] : this.#baseTimestamp;
    let max = this.#maxTimestamp;
    if (idx === null && from === 0 && to === m.count) {
      if (m.maxTimestamp > max) max = m.maxTimestamp;
    } else {
      for (let k = from; k < to; k++) {
        const t = stamp[idx === null ? k : idx[k]];
        if (t > max) max = t;
      }
    }
    this.#end = writeRecords(this.#buf, this.#end, m, idx, from, to, this.#count, base, single);
    this.#baseTimestamp = base;
    this.#maxTimestamp = max;
    this.#count += to - from;
  }

  /**
   * Writes the batch header; returns the whole batch: a view of the builder's
   * buffer (uncompressed), or a fresh Buffer holding the header and the LZ4
   * frame of the records. The CRC field is 0.
   */
  finish(o: Readonly<FinishOptions>): Buffer {
    const header = {
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      attributes: o.lz4 ? COMPRESSION_LZ4 : 0,
      count: this.#count,
      baseTimestamp: this.#baseTimestamp,
      maxTimestamp: this.#maxTimestamp,
      producerId: o.producerId,
      producerEpoch: o.producerEpoch,
      baseSequence: o.baseSequence,
    };
    if (!o.lz4) {
      if (this.#end > MAX_BATCH_BYTES) throw tooLarge(this.#count, this.#end);
      writeBatchHeader(this.#buf, 0, this.#end, header);
      return this.#buf.subarray(0, this.#end);
    }
    const frame = compressRecords(this.#buf.subarray(HEADER_SIZE, this.#end));
    if (HEADER_SIZE + frame.length > MAX_BATCH_BYTES) throw tooLarge(this.#count, HEADER_SIZE + frame.length);
    const out = Buffer.allocUnsafe(HEADER_SIZE + frame.length);
    frame.copy(out, HEADER_SIZE);
    writeBatchHeader(out, 0, out.length, header);
    return out;
  }

  #grow(bytes: number): void {
    const next = Buffer.allocUnsafe(Math.max(bytes, 2 * this.#buf.length));
    this.#buf.copy(next, 0, 0, this.#end);
    this.#buf = next;
  }
}

function tooLarge(count: number, bytes: number): BatchTooLargeError {
  return new BatchTooLargeError(`${count} records take ${bytes} bytes, over the ${MAX_BATCH_BYTES}-byte limit of one batch`);
}
