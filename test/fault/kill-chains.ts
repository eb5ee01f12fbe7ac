/**
 * The chained kill -9 cycles of the Store (kill-producer.test.ts,
 * kill-topics.test.ts), as functions of a seed, so that `npm run soak` runs
 * them too, unbounded and with random seeds.
 *
 * runProducerChain: producers through the Store killed with SIGKILL, in chains:
 * each cycle a child process opens the store (recovering the crash before it,
 * including the partitions' producer state), sends with an idempotent producer
 * from several concurrent senders, and is killed at a random moment (sometimes
 * while it opens). The child logs every send before making it and every
 * acknowledgement after it (O_APPEND + writeSync: a kill loses no line), so the
 * test knows, per partition, the order of the sends and which were
 * acknowledged at which offset. After each kill it checks, per partition:
 * - what was there before is unchanged, byte for byte;
 * - after it come whole sends, in send order, with no gap: a prefix of the
 *   sends (the ones not yet in the file at the kill are simply missing), and
 *   that prefix holds every acknowledged send at its acknowledged offset
 *   (a process crash loses nothing written: 'written' acks survive it too);
 * - the batches of each producer carry consecutive sequence numbers from 0
 *   (nothing written twice, nothing skipped);
 * - producer ids are never reused across kills (an unnamed producer gets a new
 *   id, a named one a higher epoch): the id counter is durable before use;
 * - when it reopens the store as a writer, re-appending the last batch of the
 *   newest producer is recognised as a duplicate at its original offsets (the
 *   producer state survived the kill).
 * Most verifications open the store read-only, leaving the crash for the next
 * child to recover; every third opens it for writing (and closes it cleanly).
 *
 * runTopicChain: topic creation, growth and deletion with data in them, killed
 * with SIGKILL, chained: each cycle a child opens the store (finishing any
 * deletion a kill interrupted, and recovering the partitions), then creates,
 * grows and deletes topics and sends records to their partitions through a
 * producer, with segments of 1 KiB so that a topic's data is many files; it is
 * killed at a random moment, one cycle in four while it is still opening the
 * store. The child brackets each operation with B/E lines in an ops file, so
 * the test knows the state before the operation in flight and after it. The
 * reopened store must be one of the two: the same topics with the same
 * partition counts, every partition holding exactly the records the model
 * says (values name the topic's incarnation, so nothing of a deleted topic can
 * come back unnoticed), and — when the test opens it for writing — no
 * directory or pending deletion left behind. Half the verifications open the
 * store read-only, leaving the crash (and any interrupted deletion) to the
 * next child.
 */
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type BatchHeader, Store, iterateBatches } from '../../src/index.js';
import { readHead } from '../../src/testing/index.js';
import { tempDir } from '../helpers.js';
import { Child, rng } from '../log/util.js';

/**
 * Runs a verification of the store in `dir` as a kill left it. If it fails,
 * the state it started from is kept (a copy taken before) and named in the error.
 */
async function keepOnFailure(dir: string, label: string, verify: () => Promise<void>): Promise<void> {
  const before = `${dir}.before-verification`;
  rmSync(before, { recursive: true, force: true });
  cpSync(dir, before, { recursive: true });
  try {
    await verify();
  } catch (err) {
    const kept = `${dir}.failed`;
    rmSync(kept, { recursive: true, force: true });
    renameSync(before, kept);
    throw new Error(`${label}: ${(err as Error).message}\n  the store as the kill left it is kept in ${kept}`, { cause: err });
  }
  rmSync(before, { recursive: true, force: true });
}

// ---- producers ---------------------------------------------------------------

/** The value of record `i` of send `id` (also computed by the child). */
const VALUE_JS = `
function valueFor(id, i) {
  let h = 0x811c9dc5;
  const s = id + '/' + i;
  for (let k = 0; k < s.length; k++) { h ^= s.charCodeAt(k); h = Math.imul(h, 0x01000193) >>> 0; }
  const pad = Buffer.alloc(h % 180);
  for (let k = 0; k < pad.length; k++) { h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0; pad[k] = h & 255; }
  return Buffer.concat([Buffer.from(s + '|'), pad]);
}
`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const valueFor = new Function(`${VALUE_JS}; return valueFor;`)() as (id: string, i: number) => Buffer;

