/**
 * Readers while the writer rolls segments, truncates and reopens (DESIGN §3,
 * §5): readers in the writer's process (the writer's own Log, a read-only Log,
 * a worker thread) and in other processes (read-only opens) must never see
 * garbage or crash; once truncateTo has returned they see the new end and
 * never the removed records (a typed error is acceptable; stale bytes past the
 * cut are not); Buffers they got before a truncation stay valid memory: a
 * zero-copy Buffer of the writer reads its old bytes or zeros, never SIGBUS
 * and never the bytes appended later at the same file positions; a read-only
 * log's Buffers are copies and never change.
 *
 * Every record describes itself: its value holds a magic, its write epoch
 * (bumped by every truncation) and its offset, then bytes derived from both,
 * so any reader can tell a right record from garbage or a record from the
 * wrong place without a model. The writer, which has the model, also checks
 * that every record has the epoch the model says.
 *
 * Everything runs in child processes (the test process only relays and
 * judges), so a SIGBUS kills a child and fails the test with its name.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { Child, DIST_ENTRY, ensureDist } from '../log/util.js';

beforeAll(() => ensureDist(), 120_000);

/** Self-describing records, shared by every script below (plain JS). */
const RECORDS = `
const MAGIC = 0x544c4343;
const BASE_TS = 1_700_000_000_000;
function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}
function body(epoch, offset) {
  let x = (hash32(epoch + '/' + offset) | 1) >>> 0;
  const b = Buffer.alloc(24 + (x % 600));
  for (let i = 0; i < b.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 255; }
  return b;
}
function makeRecord(epoch, offset) {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(MAGIC, 0);
  head.writeUInt32BE(epoch, 4);
  head.writeDoubleBE(offset, 8);
  const rec = { key: 'k' + (offset % 7), value: Buffer.concat([head, body(epoch, offset)]), timestamp: BASE_TS + offset };
  if (offset % 5 === 0) rec.headers = [{ key: 'e', value: String(epoch) }];
  return rec;
}
/** The record's epoch, or a string saying what is wrong with it. */
function checkRecord(r) {
  const v = r.value;
  if (!v || v.length < 16) return 'record ' + r.offset + ': value of ' + (v ? v.length : 'null') + ' bytes';
  if (v.readUInt32BE(0) !== MAGIC) return 'record ' + r.offset + ': no magic (garbage)';
  const epoch = v.readUInt32BE(4);
  if (v.readDoubleBE(8) !== r.offset) return 'record ' + r.offset + ': holds the record of offset ' + v.readDoubleBE(8);
  if (!body(epoch, r.offset).equals(v.subarray(16))) return 'record ' + r.offset + ' of epoch ' + epoch + ': wrong bytes';
  if (!r.key || r.key.toString() !== 'k' + (r.offset % 7)) return 'record ' + r.offset + ': wrong key';
  if (r.timestamp !== BASE_TS + r.offset) return 'record ' + r.offset + ': wrong timestamp ' + r.timestamp;
  return epoch;
}
/** Checks a readRecords result from \`from\`: contiguous, each record sound. Returns the epochs, or throws. */
function checkRun(recs, from) {
  const epochs = [];
  for (let i = 0; i < recs.length; i++) {
    if (recs[i].offset !== from + i) throw new Error('records not contiguous: ' + recs[i].offset + ' where ' + (from + i) + ' belongs');
    const e = checkRecord(recs[i]);
    if (typeof e === 'string') throw new Error(e);
    epochs.push(e);
  }
  return epochs;
}
const isTyped = (err) => err instanceof tidelog.TidelogError && typeof err.code === 'string';
/**
 * Opens a read-only log. An open that races a truncation may fail with a typed
 * error (a segment it listed was deleted meanwhile): counted, and retried.
 */
async function openReader(dir, options, onTypedError) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await tidelog.Log.open(dir, { ...options, readOnly: true });
    } catch (err) {
      if (!isTyped(err) || attempt === 100) throw err;
      onTypedError(err);
      await new Promise((r) => setImmediate(r));
    }
  }
}
`;

const LOG_OPTIONS = { segmentBytes: 32 * 1024, maxMessageBytes: 32 * 1024, indexIntervalBytes: 1024, maxIndexBytes: 2048 };

