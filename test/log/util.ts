/**
 * Helpers of the log behaviour tests: the in-memory model of records, segment
 * file names and a plain parser of batch framing (independent of the codec),
 * directory snapshots and copies, unclean-stop simulation, seeded randomness,
 * and child processes that run a small ESM script against the built dist/.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { Log, type LogOptions, type LogRecord, type ProducerRecord } from '../../src/index.js';
import { mulberry32 } from '../../src/testing/random.js';
import { tempDir } from '../helpers.js';

/**
 * A test file's `openLog(options?, dir?)`: Log.open in a fresh temporary
 * directory by default; every log it opened is closed after each test.
 */
export function logOpener(): (options?: LogOptions, dir?: string) => Promise<Log> {
  const open: Log[] = [];
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  return async (options, dir = tempDir()) => {
    const log = await Log.open(dir, options);
    open.push(log);
    return log;
  };
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST_ENTRY = join(ROOT, 'dist/index.js');

// ---- the model ---------------------------------------------------------------

/** A record as the log must return it: bytes, not the caller's types. */
export interface ModelRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly { key: string; value: Buffer | null }[];
}

/** Bytes as the caller gave them (Buffer, Uint8Array, string, null, undefined) -> a private copy, or null. */
export function toBytes(b: unknown): Buffer | null {
  if (b === null || b === undefined) return null;
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  if (b instanceof Uint8Array) return Buffer.from(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  throw new Error(`not bytes: ${String(b)}`);
}

/** What reading back `r` at `offset` must give (`timestamp` when the record has none of its own). */
export function modelOf(r: ProducerRecord, offset: number, timestamp?: number): ModelRecord {
  let headers: { key: string; value: Buffer | null }[] = [];
  if (Array.isArray(r.headers)) headers = r.headers.map((h) => ({ key: h.key, value: toBytes(h.value) }));
  else if (r.headers) headers = Object.entries(r.headers).map(([key, value]) => ({ key, value: toBytes(value) }));
  const ts = r.timestamp ?? timestamp;
  if (ts === undefined) throw new Error('modelOf: the record has no timestamp and none was given');
  return { offset, timestamp: ts, key: toBytes(r.key), value: toBytes(r.value), headers };
}

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

/** A comparable plain form of a decoded or model record (bytes as hex, so a diff is readable). */
export function plain(r: LogRecord | ModelRecord) {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: hex(r.key),
    value: hex(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: hex(h.value) })),
  };
}

export function expectRecords(actual: readonly (LogRecord | null)[], expected: readonly ModelRecord[]): void {
  expect(actual.map((r) => (r === null ? null : plain(r)))).toEqual(expected.map(plain));
}

// ---- files -------------------------------------------------------------------

export function segName(base: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return String(base).padStart(20, '0') + suffix;
}

export function segPath(dir: string, base: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return join(dir, segName(base, suffix));
}

/** Base offsets of the `.log` files in `dir`, ascending. */
export function segmentBases(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** The contents of every file of `dir` whose name passes `filter`. */
export function snapshot(dir: string, filter: (name: string) => boolean = () => true): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of readdirSync(dir).sort()) if (filter(n)) out.set(n, readFileSync(join(dir, n)));
  return out;
}

export const isSegmentFile = (n: string) => /^\d{20}\.(log|index|timeindex)$/.test(n);