const PRODUCER_CHILD = `
import { openSync, writeSync } from 'node:fs';
${VALUE_JS}
const { Store } = tidelog;
const fd = openSync(arg.ops, 'a');
const line = (s) => writeSync(fd, s + '\\n');
let x = arg.seed >>> 0;
const rnd = () => { x = (x + 0x6d2b79f5) >>> 0; let t = Math.imul(x ^ (x >>> 15), x | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const fatal = (what, err) => { process.stderr.write(what + ': ' + (err && err.stack || err) + '\\n'); process.exit(1); };
process.on('unhandledRejection', (err) => fatal('unhandled rejection', err));

const store = await Store.open(arg.dir, { defaults: arg.defaults });
if (!store.hasTopic('t')) await store.createTopic('t', { partitions: arg.partitions });
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
const producer = store.producer({ acks: arg.acks, compression: arg.compression, ...(arg.named ? { name: 'chain' } : {}) });
let seq = 0;
async function sender() {
  for (;;) {
    const p = Math.floor(rnd() * arg.partitions);
    const n = 1 + Math.floor(rnd() * arg.maxRecords);
    const id = arg.cycle + '.' + seq++;
    const records = [];
    for (let i = 0; i < n; i++) records.push({ topic: 't', partition: p, key: 'k' + (i % 5), value: valueFor(id, i) });
    line('s ' + p + ' ' + id + ' ' + n);
    const md = await producer.send(records);
    const { producerId, epoch } = producer.producerId;
    line('a ' + p + ' ' + id + ' ' + md[0].offset + ' ' + producerId + ' ' + epoch);
    if (rnd() < 0.5) await new Promise((r) => setImmediate(r));
  }
}
for (let i = 0; i < arg.senders; i++) sender().catch((err) => fatal('sender', err));
`;

interface Send {
  id: string;
  n: number;
}

export interface ProducerChainConfig {
  seed: number;
  cycles: number;
  partitions: number;
  acks: 'written' | 'durable';
  named: boolean;
  compression: 'none' | 'lz4';
  senders: number;
  maxRecords: number;
}

const PRODUCER_STORE_DEFAULTS = { segmentBytes: 16 * 1024, maxMessageBytes: 16 * 1024, segmentIndexBytes: 512, indexIntervalBytes: 1024 };

/** Every record value of a partition (as strings) and every batch header, oldest first. */
function readPartition(store: Store, p: number): { values: string[]; headers: BatchHeader[] } {
  const values: string[] = [];
  const headers: BatchHeader[] = [];
  // A read-only store has no partition whose directory no writer opened yet
  // (a kill between the commit of createTopic and the first publication of its
  // head): empty.
  if (store.options.readOnly && store.describeTopic('t') && readHead(join(store.dir, `t-${p}`)) === null) return { values, headers };
  const log = store.log('t', p);
  let pos = 0;
  while (pos < log.logEndOffset) {
    const buf = log.readBatches(pos, { maxBytes: 1 << 20 });
    if (buf === null) break;
    for (const b of iterateBatches(buf)) {
      headers.push(b.header);
      pos = b.header.baseOffset + b.header.lastOffsetDelta + 1;
    }
  }
  for (const r of log.readRecords(0, { maxBytes: 64 << 20 })) {
    expect(r.offset, `${log.dir}: offsets are contiguous`).toBe(values.length);
    values.push(r.value === null ? '<null>' : (r.value as Buffer).toString('latin1'));
  }
  return { values, headers };
}

