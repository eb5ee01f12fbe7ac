/**
 * crashChild: runs code in a child process and kills it with SIGKILL — at a
 * chosen or seeded random moment, or exactly when it reaches a named point —
 * and returns everything the child reported before it died.
 *
 * The child reports through a pipe on file descriptor 3, one JSON line per
 * event, written synchronously (writeSync): once report() or crashPoint()
 * returns, the line is in the kernel's pipe buffer, so a SIGKILL right after it
 * loses nothing. That makes "the child reported X" a fact the test can rely
 * on: e.g. report each acknowledged append, then check that every reported
 * record survived the crash.
 *
 * Kill points are exact: when the child reaches the point named by `killAt`
 * (its `hit`-th time), crashPoint() reports it and sends SIGKILL to its own
 * process before returning. A timer kill (`killAfterMs`) lands wherever the
 * child happens to be.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import { mulberry32 } from './random.js';

/** Environment variables of the protocol between crashChild and the child. */
const ENV_FD = 'TIDELOG_CRASH_FD';
const ENV_KILL_AT = 'TIDELOG_CRASH_KILL_AT';
const ENV_KILL_HIT = 'TIDELOG_CRASH_KILL_HIT';
const REPORT_FD = 3;
const DEFAULT_TIMEOUT_MS = 60_000;

export interface CrashChildOptions {
  /**
   * A module file (path or file: URL) whose exported function `export` is
   * called in the child as `fn(arg, { report, crashPoint })`. It may be async;
   * when it settles the child runs on until its event loop is empty (a service
   * keeps running), or exits with code 1 if it threw.
   */
  module?: string | URL;
  /** The exported function of `module` to call. @default 'default' */
  export?: string;
  /** The first argument of the module's function: anything JSON can carry. */
  arg?: unknown;
  /** Extra Node options for the module's child, e.g. ['--import', 'tsx']. @default [] */
  execArgv?: readonly string[];
  /** Instead of `module`: any executable. A Node program reports with report() / crashPoint() of 'tidelog/testing'. */
  command?: string;
  /** Arguments of `command`. @default [] */
  args?: readonly string[];
  cwd?: string;
  /** Added to this process's environment. */
  env?: Readonly<Record<string, string>>;
  /**
   * Kill the child this many ms after it starts (or after it reaches `after`).
   * A range [min, max] picks the delay from `seed`: a failing run is replayed
   * with the same seed.
   */
  killAfterMs?: number | readonly [number, number];
  /** Start the killAfterMs clock when the child reaches this crash point. */
  after?: string;
  /** Kill the child exactly at this crash point: crashPoint(killAt) never returns. */
  killAt?: string;
  /** The occurrence of `killAt` that kills (1: the first time it is reached). @default 1 */
  hit?: number;
  /** Seed of the random delay. @default 0 */
  seed?: number;
  /** Kill the child anyway (`by: 'timeout'`) if it is still alive after this long. @default 60000 */
  timeoutMs?: number;
}

export type CrashEvent = { type: 'report'; data: unknown } | { type: 'point'; name: string; data: unknown };

export interface CrashChildResult {
  /** The child died of SIGKILL. */
  killed: boolean;
  /** Who killed it: its own kill point, the timer, the timeout; null when it ended by itself. */
  by: 'point' | 'timer' | 'timeout' | null;
  /** The kill point it died at, or null. */
  point: string | null;
  /** The timer's delay in ms (chosen from the seed for a range), or null without a timer. */
  delayMs: number | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The values given to report(), in order. */
  reports: unknown[];
  /** The names of the crash points reached, in order (the kill point last). */
  points: string[];
  /** Reports and points together, in order. */
  events: CrashEvent[];
  stdout: string;
  stderr: string;
  /** From the start of the child to its end, in ms. */
  elapsedMs: number;
}

const OPTION_NAMES = [
  'module',
  'export',
  'arg',
  'execArgv',
  'command',
  'args',
  'cwd',
  'env',
  'killAfterMs',
  'after',
  'killAt',
  'hit',
  'seed',
  'timeoutMs',
] as const;

/** The delay `killAfterMs` asks for: a fixed number, or one drawn from [min, max] with `seed`. */
export function pickDelay(killAfterMs: number | readonly [number, number], seed = 0): number {
  if (typeof killAfterMs === 'number') return killAfterMs;
  const [min, max] = killAfterMs;
  return min + Math.floor(mulberry32(seed)() * (max - min + 1));
}

