/**
 * Metadata files of a store (topics.json, producer-ids.json, producer state
 * snapshots) and the store's metadata lock.
 *
 * Every write is atomic (DESIGN §2): the bytes go to `<name>.tmp`, which is
 * fsynced, renamed over `<name>`, and then the directory is fsynced. A crash
 * leaves either the old file or the new one, plus at worst a stale `.tmp` that
 * the next write overwrites. All of it runs through fs.promises, so the fsyncs
 * run on libuv's thread pool, never on the event loop.
 *
 * The metadata lock serialises changes of a store's metadata across processes
 * (different processes may own different topics of one store, DESIGN §5). It
 * is an flock taken by opening a tiny partition log in `<dataDir>/.meta-lock/`
 * for writing: the log's single-writer lock is exactly the kernel lock needed,
 * and the kernel drops it when the process dies (even by kill -9). It is held
 * only while metadata changes, never for the life of a store.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LogLockedError } from './errors.js';
import { Log } from './log.js';
import { CorruptMetadataError } from './store-errors.js';

export const TMP_SUFFIX = '.tmp';

/** fsyncs a directory, so that the names created, renamed or removed in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically and durably (temp file, fsync, rename, fsync of the directory). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = path + TMP_SUFFIX;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** writeFileAtomic of a value as JSON (two-space indented, newline-terminated: readable by people). */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** The parsed JSON of `path`, or null when there is no such file. A file that does not parse is CorruptMetadataError. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CorruptMetadataError(`${path} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Removes `path`; a missing file is not an error. */
export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export const META_LOCK_DIR = '.meta-lock';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding the store's metadata lock; waits (polling with backoff) up
 * to `timeoutMs` while another process holds it, then fails with LogLockedError.
 * Callers serialise their own calls within a process.
 */
export async function withMetadataLock<T>(dataDir: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const dir = join(dataDir, META_LOCK_DIR);
  await mkdir(dir, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let wait = 2;
  let lock: Log;
  for (;;) {
    try {
      lock = await Log.open(dir, { maxIndexBytes: 64, segmentBytes: 1024 * 1024, maxMessageBytes: 1024, checkpointIntervalBytes: 0 });
      break;
    } catch (err) {
      if (!(err instanceof LogLockedError)) throw err;
      if (Date.now() >= deadline) {
        throw new LogLockedError(
          `the metadata of store ${dataDir} stayed locked by another process for ${timeoutMs} ms (${basename(dir)}/.lock)`,
          { cause: err },
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await lock.close();
  }
}