/** The last batch of a partition, as its raw bytes, with its header. */
function lastBatch(store: Store, p: number): { bytes: Buffer; header: BatchHeader } | null {
  const log = store.log('t', p);
  if (log.logEndOffset === 0) return null;
  let pos = log.logStartOffset;
  let last: { bytes: Buffer; header: BatchHeader } | null = null;
  while (pos < log.logEndOffset) {
    const buf = log.readBatches(pos, { maxBytes: 1 << 20 })!;
    for (const b of iterateBatches(buf)) {
      last = { bytes: Buffer.from(b.bytes), header: b.header };
      pos = b.header.baseOffset + b.header.lastOffsetDelta + 1;
    }
  }
  return last;
}

export async function runProducerChain(cfg: ProducerChainConfig) {
  const dir = tempDir('tidelog-kill-producer-');
  const opsDir = tempDir('tidelog-kill-producer-ops-');
  const random = rng(cfg.seed);
  const model: string[][] = Array.from({ length: cfg.partitions }, () => []);
  // Sends of earlier cycles a read-only verification did not see: a prefix of them may still show up.
  const carry: Send[][] = Array.from({ length: cfg.partitions }, () => []);
  // Producer (id, epoch) of every cycle that got one, in order.
  const producers: { producerId: number; epoch: number }[] = [];
  // The next baseSequence each producer must use in each partition.
  const nextSeq = new Map<string, number>();
  const stats = { cycles: 0, killedDuringOpen: 0, acked: 0, unackedPresent: 0, duplicatesRecognised: 0, writerVerifications: 0, carried: 0 };

  for (let cycle = 0; cycle < cfg.cycles; cycle++) {
    const ops = join(opsDir, `ops-${cycle}`);
    writeFileSync(ops, '');
    const duringOpen = cycle % 5 === 4;
    const child = new Child(PRODUCER_CHILD, {
      dir,
      ops,
      seed: cfg.seed * 100 + cycle,
      cycle: `c${cycle}`,
      defaults: PRODUCER_STORE_DEFAULTS,
      partitions: cfg.partitions,
      acks: cfg.acks,
      named: cfg.named,
      compression: cfg.compression,
      senders: cfg.senders,
      maxRecords: cfg.maxRecords,
    });
    if (duringOpen) {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 250)));
    } else {
      expect(await child.next(), child.stderr).toEqual({ ready: true });
      await new Promise((r) => setTimeout(r, 30 + Math.floor(random() * 300)));
    }
    child.kill();
    const exit = await child.exited;
    if (exit.signal !== 'SIGKILL') throw new Error(`cycle ${cycle}: the child exited by itself (code ${exit.code}): ${child.stderr}`);
    stats.cycles++;

    // What the child did, per partition.
    const sends: Send[][] = Array.from({ length: cfg.partitions }, () => []);
    const acks = new Map<string, { offset: number; producerId: number; epoch: number }>();
    const lines = readFileSync(ops, 'utf8').split('\n');
    lines.pop(); // '' after the last newline, or a line the kill cut short
    for (const l of lines) {
      const f = l.split(' ');
      if (f[0] === 's') sends[Number(f[1])].push({ id: f[2], n: Number(f[3]) });
      else if (f[0] === 'a') acks.set(f[2], { offset: Number(f[3]), producerId: Number(f[4]), epoch: Number(f[5]) });
      else throw new Error(`cycle ${cycle}: unknown op line ${JSON.stringify(l)}`);
    }
    if (lines.length === 0) stats.killedDuringOpen++;
    const mine = acks.size > 0 ? [...acks.values()][0] : null;
    if (mine) {
      for (const a of acks.values()) expect({ producerId: a.producerId, epoch: a.epoch }).toEqual({ producerId: mine.producerId, epoch: mine.epoch });
      const prev = producers.at(-1);
      if (prev && cfg.named) {
        expect(mine.producerId, 'a named producer keeps its id').toBe(prev.producerId);
        expect(mine.epoch, 'and gets a higher epoch after a kill').toBeGreaterThan(prev.epoch);
      } else if (prev) {
        expect(mine.producerId, 'an unnamed producer never reuses an id (the counter was durable)').toBeGreaterThan(prev.producerId);
      }
      producers.push({ producerId: mine.producerId, epoch: mine.epoch });
    }

    // Producers known from their batches only (their sends were not acknowledged).
    const unacked: { producerId: number; epoch: number }[] = [];
    const asWriter = cycle % 3 === 2 || cycle === cfg.cycles - 1;
    const label = `cycle ${cycle} (${asWriter ? 'writer' : 'read-only'} verification; the child's last ops: ${lines.slice(-3).join(' | ') || 'none'})`;
    await keepOnFailure(dir, label, async () => {
      const store = await Store.open(dir, asWriter ? { defaults: PRODUCER_STORE_DEFAULTS } : { readOnly: true });
      try {
        if (!store.hasTopic('t')) {
          // Killed before the topic was created: nothing may have been sent.
          expect(sends.flat(), `cycle ${cycle}: sends without a topic`).toEqual([]);
          return;
        }
        expect(store.describeTopic('t').partitions).toBe(cfg.partitions);
        if (asWriter) stats.writerVerifications++;
        for (let p = 0; p < cfg.partitions; p++) {
          const where = `cycle ${cycle}, partition ${p}`;
          const { values, headers } = readPartition(store, p);
          const before = model[p];
          expect(values.length, `${where}: nothing written before is lost`).toBeGreaterThanOrEqual(before.length);
          for (let i = 0; i < before.length; i++) {
            if (values[i] !== before[i]) expect.fail(`${where}: record ${i} changed from ${before[i].slice(0, 30)} to ${values[i].slice(0, 30)}`);
          }
          // The tail: a prefix of the carried sends, then a prefix of this cycle's sends, whole and in order.
          let at = before.length;
          const take = (list: Send[]): number => {
            let k = 0;
            for (; k < list.length; k++) {
              const s = list[k];
              if (at + s.n > values.length) break;
              let whole = true;
              for (let i = 0; i < s.n && whole; i++) whole = values[at + i] === valueFor(s.id, i).toString('latin1');
              if (!whole) {
                // A send is one batch: all of it or none; a part of it is a failure.
                if (values[at].startsWith(`${s.id}/`)) expect.fail(`${where}: send ${s.id} is in the log only in part`);
                break;
              }
              const ack = acks.get(s.id);
              if (ack) expect(ack.offset, `${where}: send ${s.id} is at its acknowledged offset`).toBe(at);
              else stats.unackedPresent++;
              at += s.n;
            }
            return k;
          };
          // (Carried sends not in the log now were never written: the rest of them is lost.)
          const fromCarry = take(carry[p]);
          stats.carried += fromCarry;
          const taken = take(sends[p]);
          if (at !== values.length) {
            expect.fail(`${where}: ${values.length - at} records after offset ${at} are no send of the producers (${values[at].slice(0, 40)})`);
          }
          for (let k = taken; k < sends[p].length; k++) {
            expect(acks.has(sends[p][k].id), `${where}: acknowledged send ${sends[p][k].id} is missing`).toBe(false);
          }
          stats.acked += sends[p].slice(0, taken).filter((s) => acks.has(s.id)).length;
          // What a read-only view did not show may be in the file, unpublished
          // (killed between the write and the head update): carry it to the next
          // verification. A child that got to send has recovered the log, which
          // settles what was carried before it.
          const settled = lines.length > 0 ? [] : carry[p].slice(fromCarry);
          carry[p] = asWriter ? [] : [...settled, ...sends[p].slice(taken)];
          model[p] = values;

          // Idempotence in the headers: consecutive sequences from 0 per
          // producer (id and epoch) and partition: nothing twice, nothing skipped.
          for (const h of headers.filter((h) => h.baseOffset >= before.length)) {
            const id = { producerId: h.producerId, epoch: h.producerEpoch };
            const known = [...producers, ...unacked].some((x) => x.producerId === id.producerId && x.epoch === id.epoch);
            if (!known) unacked.push(id);
            const key = `${h.producerId}/${h.producerEpoch}/${p}`;
            const want = nextSeq.get(key) ?? 0;
            expect(h.baseSequence, `${where}: batch at ${h.baseOffset} of producer ${key}`).toBe(want);
            nextSeq.set(key, want + h.lastOffsetDelta + 1);
          }
        }
        if (asWriter && producers.length > 0) {
          // The newest producer's last batch, appended again, is recognised: the producer state survived.
          const newest = producers.at(-1)!;
          for (let p = 0; p < cfg.partitions; p++) {
            const last = lastBatch(store, p);
            if (!last || last.header.producerId !== newest.producerId || last.header.producerEpoch !== newest.epoch) continue;
            const end = store.log('t', p).logEndOffset;
            const r = await store.partition('t', p).appendBatches(last.bytes);
            expect(r.batches[0], `cycle ${cycle}, partition ${p}: a retry of the last batch`).toMatchObject({
              baseOffset: last.header.baseOffset,
              duplicate: true,
            });
            expect(store.log('t', p).logEndOffset).toBe(end);
            stats.duplicatesRecognised++;
          }
        }
      } finally {
        await store.close();
      }
    });
  }
  return { stats, records: model.reduce((n, m) => n + m.length, 0), dirs: [dir, opsDir] };
}


