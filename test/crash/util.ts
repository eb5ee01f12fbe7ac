/**
 * Helpers of the crash tests: building dist/ for the child processes, running
 * a writer child and killing it, the model of what the log must hold after a
 * crash, and a verifier that checks a reopened log byte for byte against it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type Log, verifyLog } from '../../src/index.js';
import { native } from '../../src/native.js';
import { recordFor, rng as makeRng } from './records.mjs';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const DIST_ENTRY = join(ROOT, 'dist/index.js');
export const WRITER = join(HERE, 'writer.mjs');

// ---- dist/ for the children: one builder for every test directory ----------

export { ensureDist } from '../log/util.js';

// ---- seeded randomness -----------------------------------------------------

export { hash32, recordFor, rng } from './records.mjs';

// ---- the writer child ----------------------------------------------------------

export interface WriterConfig {
  dir: string;
  opsFile: string;
  /** Tag prefix of this writer's records: unique per child. */
  cycle: string;
  seed: number;
  options: Record<string, unknown>;
  acks: 'written' | 'durable';
  compression: 'none' | 'lz4' | 'mixed';
  concurrency: number;
  maxBatch: number;
  maxValueBytes: number;
  /** Probability, per append, of a truncateTo instead (0: never). */
  truncateEvery: number;
  /** How far back a truncation goes, in records (sometimes to 0). */
  truncateSpan: number;
  /** Above this log end the writer stops appending (or truncates, if it truncates). */
  maxRecords: number;
  /** Pause of each appender after each acknowledged append (0: setImmediate). */
  pauseMs: number;
}

/** The writer's first ops line: what opening (and recovering) the log found. */
export interface Opened {
  logEndOffset: number;
  clean: boolean;
  segmentsRecovered: number;
  bytesTruncated: number;
}

export interface KillResult {
  /** Null when the kill came before the writer had opened the log. */
  opened: Opened | null;
  /** The ops after the 'r' line. */
  ops: string[];
}

/**
 * Starts a writer and kills it with SIGKILL: `delayMs` after it reports that
 * the log is open, or — `duringOpen` — `delayMs` after it was started, ready
 * or not (so some kills land while it loads, opens or recovers the log).
 * Fails if the child dies by itself (its stderr is in the message).
 */
export async function runAndKill(cfg: WriterConfig, delayMs: number, duringOpen = false): Promise<KillResult> {
  const child = spawn(process.execPath, [WRITER, JSON.stringify({ ...cfg, dist: DIST_ENTRY })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  const died = (e: { code: number | null; signal: NodeJS.Signals | null }) =>
    new Error(`writer exited by itself (code ${e.code}, signal ${e.signal}); stderr:\n${stderr}`);
  if (!duringOpen) {
    const ready = new Promise<void>((res) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) res();
      });
    });
    const first = await Promise.race([
      ready.then(() => 'ready' as const),
      exited,
      new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 30_000).unref()),
    ]);
    if (first === 'timeout') {
      child.kill('SIGKILL');
      throw new Error(`writer did not open the log in 30 s; stderr:\n${stderr}`);
    }
    if (first !== 'ready') throw died(first);
  }
  // Let it run for a while; fail at once if it dies by itself meanwhile.
  const early = await Promise.race([new Promise<null>((res) => setTimeout(() => res(null), delayMs)), exited]);
  if (early !== null) throw died(early);
  child.kill('SIGKILL');
  const { signal } = await exited;
  expect(signal, `the writer must die by SIGKILL; stderr:\n${stderr}`).toBe('SIGKILL');
  const text = existsSync(cfg.opsFile) ? readFileSync(cfg.opsFile, 'utf8') : '';
  // Drop the last piece: the empty string after the final newline, or a line
  // the kill cut short (not an op: each line is written before its step runs).
  const ops = text.split('\n');
  ops.pop();
  if (ops.length === 0) {
    expect(duringOpen, `the writer reported that the log was open, yet wrote no 'r' line to ${cfg.opsFile}`).toBe(true);
    return { opened: null, ops: [] };
  }
  const r = ops[0].split(' ');
  expect(r[0], `first op line of ${cfg.opsFile}`).toBe('r');
  const opened = { logEndOffset: Number(r[1]), clean: r[2] === '1', segmentsRecovered: Number(r[3]), bytesTruncated: Number(r[4]) };
  return { opened, ops: ops.slice(1) };
}

