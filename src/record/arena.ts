/**
 * RecordArena: where Log.get() receives a record without headers.
 *
 * The native getRecord copies such a record's key and value straight from the
 * segment into an arena (one ArrayBuffer handed to the native handle with
 * setRecordArena) and its offset, timestamp and lengths into a Float64Array;
 * `take` then makes the key and value Buffers as two views of the arena. That
 * saves, per get, the copy through the scratch buffer, the varint parsing in JS
 * and two Buffer.allocUnsafe + copy (docs/architecture.md, "get(offset)").
 *
 * Ownership: a region of the arena is written once and never reused, so the
 * views are the caller's own bytes, as copies are: later appends, truncateTo or
 * close do not touch them. When less than REFILL_BELOW bytes are left, a new
 * arena is set; the old one is freed when its last view is collected (like the
 * pool of Buffer.allocUnsafe, a retained view keeps its arena alive).
 */
import type { NativeLog } from '../native.js';
import { BufferView, NO_HEADERS } from './decode.js';
import type { LogRecord } from './types.js';

/** Bytes of one arena: Buffer.poolSize, what one retained view of it may keep alive. */
export const ARENA_BYTES = 8 * 1024;
/** A new arena is set when fewer bytes than this are left (a larger record takes the scratch path meanwhile). */
export const REFILL_BELOW = 1024;

/** Slots of the Float64Array getRecord fills; native/binding/log_handle.cc (RecordOutSlot) names the same. */
export const RecordOut = { Offset: 0, Timestamp: 1, KeyLength: 2, ValueLength: 3, Position: 4, Slots: 5 } as const;

export class RecordArena {
  readonly #native: NativeLog;
  readonly #out = new Float64Array(RecordOut.Slots);
  #buffer: ArrayBuffer;

  constructor(native: NativeLog) {
    this.#native = native;
    this.#buffer = this.#refill();
  }

  /** The record getRecord just placed (it returned LookupResult.InArena). */
  take(): LogRecord {
    const out = this.#out;
    const kl = out[RecordOut.KeyLength];
    const vl = out[RecordOut.ValueLength];
    const pos = out[RecordOut.Position];
    const buffer = this.#buffer;
    const key = kl > 0 ? new BufferView(buffer, pos, kl) : kl === 0 ? Buffer.alloc(0) : null;
    const valuePos = kl > 0 ? pos + kl : pos;
    const value = vl > 0 ? new BufferView(buffer, valuePos, vl) : vl === 0 ? Buffer.alloc(0) : null;
    if (ARENA_BYTES - (valuePos + (vl > 0 ? vl : 0)) < REFILL_BELOW) this.#buffer = this.#refill();
    return { offset: out[RecordOut.Offset], timestamp: out[RecordOut.Timestamp], key, value, headers: NO_HEADERS };
  }

  #refill(): ArrayBuffer {
    const buffer = new ArrayBuffer(ARENA_BYTES);
    this.#native.setRecordArena(new Uint8Array(buffer), this.#out);
    return buffer;
  }
}