// ---- topics ------------------------------------------------------------------

const TOPIC_STORE_DEFAULTS = { segmentBytes: 1024, maxMessageBytes: 1024, segmentIndexBytes: 128, indexIntervalBytes: 256 };

const TOPIC_CHILD = `
import { openSync, writeSync } from 'node:fs';
const { Store } = tidelog;
let x = arg.seed >>> 0;
const rnd = () => { x = (x + 0x6d2b79f5) >>> 0; let t = Math.imul(x ^ (x >>> 15), x | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const fd = openSync(arg.ops, 'a');
const log = (s) => writeSync(fd, s + '\\n');
const store = await Store.open(arg.dir, { defaults: arg.defaults });
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
const producer = store.producer({ acks: 'written' });
const id = () => Math.floor(rnd() * 2 ** 32).toString(36);
// A topic's incarnation: read back from its first record, or new.
const incOf = (t) => {
  for (let p = 0; p < store.describeTopic(t).partitions; p++) {
    const r = store.log(t, p).readRecords(0, { maxRecords: 1 })[0];
    if (r) return r.value.toString().split('/')[0];
  }
  return null;
};
const incs = new Map();
async function send(t, p) {
  const inc = incs.get(t) ?? incOf(t) ?? id();
  incs.set(t, inc);
  const from = store.log(t, p).logEndOffset;
  const n = 1 + Math.floor(rnd() * 12);
  const records = [];
  for (let i = 0; i < n; i++) records.push({ topic: t, partition: p, value: inc + '/' + t + '/' + p + '/' + (from + i) + '/' + 'v'.repeat(Math.floor(rnd() * 60)) });
  log('B send ' + t + ' ' + p + ' ' + from + ' ' + n);
  const md = await producer.send(records);
  if (md[0].offset !== from) throw new Error('send at ' + md[0].offset + ', expected ' + from);
  log('E');
}
for (;;) {
  const t = 't' + Math.floor(rnd() * 3);
  if (!store.hasTopic(t)) {
    const n = 1 + Math.floor(rnd() * 3);
    log('B create ' + t + ' ' + n);
    await store.createTopic(t, { partitions: n });
    incs.delete(t);
    log('E');
  } else {
    const r = rnd();
    const n = store.describeTopic(t).partitions;
    if (r < 0.12) {
      log('B delete ' + t);
      await store.deleteTopic(t);
      incs.delete(t);
      log('E');
    } else if (r < 0.2 && n < 6) {
      log('B grow ' + t + ' ' + (n + 1));
      await store.createPartitions(t, n + 1);
      log('E');
    } else {
      await send(t, Math.floor(rnd() * n));
    }
  }
}
`;