// ---- the model ---------------------------------------------------------------

export interface ModelBatch {
  base: number;
  count: number;
  tag: string;
  acked: boolean;
}

/** What the log must hold: its batches, contiguous from offset 0, and which were acknowledged. */
export class LogModel {
  batches: ModelBatch[] = [];
  /** What the writers did and what the crashes left undecided: for the tests' sanity checks. */
  stats = { appended: 0, acked: 0, truncations: 0, inflightTruncations: 0, unexecutedLastBatch: 0, maxAckRun: 0 };
  #pending: { maximal: ModelBatch[]; minEnd: number; cut: number | null } | null = null;

  get end(): number {
    const last = this.batches[this.batches.length - 1];
    return last ? last.base + last.count : 0;
  }

  /**
   * Replays the ops of a writer that was killed. Afterwards `resolveCrash(L)`
   * must be told the log end the reopened log shows: the ops leave a small set
   * of legal outcomes (the last batch may not have reached the log; a
   * truncation in flight may not have happened, or only in part).
   */
  applyOps(ops: string[]): void {
    let pendingCut: number | null = null;
    let lastStructural: 'w' | 'T' | 't' | null = null;
    let lastBatch: ModelBatch | null = null;
    const byBase = new Map<number, ModelBatch>(); // the batches the model holds, by base offset
    for (const b of this.batches) byBase.set(b.base, b);
    // Consecutive 'a' lines: appends acknowledged in one turn of the writer's
    // event loop, i.e. (for durable acks) by one sync: group commit at work.
    let ackRun = 0;
    for (const op of ops) {
      const f = op.split(' ');
      ackRun = f[0] === 'a' ? ackRun + 1 : 0;
      this.stats.maxAckRun = Math.max(this.stats.maxAckRun, ackRun);
      switch (f[0]) {
        case 'w': {
          const [base, count] = [Number(f[1]), Number(f[2])];
          expect(pendingCut, `no append may start while truncateTo runs: ${op}`).toBeNull();
          expect(base, `the writer's next base offset is the model's log end: ${op}`).toBe(this.end);
          const b: ModelBatch = { base, count, tag: f[3], acked: false };
          this.batches.push(b);
          byBase.set(base, b);
          lastBatch = b;
          lastStructural = 'w';
          this.stats.appended += count;
          break;
        }
        case 'a': {
          const [base, last] = [Number(f[1]), Number(f[2])];
          const b = byBase.get(base);
          expect(b, `ack of a batch the model holds: ${op}`).toBeDefined();
          expect(b!.base + b!.count - 1).toBe(last);
          b!.acked = true;
          this.stats.acked += b!.count;
          break;
        }
        case 'x': {
          // A durable append refused by the truncation running now (its 't'
          // line comes later): the batch must be one that truncation removes.
          const b = byBase.get(Number(f[1]));
          expect(b !== undefined && pendingCut !== null, `refused during a truncation: ${op}`).toBe(true);
          expect(b!.base, `refused batch is removed by truncateTo(${pendingCut}): ${op}`).toBeGreaterThanOrEqual(
            this.#cutEnd(this.batches, pendingCut!),
          );
          break;
        }
        case 'T':
          pendingCut = Number(f[1]);
          lastStructural = 'T';
          break;
        case 't': {
          const [to, newEnd] = [Number(f[1]), Number(f[2])];
          expect(pendingCut).toBe(to);
          const expectedEnd = this.#cutEnd(this.batches, to);
          expect(newEnd, `truncateTo(${to}) cuts at the first batch with a record >= ${to}`).toBe(expectedEnd);
          for (const b of this.batches) if (b.base >= expectedEnd) byBase.delete(b.base);
          this.batches = this.batches.filter((b) => b.base < expectedEnd);
          pendingCut = null;
          lastStructural = 't';
          this.stats.truncations++;
          break;
        }
        default:
          throw new Error(`unknown op line ${JSON.stringify(op)}`);
      }
    }
    const maximal = this.batches;
    let minEnd = this.end;
    if (pendingCut !== null) {
      minEnd = this.#cutEnd(maximal, pendingCut);
      this.stats.inflightTruncations++;
    } else if (lastStructural === 'w' && lastBatch !== null) {
      minEnd = lastBatch.base; // its append may not have reached the log
    }
    this.#pending = { maximal, minEnd, cut: pendingCut };
  }