function nonNegativeNumber(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function checkOptions(o: CrashChildOptions): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`crashChild takes an options object, got ${describe(o)}`);
  for (const k of Object.keys(o)) {
    if (!(OPTION_NAMES as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(`crashChild: unknown option '${k}' (known: ${OPTION_NAMES.join(', ')})`);
    }
  }
  if ((o.module === undefined) === (o.command === undefined)) {
    throw new InvalidArgumentError('crashChild: give exactly one of `module` (a function module) and `command`');
  }
  if (o.module !== undefined && !(typeof o.module === 'string' && o.module.length > 0) && !(o.module instanceof URL)) {
    throw new InvalidArgumentError(`crashChild: module must be a path or a file: URL, got ${describe(o.module)}`);
  }
  if (o.command !== undefined && (typeof o.command !== 'string' || o.command.length === 0)) {
    throw new InvalidArgumentError(`crashChild: command must be a non-empty string, got ${describe(o.command)}`);
  }
  if (o.command !== undefined && (o.export !== undefined || o.arg !== undefined || o.execArgv !== undefined)) {
    throw new InvalidArgumentError('crashChild: export, arg and execArgv go with `module`, not `command`');
  }
  if (o.module !== undefined && o.args !== undefined) {
    throw new InvalidArgumentError('crashChild: args go with `command`; a module gets `arg`');
  }
  for (const k of ['args', 'execArgv'] as const) {
    const v = o[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
      throw new InvalidArgumentError(`crashChild: ${k} must be an array of strings, got ${describe(v)}`);
    }
  }
  for (const k of ['export', 'cwd', 'after', 'killAt'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw new InvalidArgumentError(`crashChild: ${k} must be a non-empty string, got ${describe(v)}`);
    }
  }
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object' || Object.values(o.env).some((v) => typeof v !== 'string'))) {
    throw new InvalidArgumentError(`crashChild: env must map names to strings, got ${describe(o.env)}`);
  }
  const k = o.killAfterMs;
  if (k !== undefined) {
    const ok = Array.isArray(k) ? k.length === 2 && nonNegativeNumber(k[0]) && nonNegativeNumber(k[1]) && k[0] <= k[1] : nonNegativeNumber(k);
    if (!ok) throw new InvalidArgumentError(`crashChild: killAfterMs must be a number of ms >= 0 or a range [min, max], got ${describe(k)}`);
  }
  if (o.after !== undefined && k === undefined) throw new InvalidArgumentError('crashChild: `after` starts the killAfterMs clock: give killAfterMs too');
  if (o.hit !== undefined && (!Number.isSafeInteger(o.hit) || o.hit < 1)) {
    throw new InvalidArgumentError(`crashChild: hit must be an integer >= 1, got ${describe(o.hit)}`);
  }
  if (o.hit !== undefined && o.killAt === undefined) throw new InvalidArgumentError('crashChild: `hit` counts the killAt point: give killAt too');
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new InvalidArgumentError(`crashChild: seed must be an integer, got ${describe(o.seed)}`);
  if (o.timeoutMs !== undefined && (!nonNegativeNumber(o.timeoutMs) || o.timeoutMs === 0)) {
    throw new InvalidArgumentError(`crashChild: timeoutMs must be a positive number of ms, got ${describe(o.timeoutMs)}`);
  }
  if (o.arg !== undefined) {
    try {
      JSON.stringify(o.arg);
    } catch (err) {
      throw new InvalidArgumentError('crashChild: arg must be JSON-serialisable', { cause: err });
    }
  }
}

/**
 * The child's side of a function module, run with `node -e`: it imports the
 * module and calls its function with (arg, { report, crashPoint }). The two
 * functions speak the protocol of report() / crashPoint() below.
 */
const RUNNER = `
import { writeSync } from 'node:fs';
const [url, name, argJson] = process.argv.slice(1);
const fd = Number(process.env.${ENV_FD});
const killAt = process.env.${ENV_KILL_AT};
const killHit = Number(process.env.${ENV_KILL_HIT} || '1');
const hits = new Map();
function line(obj) {
  const buf = Buffer.from(JSON.stringify(obj) + '\\n');
  let at = 0;
  while (at < buf.length) {
    try { at += writeSync(fd, buf, at); } catch (err) { if (err.code !== 'EAGAIN') throw err; }
  }
}
const report = (data) => line({ t: 'r', d: data === undefined ? null : data });
function crashPoint(name, data) {
  line({ t: 'p', n: String(name), d: data === undefined ? null : data });
  if (name !== killAt) return;
  const n = (hits.get(name) || 0) + 1;
  hits.set(name, n);
  if (n === killHit) { process.kill(process.pid, 'SIGKILL'); for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000); }
}
const mod = await import(url);
const fn = mod[name];
if (typeof fn !== 'function') {
  process.stderr.write('crashChild: ' + url + ' has no exported function ' + JSON.stringify(name) + '\\n');
  process.exit(1);
}
try {
  await fn(JSON.parse(argJson), { report, crashPoint });
} catch (err) {
  process.stderr.write('crashChild: the function threw: ' + (err && err.stack ? err.stack : String(err)) + '\\n');
  process.exit(1);
}
`;