/** A copy of `dir` in a fresh temporary directory. */
export function copyDir(dir: string, prefix = 'tidelog-copy-'): string {
  const to = tempDir(prefix);
  cpSync(dir, to, { recursive: true });
  return to;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Makes a closed log look as if its writer had stopped uncleanly with this recovery point (0: scan everything). */
export function markUnclean(dir: string, recoveryPoint: number): void {
  rmSync(join(dir, '.clean-shutdown'), { force: true });
  writeFileSync(join(dir, 'recovery-point'), `0\n${recoveryPoint}\n`);
}

/** The framing of one batch in a segment file or read buffer (parsed here, not by the codec under test). */
export interface BatchFrame {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  magic: number;
  attributes: number;
  maxTimestamp: number;
  recordsCount: number;
}

/** Walks whole batches of `buf`; stops at the first that does not fit (`rest` says how many bytes were left). */
export function parseBatches(buf: Uint8Array): { batches: BatchFrame[]; rest: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const batches: BatchFrame[] = [];
  let pos = 0;
  while (pos + 61 <= b.length) {
    const size = 12 + b.readInt32BE(pos + 8);
    if (size < 61 || pos + size > b.length) break;
    const baseOffset = Number(b.readBigInt64BE(pos));
    batches.push({
      position: pos,
      size,
      baseOffset,
      lastOffset: baseOffset + b.readInt32BE(pos + 23),
      magic: b.readInt8(pos + 16),
      attributes: b.readInt16BE(pos + 21),
      maxTimestamp: Number(b.readBigInt64BE(pos + 35)),
      recordsCount: b.readInt32BE(pos + 57),
    });
    pos += size;
  }
  return { batches, rest: b.length - pos };
}

// ---- randomness ----------------------------------------------------------------

/** mulberry32 (the testing helpers' generator): a small seeded generator of floats in [0, 1). */
export const rng = mulberry32;

// ---- dist/ for child processes ---------------------------------------------------

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function distIsFresh(): boolean {
  return existsSync(DIST_ENTRY) && statSync(DIST_ENTRY).mtimeMs >= newestMtime(join(ROOT, 'src'));
}

/**
 * Child processes import the compiled package. Builds dist/ with tsc when it is
 * missing or older than src/, under the same lock file as test/crash, so that
 * test files running in parallel never run tsc at once.
 */
export function ensureDist(): void {
  if (distIsFresh()) return;
  const lock = join(ROOT, 'node_modules', '.tidelog-crash-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    let fd: number | null = null;
    try {
      fd = openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) unlinkSync(lock);
      } catch {}
    }
    if (fd !== null) {
      try {
        if (!distIsFresh()) {
          execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
            cwd: ROOT,
            stdio: 'pipe',
          });
        }
      } catch (err) {
        const e = err as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(`building dist/ with tsc failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
      } finally {
        closeSync(fd);
        unlinkSync(lock);
      }
      return;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    if (distIsFresh()) return;
  }
}

// ---- child processes -------------------------------------------------------------

/**
 * A node child running `script` (ESM; `tidelog` is the dist module, `arg` the
 * JSON argument) and talking JSON lines: `send(msg)` writes a line to its
 * stdin, `next()` resolves with its next stdout line, parsed.
 */
export class Child {
  readonly #lines: string[] = [];
  readonly #waiting: ((line: string | null) => void)[] = [];
  #stderr = '';
  #ended = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #proc;

  constructor(script: string, arg: unknown) {
    const source = `const tidelog = await import(${JSON.stringify(DIST_ENTRY)});\nconst arg = JSON.parse(process.argv[1]);\n${script}`;
    this.#proc = spawn(process.execPath, ['--input-type=module', '-e', source, JSON.stringify(arg)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#proc.stderr.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.#proc.stdin.on('error', () => undefined); // a child that has exited: its exit tells the story
    const rl = createInterface({ input: this.#proc.stdout });
    rl.on('line', (line) => {
      const w = this.#waiting.shift();
      if (w) w(line);
      else this.#lines.push(line);
    });
    this.exited = new Promise((res) => {
      this.#proc.on('exit', (code, signal) => res({ code, signal }));
    });
    rl.on('close', () => {
      this.#ended = true;
      for (const w of this.#waiting.splice(0)) w(null);
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  send(msg: unknown): void {
    this.#proc.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  /** The child's next line of output, parsed; fails (with its stderr) if it ends first. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    const line =
      this.#lines.shift() ?? (this.#ended ? null : await new Promise<string | null>((res) => this.#waiting.push(res)));
    if (line === null) {
      const e = await this.exited;
      throw new Error(`child ended (code ${e.code}, signal ${e.signal}) without answering; stderr:\n${this.#stderr}`);
    }
    return JSON.parse(line) as T;
  }

  async request<T = Record<string, unknown>>(msg: unknown): Promise<T> {
    this.send(msg);
    return this.next<T>();
  }

  /** Closes its stdin and waits for it to exit. */
  async end(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.#proc.stdin.end();
    return this.exited;
  }

  kill(): void {
    this.#proc.kill('SIGKILL');
  }
}

/** Runs `script` in a child to its end (it may kill itself); resolves with its exit and its output lines. */
export async function runChild(script: string, arg: unknown) {
  const child = new Child(script, arg);
  const exit = await child.exited;
  const lines: unknown[] = [];
  for (;;) {
    try {
      lines.push(await child.next());
    } catch {
      break;
    }
  }
  return { ...exit, lines, stderr: child.stderr };
}

/** True when every byte of `buf` is zero (a zero tail, docs/architecture.md). */
export function isZero(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0) return false;
  return true;
}

/** The 256 KiB chunk a zero tail grows by (kZeroTailChunk, native/core/segment.h). */
export const ZERO_TAIL_CHUNK = 256 * 1024;