  /** The log end after the cut of truncateTo(to): the base of the first batch with a record >= to. */
  #cutEnd(batches: ModelBatch[], to: number): number {
    for (const b of batches) if (b.base + b.count - 1 >= to) return b.base;
    return batches.length ? batches[batches.length - 1].base + batches[batches.length - 1].count : 0;
  }

  /**
   * Checks the log end a reopened log shows against the legal outcomes of the
   * last applyOps, and makes the model that outcome. A process crash (kill -9)
   * loses nothing from the page cache, so every batch that reached the log
   * must still be there: only the last batch's append, or a truncation in
   * flight, may or may not have happened.
   */
  resolveCrash(logEnd: number): void {
    const p = this.#pending;
    if (p === null) {
      expect(logEnd, 'log end after a clean stop').toBe(this.end);
      return;
    }
    this.#pending = null;
    const boundaries = new Set<number>([0, ...p.maximal.map((b) => b.base + b.count)]);
    const detail = `log end ${logEnd}; legal: a batch boundary in [${p.minEnd}, ${this.end}]`;
    expect(boundaries.has(logEnd), `the log end is a batch boundary: ${detail}`).toBe(true);
    expect(logEnd, `nothing written before the kill is lost: ${detail}`).toBeGreaterThanOrEqual(p.minEnd);
    expect(logEnd, `nothing appears that was never written: ${detail}`).toBeLessThanOrEqual(this.end);
    // Every acknowledged record not removed by a truncation is there (the
    // explicit form of the check above: acknowledgements are what users see).
    for (const b of p.maximal) {
      const survivesCut = p.cut === null || b.base + b.count - 1 < p.cut;
      if (b.acked && survivesCut) {
        expect(b.base + b.count, `acknowledged batch [${b.base}, ${b.base + b.count - 1}] survives`).toBeLessThanOrEqual(logEnd);
      }
    }
    if (logEnd < this.end) {
      if (p.cut === null) this.stats.unexecutedLastBatch++;
      this.batches = p.maximal.filter((b) => b.base < logEnd);
    }
  }

  /** Appends a batch written by the test process itself (acknowledged). */
  addBatch(base: number, count: number, tag: string): void {
    expect(base).toBe(this.end);
    this.batches.push({ base, count, tag, acked: true });
  }
}

// ---- verification ----------------------------------------------------------------

function bytes(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`not bytes: ${typeof v}`);
}

function show(b: Buffer | null): string {
  return b === null ? 'null' : `${JSON.stringify(b.subarray(0, 40).toString('latin1'))}${b.length > 40 ? '…' : ''} (${b.length} B)`;
}

/** Undefined when equal, else what differs. */
function bytesDiffer(actual: unknown, expected: Buffer | null, what: string): string | undefined {
  const a = bytes(actual);
  if (a === null && expected === null) return undefined;
  if (a !== null && expected !== null && a.equals(expected)) return undefined;
  return `${what}: got ${show(a)}, expected ${show(expected)}`;
}

interface LogRecordLike {
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers?: unknown;
}

