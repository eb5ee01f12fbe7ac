/**
 * Reading a partition's `.head` from JavaScript: the writer's published view
 * (native/core/head_file.h), for tools that look at a directory whose writer
 * may be dead (simulatePowerLoss) or may not have opened it yet (a read-only
 * store).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The layout of `.head` (native/core/head_file.cc): magic u64, sequence u64,
// then the fields of HeadState as i64, in the byte order of the machine.
const HEAD_MAGIC = 0x544c484541443031n; // "TLHEAD01"
const HEAD_FIELDS = 16;
const HEAD_FIELD_COUNT = 10;

/** The writer's published view of a partition (native HeadState). */
export interface HeadState {
  logStartOffset: number;
  logEndOffset: number;
  durableOffset: number;
  activeBaseOffset: number;
  activeSize: number;
  offsetIndexEntries: number;
  timeIndexEntries: number;
  generation: number;
  /** The segment holding durableOffset, and its size when that offset was synced. */
  durableSegmentBase: number;
  durableSegmentSize: number;
}

/** Reads a partition's `.head`; null when no writer ever published there. */
export function readHead(dir: string): HeadState | null {
  const path = join(dir, '.head');
  if (!existsSync(path)) return null;
  const buf = readFileSync(path);
  if (buf.length < HEAD_FIELDS + 8 * HEAD_FIELD_COUNT) return null;
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const u64 = (at: number) => (le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
  const i64 = (i: number) => Number(le ? buf.readBigInt64LE(HEAD_FIELDS + 8 * i) : buf.readBigInt64BE(HEAD_FIELDS + 8 * i));
  if (u64(0) !== HEAD_MAGIC) return null;
  // The writer is dead: its last publication is whole, or it died in the middle
  // of one (odd sequence), when every field still holds a whole offset.
  return {
    logStartOffset: i64(0),
    logEndOffset: i64(1),
    durableOffset: i64(2),
    activeBaseOffset: i64(3),
    activeSize: i64(4),
    offsetIndexEntries: i64(5),
    timeIndexEntries: i64(6),
    generation: i64(7),
    durableSegmentBase: i64(8),
    durableSegmentSize: i64(9),
  };
}