/** A reader in a worker thread of the writer's process (CommonJS: eval'd workers are scripts). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const tidelog = await import(workerData.dist);
  ${RECORDS}
  const s = { reads: 0, records: 0, typedErrors: 0, reopens: 0 };
  let log = await openReader(workerData.dir, workerData.options, () => s.typedErrors++);
  let stop = false;
  parentPort.on('message', () => (stop = true));
  while (!stop) {
    try {
      // Any call may refresh the reader's view, and so meet a typed error.
      const from = Math.floor(Math.random() * (log.logEndOffset + 1));
      const recs = log.readRecords(from, { maxBytes: 1 + Math.floor(Math.random() * 65536) });
      checkRun(recs, from);
      s.records += recs.length;
    } catch (err) {
      if (!isTyped(err)) throw err;
      s.typedErrors++;
    }
    if (++s.reads % 300 === 0) {
      await log.close();
      log = await openReader(workerData.dir, workerData.options, () => s.typedErrors++);
      s.reopens++;
    }
    // Leave the writer thread some of the 2 cores.
    if (s.reads % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await log.close();
  parentPort.postMessage(s);
})().catch((err) => parentPort.postMessage({ error: String((err && err.stack) || err) }));
`;

/**
 * The writer. Appends batches of self-describing records (rolling a segment
 * every few appends), truncates to a random earlier offset now and then (epoch
 * + 1, reported on stdout as {t, epoch}), closes and reopens itself now and
 * then, and between steps checks its in-process readers against its model:
 * its own Log, a read-only Log, and held zero-copy Buffers. With
 * arg.worker it also runs a worker-thread reader on a read-only Log.
 * Stops after arg.truncations truncations, or when told on stdin.
 */
const WRITER = `
import { Worker } from 'node:worker_threads';
import { createInterface } from 'node:readline';
${RECORDS}
const { Log } = tidelog;
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
let x = arg.seed >>> 0;
const rnd = () => { x = (x + 0x6d2b79f5) >>> 0; let t = Math.imul(x ^ (x >>> 15), x | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
let stop = false;
createInterface({ input: process.stdin }).on('line', () => (stop = true));

let log = await Log.open(arg.dir, arg.options);
const reader = await Log.open(arg.dir, { ...arg.options, readOnly: true });
let epoch = 0;
const model = []; // model[offset] = epoch
const held = []; // { buf, copy } zero-copy Buffers of the writer, kept across truncations
const stats = { appends: 0, truncations: 0, reopens: 0, exactReads: 0, recordsChecked: 0, heldChecks: 0, rolls: 0 };

let worker = null;
let workerDone = null;
if (arg.worker) {
  worker = new Worker(${JSON.stringify(WORKER)}, { eval: true, execArgv: [], workerData: { dist: arg.dist, dir: arg.dir, options: arg.options } });
  workerDone = new Promise((res, rej) => { worker.on('message', res); worker.on('error', rej); });
}

function fail(msg) { throw new Error(msg); }

/** Exact check of a read through \`l\` from \`from\` against the model. */
function exactRead(l, from, maxBytes) {
  const recs = l.readRecords(from, { maxBytes });
  const epochs = checkRun(recs, from);
  if (from < model.length && recs.length === 0) fail('no records at ' + from + ' below the end ' + model.length);
  for (let i = 0; i < epochs.length; i++) {
    if (from + i >= model.length) fail('record ' + (from + i) + ' read past the end ' + model.length + ' (epoch ' + epochs[i] + ')');
    if (epochs[i] !== model[from + i]) fail('record ' + (from + i) + ' has epoch ' + epochs[i] + ', the model ' + model[from + i] + ' (stale)');
  }
  stats.exactReads++;
  stats.recordsChecked += recs.length;
}

function checkReaders() {
  const end = model.length;
  if (log.logEndOffset !== end) fail('writer end ' + log.logEndOffset + ' != model ' + end);
  if (reader.logEndOffset !== end) fail('read-only log in the writer process: end ' + reader.logEndOffset + ' != ' + end);
  for (const l of [log, reader]) {
    exactRead(l, Math.floor(rnd() * (end + 1)), 1 + Math.floor(rnd() * 40000));
    if (l.readRecords(end).length !== 0) fail('records at the end offset ' + end);
    if (end > 0) {
      const o = Math.floor(rnd() * end);
      const r = l.get(o);
      if (!r || r.offset !== o || checkRecord(r) !== model[o]) fail('get(' + o + ') is not the model record');
    }
  }
  // Held zero-copy Buffers: their old bytes, or zeros past a cut; never new bytes.
  for (const h of held) {
    let k = 0;
    while (k < h.buf.length && h.buf[k] === h.copy[k]) k++;
    for (let i = k; i < h.buf.length; i++) if (h.buf[i] !== 0) fail('a held Buffer changed at byte ' + i + ' of ' + h.buf.length + ' to a non-zero byte');
    stats.heldChecks++;
  }
}

async function append() {
  const n = 1 + Math.floor(rnd() * 12);
  const base = model.length;
  const recs = [];
  for (let i = 0; i < n; i++) recs.push(makeRecord(epoch, base + i));
  const segs = log.segments().length;
  const r = await log.append(recs, { acks: rnd() < 0.1 ? 'durable' : 'written', compression: rnd() < 0.3 ? 'lz4' : 'none' });
  if (r.baseOffset !== base) fail('append at ' + r.baseOffset + ', expected ' + base);
  for (let i = 0; i < n; i++) model.push(epoch);
  stats.appends++;
  if (log.segments().length !== segs) stats.rolls++;
}

async function truncate() {
  const end = model.length;
  const to = rnd() < 0.15 ? 0 : Math.max(0, end - 1 - Math.floor(rnd() * Math.min(end, 400)));
  await log.truncateTo(to);
  const newEnd = log.logEndOffset;
  if (newEnd > to || newEnd < 0) fail('truncateTo(' + to + ') left the end at ' + newEnd);
  model.length = newEnd;
  epoch++;
  stats.truncations++;
  out({ t: newEnd, epoch });
}

out({ ready: true });
while (!stop && stats.truncations < arg.truncations) {
  await append();
  if (rnd() < 0.3 && model.length > 0) {
    const buf = log.readBatches(Math.floor(rnd() * model.length), { maxBytes: 16384 });
    if (buf) {
      held.push({ buf, copy: Buffer.from(buf) });
      if (held.length > 24) held.splice(Math.floor(rnd() * held.length), 1);
    }
  }
  if (rnd() < 0.06 || model.length > 4000) await truncate();
  if (rnd() < 0.01) {
    await log.close();
    log = await Log.open(arg.dir, arg.options);
    stats.reopens++;
  }
  checkReaders();
  await new Promise((r) => setImmediate(r));
}
if (worker) {
  worker.postMessage('stop');
  const w = await workerDone;
  await worker.terminate(); // its message listener would keep it alive
  if (w.error) fail('worker-thread reader: ' + w.error);
  stats.worker = w;
}
await reader.close();
await log.close();
out({ done: true, stats, end: model.length, epoch });
`;