/** Runs a function module or a command in a child process and kills it with SIGKILL (see the file comment). */
export function crashChild(options: CrashChildOptions): Promise<CrashChildResult> {
  try {
    checkOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  const o = options;
  const env: NodeJS.ProcessEnv = { ...process.env, ...(o.env ?? {}), [ENV_FD]: String(REPORT_FD) };
  delete env[ENV_KILL_AT];
  delete env[ENV_KILL_HIT];
  if (o.killAt !== undefined) {
    env[ENV_KILL_AT] = o.killAt;
    env[ENV_KILL_HIT] = String(o.hit ?? 1);
  }
  let file: string;
  let argv: string[];
  if (o.module !== undefined) {
    const url =
      o.module instanceof URL
        ? o.module.href
        : o.module.startsWith('file:')
          ? o.module
          : pathToFileURL(isAbsolute(o.module) ? o.module : resolve(o.cwd ?? process.cwd(), o.module)).href;
    file = process.execPath;
    argv = [...(o.execArgv ?? []), '--input-type=module', '-e', RUNNER, url, o.export ?? 'default', JSON.stringify(o.arg ?? null)];
  } else {
    file = o.command!;
    argv = [...(o.args ?? [])];
  }
  const delay = o.killAfterMs === undefined ? null : pickDelay(o.killAfterMs, o.seed ?? 0);
  const started = Date.now();

  return new Promise<CrashChildResult>((resolvePromise, reject) => {
    const child = spawn(file, argv, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const events: CrashEvent[] = [];
    let stdout = '';
    let stderr = '';
    let pending = '';
    let by: CrashChildResult['by'] = null;
    let timer: NodeJS.Timeout | null = null;
    const kill = (who: 'timer' | 'timeout') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (by === null) by = who;
      child.kill('SIGKILL');
    };
    const startTimer = () => {
      if (delay !== null && timer === null) timer = setTimeout(() => kill('timer'), delay);
    };
    const timeout = setTimeout(() => kill('timeout'), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const onLine = (text: string) => {
      if (text.length === 0) return;
      let msg: { t?: string; n?: string; d?: unknown };
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return; // not ours (a command may write to fd 3 itself)
      }
      if (msg.t === 'r') events.push({ type: 'report', data: msg.d ?? null });
      else if (msg.t === 'p' && typeof msg.n === 'string') {
        events.push({ type: 'point', name: msg.n, data: msg.d ?? null });
        if (o.after !== undefined && msg.n === o.after) startTimer();
      }
    };
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const reports = child.stdio[3] as NodeJS.ReadableStream;
    reports.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timeout);
      if (timer) clearTimeout(timer);
      reject(err);
    });
    if (o.after === undefined) startTimer();
    // 'close' comes after the exit and after every pipe has been read to its end.
    child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timeout);
      if (timer) clearTimeout(timer);
      onLine(pending);
      const points = events.flatMap((e) => (e.type === 'point' ? [e.name] : []));
      let point: string | null = null;
      if (signal === 'SIGKILL' && by === null && o.killAt !== undefined && points[points.length - 1] === o.killAt) {
        by = 'point';
        point = o.killAt;
      }
      resolvePromise({
        killed: signal === 'SIGKILL',
        by: signal === 'SIGKILL' ? by : null,
        point,
        delayMs: delay,
        exitCode,
        signal,
        reports: events.flatMap((e) => (e.type === 'report' ? [e.data] : [])),
        points,
        events,
        stdout,
        stderr,
        elapsedMs: Date.now() - started,
      });
    });
  });
}

// ---- the child's side ---------------------------------------------------------

const hits = new Map<string, number>();

function reportFd(): number | null {
  const v = process.env[ENV_FD];
  if (v === undefined) return null;
  const fd = Number(v);
  return Number.isSafeInteger(fd) && fd >= 0 ? fd : null;
}

function writeLine(fd: number, obj: unknown): void {
  const buf = Buffer.from(`${JSON.stringify(obj)}\n`);
  let at = 0;
  while (at < buf.length) {
    try {
      at += writeSync(fd, buf, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

/**
 * In a child started by crashChild: reports `data` (anything JSON can carry)
 * to the parent. The line is in the pipe when this returns, so a kill right
 * after loses nothing. Outside crashChild it does nothing.
 */
export function report(data: unknown): void {
  const fd = reportFd();
  if (fd !== null) writeLine(fd, { t: 'r', d: data === undefined ? null : data });
}

/**
 * In a child started by crashChild: reports that the child reached the point
 * `name`; if it is the parent's `killAt` point (its `hit`-th time), the process
 * kills itself with SIGKILL here and this never returns. Outside crashChild it
 * does nothing, so points may stay in a service's code.
 */
export function crashPoint(name: string, data?: unknown): void {
  const fd = reportFd();
  if (fd === null) return;
  writeLine(fd, { t: 'p', n: String(name), d: data === undefined ? null : data });
  if (name !== process.env[ENV_KILL_AT]) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (n === Number(process.env[ENV_KILL_HIT] ?? '1')) {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to oneself is delivered before kill(2) returns; never go on regardless.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
}