/** Per topic: its partition count and, per partition, the first bytes (up to the padding) of each record. */
type Model = Map<string, { partitions: number; records: string[][] }>;

function clone(m: Model): Model {
  return new Map([...m].map(([t, v]) => [t, { partitions: v.partitions, records: v.records.map((r) => [...r]) }]));
}

/** Applies one operation; `values` gives the record values a send wrote (from the store that holds them). */
function apply(m: Model, op: string[], values: (t: string, p: number, from: number, n: number) => string[]): void {
  const [kind, t] = op;
  if (kind === 'create') {
    const n = Number(op[2]);
    m.set(t, { partitions: n, records: Array.from({ length: n }, () => []) });
  } else if (kind === 'delete') {
    m.delete(t);
  } else if (kind === 'grow') {
    const e = m.get(t)!;
    for (let p = e.partitions; p < Number(op[2]); p++) e.records.push([]);
    e.partitions = Number(op[2]);
  } else if (kind === 'send') {
    const [p, from, n] = [Number(op[2]), Number(op[3]), Number(op[4])];
    const rec = m.get(t)!.records[p];
    expect(from, `send ${op.join(' ')} starts at the partition's end`).toBe(rec.length);
    rec.push(...values(t, p, from, n));
  } else {
    throw new Error(`unknown op ${op.join(' ')}`);
  }
}

