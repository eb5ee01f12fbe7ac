/**
 * simulatePowerLoss: what a power cut would have left of a log whose writer
 * is dead (killed, crashed): every byte the log had not yet synced is dropped.
 *
 * The writer publishes in its `.head` file (native/core/head_file.h), after
 * every sync, the durable offset and where the synced bytes end: the segment
 * that holds the durable offset and its size when it was synced. A process
 * crash leaves that page in the page cache, so after a kill it still tells
 * exactly what had reached the disk:
 *
 *   - segments before the durable one were synced whole: kept;
 *   - the durable segment's `.log` is cut back to its synced size; or, when
 *     its size is a multiple of 256 KiB (a zero tail, which sync jobs write
 *     ahead of the appends and fdatasync: that size reached the disk), it may
 *     keep its size with the unsynced bytes back to zeros (seeded choice);
 *   - segments created since the last sync never had their directory entry
 *     synced: each is removed, or left as empty files (seeded choice; both are
 *     states a power loss can leave);
 *   - with `tearLastPage`, the page after the synced bytes is left torn: a
 *     seeded number of the unsynced bytes that followed, then zeros or garbage
 *     to the end of that page, as a disk that lost power mid-write may leave.
 *
 * Index files are left as they are: recovery rebuilds the index of every
 * segment it scans, and never trusts one. Metadata files (checkpoints,
 * topics.json, producer snapshots) are written atomically and synced before
 * they are used, so they stay. A log that was closed cleanly lost nothing.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from '../config.js';
import { InvalidArgumentError, InvalidStateError, LogLockedError } from '../errors.js';
import { type HeadState, readHead } from '../head.js';
import { mulberry32 } from './random.js';

export { type HeadState, readHead };

const HEAD_FILE = '.head';
const LOCK_FILE = '.lock';
const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
const TOPICS_FILE = 'topics.json';
const PAGE = 4096;
/** kZeroTailChunk (native/core/segment.h): a file with a zero tail has a size that is a multiple of it. */
const ZERO_TAIL_CHUNK = 256 * 1024;


/**
 * The pid of a process holding the flock of `<dir>/.lock`, from /proc/locks;
 * null when none does, or where /proc/locks does not exist (not Linux).
 */
export function lockHolder(dir: string): number | null {
  const lock = join(dir, LOCK_FILE);
  if (!existsSync(lock)) return null;
  let table: string;
  try {
    table = readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  const ino = statSync(lock).ino;
  for (const line of table.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a "->" marks a waiter)
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'FLOCK' || f[2] === '->') continue;
    const id = f[5]?.split(':');
    if (id?.length === 3 && Number(id[2]) === ino) return Number(f[4]);
  }
  return null;
}

export interface PowerLossOptions {
  /** Seed of the choices (which new segments stay as empty files, how a page tears). @default 0 */
  seed?: number;
  /**
   * Leave the page after the synced bytes of the durable segment torn: part of
   * the bytes that followed, then zeros or garbage to the end of the page.
   * `true` picks zeros or garbage from the seed. @default false
   */
  tearLastPage?: boolean | 'zeros' | 'garbage';
}

export interface PartitionPowerLoss {
  dir: string;
  /** Everything below it was synced and is kept. */
  durableOffset: number;
  /** The log end the writer had reached. */
  logEndOffset: number;
  /** False: the log was closed cleanly (nothing unsynced) and was left alone. */
  changed: boolean;
  /** Files removed (segments created since the last sync). */
  removed: string[];
  /** Files cut back: to the synced size, or to 0 (new segments left as empty files). */
  truncated: { file: string; from: number; to: number }[];
  /** Files that kept their size (a zero tail's, synced) with bytes [from, to) back to zeros. */
  zeroed: { file: string; from: number; to: number }[];
  /** Bytes of log and index files dropped (cut off, removed, or zeroed in place). */
  bytesDropped: number;
  /** The torn page, if any. */
  torn: { file: string; position: number; keptBytes: number; length: number; fill: 'zeros' | 'garbage' } | null;
}

export interface PowerLossReport {
  dir: string;
  partitions: PartitionPowerLoss[];
  /** Bytes of the logs' files that were dropped (cut off or removed), all partitions. */
  bytesDropped: number;
}


function segmentFile(base: number, suffix: string): string {
  return `${String(base).padStart(20, '0')}${suffix}`;
}

/** Partition directories under `dir`: itself if it is one, else every subdirectory with a `.head`. */
function partitionDirs(dir: string): string[] {
  if (existsSync(join(dir, HEAD_FILE))) return [dir];
  if (!existsSync(join(dir, TOPICS_FILE))) {
    throw new InvalidArgumentError(`${dir} is neither a tidelog partition directory (no ${HEAD_FILE}) nor a store (no ${TOPICS_FILE})`);
  }
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, HEAD_FILE)))
    .map((e) => join(dir, e.name))
    .sort();
}