function headerList(h: unknown): { key: string; value: unknown }[] {
  if (h === undefined || h === null) return [];
  if (Array.isArray(h)) return h as { key: string; value: unknown }[];
  return Object.entries(h as Record<string, unknown>).map(([key, value]) => ({ key, value }));
}

/**
 * Compares one decoded record with what generation `tag` wrote at its offset:
 * undefined when they are equal, else a description of the difference. (No
 * expect() per field: a verification covers tens of thousands of records.)
 */
export function recordMismatch(r: LogRecordLike, tag: string, maxValueBytes: number): string | undefined {
  const want = recordFor(tag, r.offset, maxValueBytes) as {
    key: Buffer | null;
    value: Buffer | null;
    timestamp: number;
    headers?: { key: string; value: Buffer }[];
  };
  const where = `record ${r.offset} (generation ${tag})`;
  if (r.timestamp !== want.timestamp) return `${where}: timestamp ${r.timestamp}, expected ${want.timestamp}`;
  const d = bytesDiffer(r.key, want.key, `${where}: key`) ?? bytesDiffer(r.value, want.value, `${where}: value`);
  if (d) return d;
  const got = headerList(r.headers);
  const wantHeaders = want.headers ?? [];
  if (got.length !== wantHeaders.length) return `${where}: ${got.length} headers, expected ${wantHeaders.length}`;
  for (let i = 0; i < wantHeaders.length; i++) {
    if (got[i].key !== wantHeaders[i].key) return `${where}: header ${i} key ${got[i].key}, expected ${wantHeaders[i].key}`;
    const hd = bytesDiffer(got[i].value, wantHeaders[i].value, `${where}: header ${i} value`);
    if (hd) return hd;
  }
  return undefined;
}

const HEADER = 61;

/**
 * Verifies an open log against the model, completely:
 *   - offsets contiguous from 0, logEndOffset = the model's end;
 *   - every stored batch is a model batch (same base offset and record count),
 *     with a valid magic and CRC-32C (computed here by the portable CRC, not
 *     the one that wrote it);
 *   - every record decodes and has exactly the bytes its generation wrote;
 *   - segments are contiguous, and each .log file holds exactly its batches:
 *     no torn or garbage tail after recovery.
 */
