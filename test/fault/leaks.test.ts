/**
 * Resource leaks: many open / append / read / truncate / close cycles of Log
 * (writer and read-only) and Store (topics, producers, deletion) must give
 * back every file descriptor and every mapping.
 *
 * The cycles run in a child started with --expose-gc: a zero-copy Buffer keeps
 * its segment's mapping alive until the Buffer is collected (DESIGN §3), so
 * mappings can only be counted after a real garbage collection. The child
 * counts /proc/self/fd entries and the /proc/self/maps lines that name a file
 * of its data directories, after a warm-up cycle (libuv's thread pool and the
 * addon are loaded by then) and again after all the cycles.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it, beforeAll } from 'vitest';
import { tempDir } from '../helpers.js';
import { DIST_ENTRY, ensureDist } from '../log/util.js';

beforeAll(() => ensureDist(), 120_000);

const CHILD = `
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
const { Log, Store, verifyLog, TidelogError } = tidelog;

const fds = () => readdirSync('/proc/self/fd').length;
const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes(arg.root)).length;
const turn = () => new Promise((r) => setImmediate(r));
async function collect() {
  // Buffer finalizers may run after the collection, from the event loop.
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    await turn();
    await new Promise((r) => setTimeout(r, 5));
  }
}
const sample = () => ({ fds: fds(), maps: maps() });

const logDir = join(arg.root, 'log');
const storeDir = join(arg.root, 'store');
const LOG_OPTIONS = { segmentBytes: 8192, maxMessageBytes: 8192, maxIndexBytes: 256, indexIntervalBytes: 512 };
let kept = [];
let checks = 0;

function rec(i, n) {
  return { key: 'k' + (i % 13), value: Buffer.alloc(40 + ((i * 37) % n), 97 + (i % 26)), timestamp: 1_000_000 + i };
}

async function logCycle(c) {
  const log = await Log.open(logDir, LOG_OPTIONS);
  for (let b = 0; b < 12; b++) {
    const base = log.logEndOffset;
    const recs = Array.from({ length: 1 + (b % 5) }, (_, j) => rec(base + j, 300));
    await log.append(recs, { acks: b % 4 === 0 ? 'durable' : 'written', compression: b % 3 === 0 ? 'lz4' : 'none' });
  }
  // Zero-copy reads, kept across close (and sometimes across truncation).
  const from = Math.max(log.logStartOffset, log.logEndOffset - 40);
  kept.push(...log.readRecords(from, { maxBytes: 4096 }));
  const whole = log.readBatches(from);
  kept.push(whole);
  kept.push(log.get(log.logEndOffset - 1));
  log.offsetForTimestamp(1_000_000 + from);
  // A second writer is refused; its attempt must not leak either.
  try {
    await Log.open(logDir, LOG_OPTIONS);
    throw new Error('a second writer opened the log');
  } catch (err) {
    if (!(err instanceof TidelogError) || err.code !== 'LOG_LOCKED') throw err;
  }
  // A read-only log in the same process, opened and closed while the writer works.
  const reader = await Log.open(logDir, { ...LOG_OPTIONS, readOnly: true });
  kept.push(...reader.readRecords(from, { maxRecords: 5 }));
  await reader.close();
  if (c % 3 === 2) {
    const copy = Buffer.from(whole);
    await log.truncateTo(Math.max(log.logStartOffset, log.logEndOffset - 25));
    // The Buffer over truncated bytes is still valid memory: its prefix, then zeros.
    let k = 0;
    while (k < whole.length && whole[k] === copy[k]) k++;
    for (let i = k; i < whole.length; i++) if (whole[i] !== 0) throw new Error('stale bytes at ' + i + ' after truncateTo');
    checks++;
  }
  if (c % 10 === 9) await log.truncateTo(0); // back to one segment now and then
  await log.close();
  if (c % 5 === 0) {
    const report = await verifyLog(logDir);
    if (!report.ok) throw new Error('verifyLog: ' + JSON.stringify(report.issues));
  }
}

async function storeCycle(c) {
  const store = await Store.open(storeDir, { defaults: { segmentBytes: 8192, maxMessageBytes: 8192, segmentIndexBytes: 256 } });
  const topic = 't' + (c % 3);
  if (!store.hasTopic(topic)) await store.createTopic(topic, { partitions: 2 });
  const producer = store.producer({ acks: c % 2 ? 'durable' : 'written', compression: c % 4 === 1 ? 'lz4' : 'none' });
  const sends = [];
  for (let i = 0; i < 60; i++) sends.push(producer.send({ topic, key: 'k' + (i % 9), value: Buffer.alloc(50 + i, 65 + (i % 20)) }));
  await Promise.all(sends);
  await producer.close();
  for (let p = 0; p < 2; p++) kept.push(...store.log(topic, p).readRecords(0, { maxRecords: 10 }));
  const reader = await Store.open(storeDir, { readOnly: true });
  for (let p = 0; p < 2; p++) kept.push(...reader.log(topic, p).readRecords(0, { maxRecords: 3 }));
  await reader.close();
  if (c % 4 === 3) await store.deleteTopic(topic);
  await store.close();
}

// Warm-up: loads everything that is loaded once per process.
await logCycle(0);
await storeCycle(0);
kept = [];
await collect();
const baseline = sample();

let peak = { fds: 0, maps: 0 };
for (let c = 1; c <= arg.cycles; c++) {
  await logCycle(c);
  if (c % 2 === 0) await storeCycle(c);
  const s = sample(); // every log and store of the cycle is closed here
  peak = { fds: Math.max(peak.fds, s.fds), maps: Math.max(peak.maps, s.maps) };
  if (c % 10 === 0) {
    kept = [];
    await collect();
  }
}
// One more cycle: everything is closed, and the Buffers it read still hold their mappings...
await logCycle(arg.cycles + 1);
const beforeDrop = maps();
let valid = 0;
for (const x of kept) {
  const b = x && x.value !== undefined ? x.value : x;
  if (b) for (let i = 0; i < b.length; i++) valid += b[i] >= 0 ? 1 : 0;
}
kept = [];
await collect();
const after = sample();
process.stdout.write(JSON.stringify({ baseline, peak, beforeDrop, valid, after, checks }) + '\\n');
`;

interface Report {
  baseline: { fds: number; maps: number };
  peak: { fds: number; maps: number };
  beforeDrop: number;
  valid: number;
  after: { fds: number; maps: number };
  checks: number;
}

function runLeakChild(root: string, cycles: number): Promise<{ report: Report | null; code: number | null; signal: string | null; stderr: string }> {
  const source = `const tidelog = await import(${JSON.stringify(DIST_ENTRY)});\nconst arg = JSON.parse(process.argv[1]);\n${CHILD}`;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', source, JSON.stringify({ root, cycles })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) =>
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop();
      res({ report: line ? (JSON.parse(line) as Report) : null, code, signal, stderr });
    }),
  );
}

describe('file descriptors and mappings', () => {
  it('return to their starting count after 60 cycles of Log and 30 of Store (open, append, read, truncate, close)', async () => {
    const root = tempDir('tidelog-leaks-');
    const { report, code, signal, stderr } = await runLeakChild(root, 60);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    const r = report!;
    // The measurements see what they should: every log and store was closed
    // before the baseline, so no file of the data directories is mapped...
    expect(r.baseline.maps).toBe(0);
    // ...while the cycles ran, logs had files open and mapped...
    expect(r.peak.maps).toBeGreaterThan(0);
    // ...and Buffers read before close keep their mappings alive (and readable) after it.
    expect(r.beforeDrop).toBeGreaterThan(0);
    expect(r.valid).toBeGreaterThan(0);
    expect(r.checks, 'Buffers held across truncateTo were checked').toBeGreaterThan(10);
    // close() itself gives back every descriptor: sampled after each cycle, before any collection.
    expect(r.peak.fds).toBe(r.baseline.fds);
    // Once the Buffers are collected, nothing is left: no descriptor, no mapping.
    expect(r.after).toEqual({ fds: r.baseline.fds, maps: 0 });
  });
});