/**
 * A reader in another process: a read-only Log, read in a loop at random
 * offsets, every record checked; reopened every few hundred reads. Told of
 * each completed truncation ({t, epoch} on stdin), it checks that from then on
 * nothing at or past the cut comes from an older epoch. Records it read are
 * kept (read-only reads are copies) and checked again later: they never change.
 */
const READER = `
import { createInterface } from 'node:readline';
import { setPriority } from 'node:os';
${RECORDS}
setPriority(5); // below the writer: it must get to truncate while they spin
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
let stop = false;
const cuts = []; // completed truncations: { t, epoch }
createInterface({ input: process.stdin }).on('line', (l) => {
  const m = JSON.parse(l);
  if (m.stop) stop = true;
  else cuts.push(m);
});
const s = { reads: 0, records: 0, typedErrors: {}, reopens: 0, staleChecks: 0, shrinks: 0, keptChecks: 0 };
const typed = (err) => (s.typedErrors[err.code] = (s.typedErrors[err.code] || 0) + 1);
const open = () => openReader(arg.dir, arg.options, typed);
let log = await open();
let kept = [];
let lastEnd = 0;
out({ ready: true });
while (!stop) {
  // The cuts known before this read: records at or past one must be of its epoch or later.
  const known = cuts.slice();
  try {
    // Any call may refresh the reader's view, and so meet a typed error.
    const end = log.logEndOffset;
    if (end < lastEnd) s.shrinks++;
    lastEnd = end;
    const from = Math.floor(Math.random() * (end + 1));
    const recs = log.readRecords(from, { maxBytes: 1 + Math.floor(Math.random() * 65536) });
    const epochs = checkRun(recs, from);
    for (let i = 0; i < recs.length; i++) {
      for (const c of known) {
        if (recs[i].offset >= c.t) {
          s.staleChecks++;
          if (epochs[i] < c.epoch) throw new Error('stale record ' + recs[i].offset + ' of epoch ' + epochs[i] + ' after truncateTo cut at ' + c.t + ' (epoch ' + c.epoch + ')');
        }
      }
    }
    s.records += recs.length;
    if (recs.length && Math.random() < 0.05) kept.push({ r: recs[0], epoch: epochs[0] });
  } catch (err) {
    if (!isTyped(err)) throw err;
    typed(err);
  }
  // A cut older than every record read since is settled: keep the list short.
  if (cuts.length > 4) cuts.splice(0, cuts.length - 4);
  if (++s.reads % 200 === 0) {
    for (const k of kept) {
      if (checkRecord(k.r) !== k.epoch) throw new Error('a record read earlier changed');
      s.keptChecks++;
    }
    if (kept.length > 50) kept = kept.slice(-20);
    await log.close();
    log = await open();
    s.reopens++;
  }
  if (s.reads % 20 === 0) await new Promise((r) => setImmediate(r));
}
await log.close();
out({ done: true, stats: s });
`;