export function checkLog(log: Log, model: LogModel, maxValueBytes: number): { batches: number; lz4Batches: number } {
  const end = model.end;
  expect(log.logStartOffset, 'log start offset').toBe(0);
  expect(log.logEndOffset, 'log end offset').toBe(end);

  // Batches, raw.
  const byBase = new Map(model.batches.map((b) => [b.base, b]));
  let position = 0;
  let batchBytes = 0;
  let batches = 0;
  let lz4Batches = 0;
  while (position < end) {
    const buf = log.readBatches(position, { maxBytes: 1 << 20 });
    expect(buf, `readBatches(${position}) returns the batch there`).not.toBeNull();
    let at = 0;
    while (at < buf!.length) {
      expect(buf!.length - at).toBeGreaterThanOrEqual(HEADER);
      const base = Number(buf!.readBigInt64BE(at));
      const size = 12 + buf!.readInt32BE(at + 8);
      const count = buf!.readInt32BE(at + 57);
      const want = byBase.get(base);
      const crc = native.crc32cPortable(buf!.subarray(at + 21, at + size)) >>> 0;
      const problem =
        want === undefined
          ? `stored batch at offset ${base} (reading from ${position}) is not one the writer appended`
          : base !== position
            ? `batches are not contiguous: batch ${base} where ${position} belongs`
            : count !== want.count || buf!.readInt32BE(at + 23) !== count - 1
              ? `batch ${base} holds ${count} records (lastOffsetDelta ${buf!.readInt32BE(at + 23)}), the writer appended ${want.count}`
              : buf![at + 16] !== 2
                ? `batch ${base}: magic ${buf![at + 16]}`
                : crc !== buf!.readUInt32BE(at + 17)
                  ? `batch ${base}: CRC-32C ${crc} does not match the stored ${buf!.readUInt32BE(at + 17)}`
                  : (buf!.readInt16BE(at + 21) & 7) % 3 !== 0
                    ? `batch ${base}: codec ${buf!.readInt16BE(at + 21) & 7}, neither none nor lz4`
                    : undefined;
      if (problem) expect.fail(problem);
      if ((buf!.readInt16BE(at + 21) & 7) === 3) lz4Batches++;
      at += size;
      position = base + count;
      batchBytes += size;
      batches++;
    }
  }
  expect(batches).toBe(model.batches.length);

  // Records, decoded.
  position = 0;
  let b = 0;
  while (position < end) {
    const recs = log.readRecords(position, { maxBytes: 256 * 1024 }) as unknown as LogRecordLike[];
    expect(recs.length, `readRecords(${position}) returns records`).toBeGreaterThan(0);
    for (const r of recs) {
      if (r.offset !== position) expect.fail(`records are contiguous: got offset ${r.offset} where ${position} belongs`);
      while (model.batches[b].base + model.batches[b].count <= r.offset) b++;
      const d = recordMismatch(r, model.batches[b].tag, maxValueBytes);
      if (d) expect.fail(d);
      position++;
    }
  }
  expect(log.readRecords(end)).toEqual([]);

  // Segments and files.
  const segs = log.segments();
  expect(segs.length).toBeGreaterThan(0);
  expect(segs[0].baseOffset).toBe(0);
  let total = 0;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (i > 0) expect(s.baseOffset, 'segments are contiguous').toBe(segs[i - 1].nextOffset);
    expect(s.active).toBe(i === segs.length - 1);
    const file = join(log.dir, `${String(s.baseOffset).padStart(20, '0')}.log`);
    const fileSize = statSync(file).size;
    if (s.active && fileSize > s.sizeBytes) {
      // The active segment's zero tail (docs/architecture.md, "Zero tail"): zeros to a 256 KiB multiple.
      expect(fileSize % (256 * 1024), `${file}: a zero tail ends on a 256 KiB multiple`).toBe(0);
      expect(readFileSync(file).subarray(s.sizeBytes).every((b) => b === 0), `${file}: only zeros follow its batches`).toBe(true);
    } else {
      expect(fileSize, `${file} holds exactly its batches`).toBe(s.sizeBytes);
    }
    total += s.sizeBytes;
  }
  expect(segs[segs.length - 1].nextOffset).toBe(end);
  expect(total, 'the segments hold exactly the batches').toBe(batchBytes);
  const logs = readdirSync(log.dir).filter((n) => n.endsWith('.log'));
  expect(logs.length, `no stray segment files in ${log.dir}`).toBe(segs.length);
  expect(readdirSync(log.dir).filter((n) => n.endsWith('.tmp')), 'no temp files left').toEqual([]);
  return { batches, lz4Batches };
}

/**
 * The package's own offline check (every CRC, record framing, index entry and
 * checkpoint) of a closed log holding `records` records from offset 0.
 */
export async function expectVerified(dir: string, records: number): Promise<void> {
  const report = await verifyLog(dir);
  expect(report.issues, `verifyLog(${dir})`).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.records).toBe(records);
}

// ---- chained kill / recover cycles ---------------------------------------------

export interface ChainParams {
  /** Log directory: every cycle reopens what the previous one left. */
  dir: string;
  /** Where the ops files go. */
  opsDir: string;
  seed: number;
  cycles: number;
  options: Record<string, unknown>;
  writer: Omit<WriterConfig, 'dir' | 'opsFile' | 'cycle' | 'seed' | 'options' | 'compression'>;
  /** Compression of cycle i. */
  compression: (cycle: number) => WriterConfig['compression'];
  /** Whether the test process reopens and verifies after cycle i; otherwise the next writer recovers the crash. */
  verifyAfter: (cycle: number) => boolean;
  /** Whether cycle i kills its writer at a random moment from its start (often while it opens the log). */
  killDuringOpen: (cycle: number) => boolean;
  /** Kill delay range after the writer is ready, in ms. */
  minDelayMs: number;
  maxDelayMs: number;
  open: (dir: string, options: Record<string, unknown>) => Promise<Log>;
}