/** The record values as the test reads them: "<inc>/<topic>/<partition>/<offset>". */
const key = (v: string) => v.split('/').slice(0, 4).join('/');

function observe(store: Store): Model {
  const m: Model = new Map();
  for (const t of store.listTopics()) {
    const n = store.describeTopic(t).partitions;
    const records: string[][] = [];
    for (let p = 0; p < n; p++) {
      const dir = join(store.dir, `${t}-${p}`);
      // Read-only: a partition no writer has opened yet (killed between the commit and its head's first publication) is empty.
      if (store.options.readOnly && readHead(dir) === null) {
        records.push([]);
        continue;
      }
      records.push(store.log(t, p).readRecords(0, { maxBytes: 64 << 20 }).map((r) => key(r.value!.toString())));
    }
    m.set(t, { partitions: n, records });
  }
  return m;
}

function differs(obs: Model, want: Model): string | null {
  const a = [...obs.keys()].sort().join();
  const b = [...want.keys()].sort().join();
  if (a !== b) return `topics [${a}] != [${b}]`;
  for (const [t, w] of want) {
    const o = obs.get(t)!;
    if (o.partitions !== w.partitions) return `${t}: ${o.partitions} partitions != ${w.partitions}`;
    for (let p = 0; p < w.partitions; p++) {
      if (o.records[p].join() !== w.records[p].join()) {
        return `${t}-${p}: ${o.records[p].length} records [${o.records[p].slice(-2)}] != ${w.records[p].length} [${w.records[p].slice(-2)}]`;
      }
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `cycles` children one after the other in one store, killing each at a
 * random moment, and checks the store after each kill (see the header).
 */
export async function runTopicChain(cfg: { seed: number; cycles: number }) {
  const dir = tempDir('tidelog-kill-topics-');
  const opsDir = tempDir('tidelog-kill-topics-ops-');
  const random = rng(cfg.seed);
  let model: Model = new Map();
  const stats = { inFlight: 0, deletes: 0, sends: 0, killedDuringOpen: 0 };
  for (let cycle = 0; cycle < cfg.cycles; cycle++) {
    const ops = join(opsDir, `ops-${cycle}`);
    writeFileSync(ops, '');
    const child = new Child(TOPIC_CHILD, { dir, ops, seed: cfg.seed * 100 + cycle, defaults: TOPIC_STORE_DEFAULTS });
    if (cycle % 4 === 3) {
      await sleep(Math.floor(random() * 200));
    } else {
      expect(await child.next(), child.stderr).toEqual({ ready: true });
      await sleep(20 + Math.floor(random() * 250));
    }
    child.kill();
    const exit = await child.exited;
    if (exit.signal !== 'SIGKILL') throw new Error(`cycle ${cycle}: the child exited by itself (code ${exit.code}): ${child.stderr}`);

    const lines = readFileSync(ops, 'utf8').split('\n');
    lines.pop();
    // A read-only view shows what the writer published: a send in flight may
    // be in the file but not yet published, which only a writer's open
    // (recovery) tells. Metadata changes are atomic renames: a reader sees
    // them as they are. But a partition directory whose writer was killed
    // while opening it for the first time (a create or grow in flight, or an
    // open that creates the partitions of an interrupted create) may have no
    // head file yet, or an unpublished one: a read-only Store.open shows such
    // a partition empty. A send in flight is verified by a writer.
    const last = lines.length > 0 ? lines[lines.length - 1] : '';
    const risky = /^B send/.test(last);
    const asWriter = cycle % 2 === 0 || cycle === cfg.cycles - 1 || risky;
    const label = `cycle ${cycle} (${asWriter ? 'writer' : 'read-only'} verification; the child's last ops: ${lines.slice(-3).join(' | ') || 'none'})`;
    await keepOnFailure(dir, label, async () => {
      const store = await Store.open(dir, asWriter ? { defaults: TOPIC_STORE_DEFAULTS } : { readOnly: true });
      try {
        // Replay the ops; sends take their values from what the store holds (checked below).
        const observed = observe(store);
        const values = (t: string, p: number, from: number, n: number) =>
          Array.from({ length: n }, (_, i) => observed.get(t)?.records[p]?.[from + i] ?? `missing ${t}/${p}/${from + i}`);
        if (lines.length === 0) stats.killedDuringOpen++;
        let inFlight: string[] | null = null;
        const before = model;
        for (const l of lines) {
          if (l.startsWith('B ')) inFlight = l.slice(2).split(' ');
          else if (l === 'E') {
            apply(before, inFlight!, values);
            if (inFlight![0] === 'delete') stats.deletes++;
            if (inFlight![0] === 'send') stats.sends++;
            inFlight = null;
          } else throw new Error(`unknown op line ${l}`);
        }
        let after: Model | null = null;
        if (inFlight !== null) {
          after = clone(before);
          apply(after, inFlight, values);
        }
        // Every record's value names its incarnation, topic, partition and offset.
        for (const [t, e] of observed) {
          e.records.forEach((recs, p) =>
            recs.forEach((v, o) => expect(v.split('/').slice(1).join('/'), `record ${o} of ${t}-${p}`).toBe(`${t}/${p}/${o}`)),
          );
        }
        const whyNotBefore = differs(observed, before);
        const whyNotAfter = after === null ? 'no operation in flight' : differs(observed, after);
        if (whyNotBefore !== null && whyNotAfter !== null) {
          expect.fail(`cycle ${cycle}: neither the old state (${whyNotBefore}) nor the new one (${whyNotAfter})`);
        }
        model = whyNotBefore === null ? before : after!;
        if (after !== null) stats.inFlight++;
        // One incarnation per topic: a deleted one never comes back.
        for (const [t, e] of observed) {
          const incs = new Set(e.records.flat().map((v) => v.split('/')[0]));
          expect(incs.size, `${t} holds records of ${[...incs]}`).toBeLessThanOrEqual(1);
        }
        if (asWriter) {
          // A writer finishes interrupted deletions at open: nothing is left of deleted topics.
          expect(JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8')).deleting).toEqual({});
          const dirs = readdirSync(dir).filter((n) => /-\d+$/.test(n)).sort();
          const want = [...model].flatMap(([t, e]) => Array.from({ length: e.partitions }, (_, p) => `${t}-${p}`)).sort();
          expect(dirs, `cycle ${cycle}: partition directories`).toEqual(want);
        }
      } finally {
        await store.close();
      }
    });
  }
  let records = 0;
  for (const e of model.values()) records += e.records.flat().length;
  return { stats, records, dirs: [dir, opsDir] };
}
