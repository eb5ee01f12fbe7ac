/**
 * Crash states after a power loss, built the way ALICE and LevelDB's
 * fault_injection_test do: from two pictures of a directory tree.
 *
 *   old  every file's bytes at a sync point: right after a flush() or a
 *        `durable` acknowledgement completed, with no sync running. What the
 *        disk is guaranteed to hold.
 *   new  every file's bytes when the writer stopped (killed or just left
 *        alone): what the page cache held. Nothing was synced in between.
 *
 * A power loss keeps any mix that the disk could have written back by itself:
 *
 *   (a) `synced`: every file is old (cut back to its synced length); a file
 *       created since the sync point is absent, or present and empty.
 *   (b) `pages`: every 4 KiB page that differs between old and new is,
 *       independently, old or new (a page past the old end of a file is zeros
 *       when old), and each file's size is independently old or new. A file
 *       created since the sync point is absent, or present with a size of 0
 *       or its new size; one deleted since is present (old) or absent.
 *       Index files and `.head` are never synced while they change (an index
 *       only when its segment is sealed; `.head` never), so any of their pages
 *       may also read as zeros: the log must rebuild, never trust, an index.
 *   (c) `written-back`: every file is new (the disk wrote everything back
 *       before the power went; the same as a process crash).
 *
 * Files that are only ever replaced by rename (checkpoints, the clean-shutdown
 * marker, topics.json, producer snapshots) are atomic: wholly old or wholly new.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../crash/util.js';

export const PAGE = 4096;

/**
 * A fresh scratch directory for crash states and the writers that make them:
 * in /dev/shm where it exists (tmpfs: fsync costs nothing there, and the
 * hundreds of reopened states each sync several times), else os.tmpdir().
 * The model works on the files' bytes; where they are stored does not matter.
 * The caller removes it.
 */
export function scratchDir(prefix: string): string {
  let root = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    root = '/dev/shm';
  } catch {}
  return mkdtempSync(join(root, prefix));
}

/** A directory tree: file contents by relative path, and its directories. */
export interface Picture {
  files: Map<string, Buffer>;
  dirs: Set<string>;
}

/** Reads every file under `root` (synchronously: no append of this process can run meanwhile). */
export function picture(root: string): Picture {
  const files = new Map<string, Buffer>();
  const dirs = new Set<string>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        dirs.add(p);
        walk(p);
      } else if (e.isFile()) {
        files.set(p, readFileSync(join(root, p)));
      }
    }
  };
  walk('');
  return { files, dirs };
}

/** Whether `rel` names a file that is only ever replaced whole, by rename. */
export function isAtomic(rel: string): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  if (/^\d{20}\.(log|index|timeindex)$/.test(name)) return false;
  if (name === '.head' || name === '.lock' || name.endsWith('.tmp')) return false;
  return true; // recovery-point, log-start-offset, .clean-shutdown, *.snapshot, topics.json, producer-ids.json
}

/** Files whose pages may be lost even when they did not change since the sync point. */
export function isUnsyncedClass(rel: string): boolean {
  return /\.(index|timeindex)$/.test(rel) || rel.endsWith('.head');
}

export type StateMode = 'synced-absent' | 'synced-empty' | 'written-back' | 'pages';

export interface CrashState {
  mode: StateMode;
  /** The seed of a `pages` state (replay: crashState(old, new, 'pages', seed)). */
  seed: number;
  files: Map<string, Buffer>;
  dirs: Set<string>;
  /** What the state did: pages kept old, files cut to their old size, files dropped. */
  stats: { oldPages: number; newPages: number; oldSizes: number; dropped: number; zeroPages: number };
}

function pageOf(buf: Buffer | undefined, p: number): Buffer {
  const out = Buffer.alloc(PAGE);
  if (buf !== undefined && p * PAGE < buf.length) buf.copy(out, 0, p * PAGE, Math.min(buf.length, (p + 1) * PAGE));
  return out;
}

/** One crash state of the change from `old` to `now` (see the file comment). */
export function crashState(old: Picture, now: Picture, mode: StateMode, seed = 0): CrashState {
  const rand = rng(seed);
  const files = new Map<string, Buffer>();
  const stats = { oldPages: 0, newPages: 0, oldSizes: 0, dropped: 0, zeroPages: 0 };
  const names = [...new Set([...old.files.keys(), ...now.files.keys()])].sort();
  for (const name of names) {
    const o = old.files.get(name);
    const n = now.files.get(name);
    if (mode === 'written-back') {
      if (n !== undefined) files.set(name, n); // the disk wrote back everything before the power went
      continue;
    }
    if (mode !== 'pages') {
      if (o !== undefined) files.set(name, o);
      else if (mode === 'synced-empty') files.set(name, Buffer.alloc(0));
      else stats.dropped++;
      continue;
    }
    if (n === undefined) {
      // Deleted since the sync point: the unlink may not have reached the disk.
      if (rand() < 0.5) files.set(name, o!);
      else stats.dropped++;
      continue;
    }
    const zeros = isUnsyncedClass(name);
    if (o !== undefined && o.equals(n) && !zeros) {
      files.set(name, o);
      continue;
    }
    if (o === undefined && rand() < 0.3) {
      stats.dropped++; // created since the sync point: its directory entry never reached the disk
      continue;
    }
    if (isAtomic(name)) {
      files.set(name, o !== undefined && rand() < 0.5 ? o : n);
      continue;
    }
    let size: number;
    if (o === undefined) size = rand() < 0.25 ? 0 : n.length;
    else size = rand() < 0.5 ? o.length : n.length;
    if (o !== undefined && size === o.length && size !== n.length) stats.oldSizes++;
    const out = Buffer.alloc(size);
    const pages = Math.ceil(size / PAGE);
    for (let p = 0; p < pages; p++) {
      const op = pageOf(o, p);
      const np = pageOf(n, p);
      let page = np;
      if (!op.equals(np)) {
        if (rand() < 0.5) {
          page = op;
          stats.oldPages++;
        } else {
          stats.newPages++;
        }
      }
      if (zeros && rand() < 0.15) {
        page = Buffer.alloc(PAGE);
        stats.zeroPages++;
      }
      page.copy(out, p * PAGE, 0, Math.min(PAGE, size - p * PAGE));
    }
    files.set(name, out);
  }
  const dirs = new Set([...old.dirs, ...now.dirs]);
  return { mode, seed, files, dirs, stats };
}

/** Writes a crash state into `dir` (which must not exist). */
export function materialize(state: CrashState, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const d of [...state.dirs].sort()) mkdirSync(join(dir, d), { recursive: true });
  for (const [name, bytes] of state.files) writeFileSync(join(dir, name), bytes);
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** How a file changed between two pictures: for messages. */
export function describeChange(old: Picture, now: Picture): string {
  const lines: string[] = [];
  for (const name of [...new Set([...old.files.keys(), ...now.files.keys()])].sort()) {
    const o = old.files.get(name);
    const n = now.files.get(name);
    if (o !== undefined && n !== undefined && o.equals(n)) continue;
    lines.push(`${name}: ${o === undefined ? 'absent' : o.length} -> ${n === undefined ? 'absent' : n.length}`);
  }
  return lines.join('; ');
}