export interface ChainReport {
  cycles: number;
  records: number;
  model: LogModel;
  /** Unclean opens: by a writer, by the test; writers killed before the log was open. */
  recoveries: { byChild: number; byTest: number; killedDuringOpen: number; bytesTruncated: number; segmentsRecovered: number };
  /** What the last verification found. */
  lastCheck: { batches: number; lz4Batches: number };
}

/**
 * Runs `cycles` writer processes one after the other in the same directory,
 * killing each with SIGKILL at a seeded random moment. After each kill either
 * the test reopens the log and verifies all of it against the model, or the
 * next writer recovers it and reports the log end it found (checked against
 * the model; its content is verified at the next verification).
 */
export async function runChain(p: ChainParams): Promise<ChainReport> {
  const rand = makeRng(p.seed);
  const model = new LogModel();
  const recoveries = { byChild: 0, byTest: 0, killedDuringOpen: 0, bytesTruncated: 0, segmentsRecovered: 0 };
  let lastCheck = { batches: 0, lz4Batches: 0 };
  // How the last session ended: closed by the test, killed after opening, or
  // killed during its open (it may or may not have removed the clean marker).
  let last: 'fresh' | 'clean' | 'crashed' | 'unknown' = 'fresh';
  const checkOpen = (who: string, o: Opened) => {
    if (last === 'clean') expect(o.clean, `${who} found the clean shutdown of the test's close`).toBe(true);
    if (last === 'crashed' || last === 'fresh') expect(o.clean, `${who} found no clean-shutdown marker`).toBe(false);
    if (!o.clean && last !== 'fresh') {
      // An unclean open of an existing log always scans at least the active segment.
      expect(o.segmentsRecovered, `${who}: segments scanned by recovery`).toBeGreaterThan(0);
      recoveries.segmentsRecovered += o.segmentsRecovered;
      recoveries.bytesTruncated += o.bytesTruncated;
    }
    model.resolveCrash(o.logEndOffset);
  };
  for (let cycle = 0; cycle < p.cycles; cycle++) {
    const cfg: WriterConfig = {
      ...p.writer,
      dir: p.dir,
      opsFile: join(p.opsDir, `ops-${cycle}.txt`),
      cycle: `s${p.seed}c${cycle}`,
      seed: p.seed * 1000 + cycle,
      options: p.options,
      compression: p.compression(cycle),
    };
    const duringOpen = p.killDuringOpen(cycle);
    const delay = duringOpen
      ? Math.floor(rand() * 300)
      : p.minDelayMs + Math.floor(rand() * (p.maxDelayMs - p.minDelayMs));
    const { opened, ops } = await runAndKill(cfg, delay, duringOpen);
    if (opened === null) {
      recoveries.killedDuringOpen++;
      if (last === 'clean') last = 'unknown';
    } else {
      checkOpen(`cycle ${cycle}: the writer`, opened);
      if (!opened.clean && last !== 'fresh') recoveries.byChild++;
      model.applyOps(ops);
      last = 'crashed';
    }
    if (p.verifyAfter(cycle) || cycle === p.cycles - 1) {
      const log = await p.open(p.dir, p.options);
      try {
        const { clean, segmentsRecovered, bytesTruncated } = log.recovery;
        checkOpen(`cycle ${cycle}: the test's reopen`, { logEndOffset: log.logEndOffset, clean, segmentsRecovered, bytesTruncated });
        if (!clean) recoveries.byTest++;
        lastCheck = checkLog(log, model, p.writer.maxValueBytes);
      } finally {
        await log.close();
      }
      last = 'clean';
      await expectVerified(p.dir, model.end);
    }
  }
  return { cycles: p.cycles, records: model.end, model, recoveries, lastCheck };
}