interface WriterStats {
  appends: number;
  truncations: number;
  reopens: number;
  exactReads: number;
  recordsChecked: number;
  heldChecks: number;
  rolls: number;
  worker?: { reads: number; records: number; typedErrors: number; reopens: number };
}
interface ReaderStats {
  reads: number;
  records: number;
  typedErrors: Record<string, number>;
  reopens: number;
  staleChecks: number;
  shrinks: number;
  keptChecks: number;
}

/** Closes the child's stdin (its last input) and checks that it then exits by itself, with 0. */
async function expectNoCrash(name: string, child: Child): Promise<void> {
  const e = await child.end();
  expect({ code: e.code, signal: e.signal }, `${name} ended badly; stderr:\n${child.stderr}`).toEqual({ code: 0, signal: null });
}

/** Runs the writer with `readers` reader processes; relays truncations to them; returns every summary. */
async function run(seed: number, truncations: number, readers: number, worker: boolean) {
  const dir = tempDir('tidelog-conc-');
  const writer = new Child(WRITER, { dir, options: LOG_OPTIONS, seed, truncations, worker, dist: DIST_ENTRY });
  expect(await writer.next(), writer.stderr).toEqual({ ready: true });
  const procs = Array.from({ length: readers }, () => new Child(READER, { dir, options: LOG_OPTIONS }));
  for (const r of procs) expect(await r.next(), r.stderr).toEqual({ ready: true });
  let done: { stats: WriterStats; end: number; epoch: number } | null = null;
  let failure: unknown = null;
  try {
    for (;;) {
      const m = await writer.next<{ t?: number; epoch?: number; done?: boolean; stats?: WriterStats; end?: number }>();
      if (m.done) {
        done = m as { stats: WriterStats; end: number; epoch: number };
        break;
      }
      for (const r of procs) r.send({ t: m.t, epoch: m.epoch });
    }
  } catch (err) {
    failure = err;
  }
  const summaries: ReaderStats[] = [];
  for (const r of procs) {
    r.send({ stop: true });
    try {
      summaries.push((await r.next<{ stats: ReaderStats }>()).stats);
    } catch (err) {
      failure ??= err;
    }
  }
  // A crash of any process is the finding: name it.
  await expectNoCrash('the writer process', writer);
  for (let i = 0; i < procs.length; i++) await expectNoCrash(`reader process ${i}`, procs[i]);
  if (failure) throw failure;
  return { writer: done!, readers: summaries };
}

describe('readers while the writer rolls, truncates and reopens', () => {
  it("in the writer's process (its own Log, a read-only Log, held zero-copy Buffers): exactly the model after every step", async () => {
    const { writer } = await run(7, 100, 0, false);
    const s = writer.stats;
    expect(s.truncations).toBe(100);
    expect(s.rolls, 'segments rolled').toBeGreaterThan(20);
    expect(s.reopens, 'the writer closed and reopened').toBeGreaterThan(0);
    expect(s.exactReads).toBeGreaterThan(2 * s.appends - 1);
    expect(s.recordsChecked).toBeGreaterThan(1000);
    expect(s.heldChecks, 'held Buffers were checked after truncations').toBeGreaterThan(500);
  });

  it('in a worker thread and in two other processes (read-only, reopening): no garbage, no crash, nothing stale past a completed cut', async () => {
    const { writer, readers } = await run(11, 60, 2, true);
    expect(writer.stats.truncations).toBe(60);
    const w = writer.stats.worker!;
    expect(w.records, 'the worker-thread reader read records').toBeGreaterThan(0);
    expect(w.reopens).toBeGreaterThan(0);
    for (const r of readers) {
      expect(r.records, 'the reader process read records').toBeGreaterThan(0);
      expect(r.reopens, 'it reopened its log').toBeGreaterThan(0);
      expect(r.shrinks, 'it saw the log end go down (truncations)').toBeGreaterThan(0);
      expect(r.staleChecks, 'records past a completed cut were checked').toBeGreaterThan(0);
      expect(r.keptChecks).toBeGreaterThan(0);
    }
  });
});