function powerLossOf(dir: string, rand: () => number, tear: PowerLossOptions['tearLastPage']): PartitionPowerLoss {
  const holder = lockHolder(dir);
  if (holder !== null) {
    throw new LogLockedError(`simulatePowerLoss: the log in ${dir} is still open for writing (process ${holder}): kill the writer first`);
  }
  const head = readHead(dir);
  if (head === null) throw new InvalidStateError(`simulatePowerLoss: ${join(dir, HEAD_FILE)} holds no writer's state: cannot tell what was synced`);
  const out: PartitionPowerLoss = {
    dir,
    durableOffset: head.durableOffset,
    logEndOffset: head.logEndOffset,
    changed: false,
    removed: [],
    truncated: [],
    zeroed: [],
    bytesDropped: 0,
    torn: null,
  };
  // Closed cleanly: close synced everything. (A writer that opened it since
  // would have deleted the marker first.)
  if (existsSync(join(dir, CLEAN_SHUTDOWN_FILE))) return out;

  const bases = readdirSync(dir)
    .map((n) => /^(\d{20})\.log$/.exec(n))
    .flatMap((m) => (m ? [Number(m[1])] : []))
    .sort((a, b) => a - b);
  const durableBase = head.durableSegmentBase;
  for (const base of bases) {
    if (base <= durableBase) continue;
    // Created since the last sync: its name never reached the disk, or it did
    // and its data did not.
    const keepEmpty = rand() < 0.5;
    for (const suffix of ['.log', '.index', '.timeindex']) {
      const name = segmentFile(base, suffix);
      const path = join(dir, name);
      if (!existsSync(path)) continue;
      const size = statSync(path).size;
      out.bytesDropped += size;
      if (keepEmpty) {
        truncateSync(path, 0);
        out.truncated.push({ file: name, from: size, to: 0 });
      } else {
        unlinkSync(path);
        out.removed.push(name);
      }
    }
    out.changed = true;
  }

  const name = segmentFile(durableBase, '.log');
  const path = join(dir, name);
  if (existsSync(path)) {
    const size = statSync(path).size;
    const synced = head.durableSegmentSize;
    if (size > synced) {
      const after = readFileSync(path).subarray(synced, Math.min(size, (Math.floor(synced / PAGE) + 1) * PAGE));
      // A zero tail's size was synced with its zeros: it may survive, the appends over it not.
      const keepSize = size % ZERO_TAIL_CHUNK === 0 && rand() < 0.5;
      if (keepSize) {
        const zeros = Buffer.alloc(Math.min(size - synced, 1024 * 1024));
        const fd = openSync(path, 'r+');
        try {
          for (let pos = synced; pos < size; pos += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - pos), pos);
        } finally {
          closeSync(fd);
        }
        out.zeroed.push({ file: name, from: synced, to: size });
      } else {
        truncateSync(path, synced);
        out.truncated.push({ file: name, from: size, to: synced });
      }
      out.bytesDropped += size - synced;
      out.changed = true;
      if (tear && after.length > 0) {
        const fill = tear === 'zeros' || tear === 'garbage' ? tear : rand() < 0.5 ? 'zeros' : 'garbage';
        const kept = Math.floor(rand() * after.length);
        const page = Buffer.alloc(after.length);
        after.copy(page, 0, 0, kept);
        if (fill === 'garbage') for (let i = kept; i < page.length; i++) page[i] = Math.floor(rand() * 256);
        const fd = openSync(path, 'r+');
        try {
          if (!keepSize) ftruncateSync(fd, synced);
          writeSync(fd, page, 0, page.length, synced);
        } finally {
          closeSync(fd);
        }
        out.torn = { file: name, position: synced, keptBytes: kept, length: page.length, fill };
      }
    }
  }
  return out;
}

/**
 * Simulates a power loss on a partition or store directory whose writers are
 * dead: drops every byte not yet synced (see the file comment). Throws
 * LogLockedError if a partition is still open for writing (Linux checks the
 * lock in /proc/locks; elsewhere the caller must make sure), InvalidStateError
 * if a partition has no `.head` a writer published.
 */
export async function simulatePowerLoss(dir: string, options: PowerLossOptions = {}): Promise<PowerLossReport> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new InvalidArgumentError(`simulatePowerLoss: dir must be a non-empty string, got ${describe(dir)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(`simulatePowerLoss: options must be an object, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (k !== 'seed' && k !== 'tearLastPage') throw new InvalidArgumentError(`simulatePowerLoss: unknown option '${k}' (known: seed, tearLastPage)`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidArgumentError(`simulatePowerLoss: seed must be an integer, got ${describe(seed)}`);
  const tear = options.tearLastPage ?? false;
  if (tear !== true && tear !== false && tear !== 'zeros' && tear !== 'garbage') {
    throw new InvalidArgumentError(`simulatePowerLoss: tearLastPage must be a boolean, 'zeros' or 'garbage', got ${describe(tear)}`);
  }
  const root = resolve(dir);
  if (!existsSync(root)) throw new InvalidArgumentError(`simulatePowerLoss: ${root} does not exist`);
  const rand = mulberry32(seed);
  const dirs = partitionDirs(root);
  // Check every lock before changing anything: all or nothing.
  for (const d of dirs) {
    const holder = lockHolder(d);
    if (holder !== null) {
      throw new LogLockedError(`simulatePowerLoss: the log in ${d} is still open for writing (process ${holder}): kill the writer first`);
    }
  }
  const partitions = dirs.map((d) => powerLossOf(d, rand, tear));
  return { dir: root, partitions, bytesDropped: partitions.reduce((n, p) => n + p.bytesDropped, 0) };
}
