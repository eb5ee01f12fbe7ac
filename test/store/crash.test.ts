/**
 * Topic creation, growth and deletion interrupted by kill -9 leave a
 * consistent store: the old state or the new one, never a half topic.
 *
 * A child process creates, grows and deletes topics in a tight loop and
 * appends into every partition it makes one record whose value is the topic's
 * incarnation id (fresh per createTopic). Before and after each operation it
 * logs a line to an ops file (O_APPEND, writeSync: a kill loses nothing that
 * was logged). It is killed with SIGKILL at a random moment; the parent
 * replays the log into a model and checks that the reopened store equals the
 * model either without or with the one operation that was in flight:
 * same topics, same partition counts, every completed append still there and
 * no record of any other incarnation (no deleted data comes back).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { Child, ensureDist, rng } from '../log/util.js';

beforeAll(() => ensureDist(), 120_000);

const CHILD = `
import { openSync, writeSync } from 'node:fs';
const { Store } = tidelog;
const store = await Store.open(arg.dir);
const fd = openSync(arg.ops, 'a');
const log = (s) => writeSync(fd, s + '\\n');
const id = () => Math.random().toString(36).slice(2, 10);
const incOf = (t) => {
  for (let p = 0; p < store.describeTopic(t).partitions; p++) {
    const r = store.log(t, p).readRecords(0, { maxRecords: 1 })[0];
    if (r) return r.value.toString();
  }
  return id();
};
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
for (;;) {
  const name = 't' + Math.floor(Math.random() * 4);
  if (!store.listTopics().includes(name)) {
    const n = 1 + Math.floor(Math.random() * 3);
    log('B create ' + name + ' ' + n);
    await store.createTopic(name, { partitions: n });
    log('E');
    const inc = id();
    for (let p = 0; p < n; p++) {
      log('B append ' + name + ' ' + p + ' ' + inc);
      await store.log(name, p).append({ value: inc });
      log('E');
    }
  } else if (Math.random() < 0.5) {
    log('B delete ' + name);
    await store.deleteTopic(name);
    log('E');
  } else if (store.describeTopic(name).partitions < 5) {
    const n = store.describeTopic(name).partitions;
    const inc = incOf(name);
    log('B grow ' + name + ' ' + (n + 1));
    await store.createPartitions(name, n + 1);
    log('E');
    log('B append ' + name + ' ' + n + ' ' + inc);
    await store.log(name, n).append({ value: inc });
    log('E');
  }
}
`;

interface ModelTopic {
  partitions: number;
  inc: string | null;
  /** Partitions holding the topic's one record. */
  written: Set<number>;
}
type Model = Map<string, ModelTopic>;

function clone(m: Model): Model {
  return new Map([...m].map(([t, v]) => [t, { ...v, written: new Set(v.written) }]));
}

function apply(m: Model, op: string[]): void {
  const [kind, t] = op;
  if (kind === 'create') m.set(t, { partitions: Number(op[2]), inc: null, written: new Set() });
  else if (kind === 'delete') m.delete(t);
  else if (kind === 'grow') m.get(t)!.partitions = Number(op[2]);
  else if (kind === 'append') {
    const e = m.get(t)!;
    e.inc ??= op[3];
    e.written.add(Number(op[2]));
  } else throw new Error(`unknown op ${op.join(' ')}`);
}

/** The model after the completed ops, and with the in-flight one applied too (or null). */
function replay(opsFile: string, model: Model): { before: Model; after: Model | null } {
  let inFlight: string[] | null = null;
  let text = '';
  try {
    text = readFileSync(opsFile, 'utf8');
  } catch {}
  for (const line of text.split('\n')) {
    if (line.startsWith('B ')) inFlight = line.slice(2).split(' ');
    else if (line === 'E') {
      apply(model, inFlight!);
      inFlight = null;
    }
  }
  if (inFlight === null) return { before: model, after: null };
  const after = clone(model);
  apply(after, inFlight);
  return { before: model, after };
}

/** The store's state in the model's terms, plus the problems that no model allows. */
function observe(store: Store, dir: string) {
  const state = new Map<string, { partitions: number; values: Map<number, string[]> }>();
  for (const t of store.listTopics()) {
    const n = store.describeTopic(t).partitions;
    const values = new Map<number, string[]>();
    for (let p = 0; p < n; p++) values.set(p, store.log(t, p).readRecords(0).map((r) => r.value!.toString()));
    state.set(t, { partitions: n, values });
  }
  const dirs = readdirSync(dir)
    .filter((n) => /-\d+$/.test(n) && !n.startsWith('.'))
    .sort();
  return { state, dirs };
}

function matches(obs: ReturnType<typeof observe>, m: Model): string | null {
  const names = [...obs.state.keys()].sort();
  const want = [...m.keys()].sort();
  if (names.join() !== want.join()) return `topics ${names} != ${want}`;
  const dirs = want.flatMap((t) => Array.from({ length: m.get(t)!.partitions }, (_, p) => `${t}-${p}`)).sort();
  if (obs.dirs.join() !== dirs.join()) return `directories ${obs.dirs} != ${dirs}`;
  for (const t of want) {
    const e = m.get(t)!;
    const o = obs.state.get(t)!;
    if (o.partitions !== e.partitions) return `${t}: ${o.partitions} partitions != ${e.partitions}`;
    for (let p = 0; p < e.partitions; p++) {
      const vals = o.values.get(p)!;
      const expected = e.written.has(p) ? [e.inc] : [];
      if (vals.join() !== expected.join()) return `${t}-${p}: records ${vals} != ${expected}`;
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('topic changes killed at random points', () => {
  it('leave the old or the new state, never a half topic', async () => {
    const dir = tempDir();
    const ops = join(tempDir(), 'ops');
    const random = rng(20240611);
    let model: Model = new Map();
    let inFlightKills = 0;
    for (let cycle = 0; cycle < 24; cycle++) {
      const child = new Child(CHILD, { dir, ops });
      expect(await child.next()).toEqual({ ready: true });
      await sleep(5 + Math.floor(random() * 60));
      child.kill();
      const exit = await child.exited;
      if (exit.signal !== 'SIGKILL') throw new Error(`child exited by itself (code ${exit.code}): ${child.stderr}`);
      const { before, after } = replay(ops, model);
      const store = await Store.open(dir);
      try {
        expect(JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8')).deleting).toEqual({});
        const obs = observe(store, dir);
        const whyNotBefore = matches(obs, before);
        const whyNotAfter = after === null ? 'no operation in flight' : matches(obs, after);
        if (whyNotBefore !== null && whyNotAfter !== null) {
          throw new Error(`cycle ${cycle}: the store is neither the old state (${whyNotBefore}) nor the new one (${whyNotAfter})`);
        }
        model = whyNotBefore === null ? before : after!;
        if (after !== null) inFlightKills++;
      } finally {
        await store.close();
      }
      // The next child starts from what the store holds; the ops file restarts.
      (await import('node:fs')).writeFileSync(ops, '');
    }
    // Most kills landed inside an operation.
    expect(inFlightKills).toBeGreaterThan(12);
  });
});

describe('two processes owning different topics of one store', () => {
  const CHILD = `
import { createInterface } from 'node:readline';
const { Store } = tidelog;
const store = await Store.open(arg.dir);
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
out({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  try {
    if (cmd.create) {
      for (const t of cmd.create) await store.createTopic(t, { partitions: 2 });
      out({ ok: true, topics: store.listTopics() });
    } else if (cmd.delete) {
      await store.deleteTopic(cmd.delete);
      out({ ok: true, topics: store.listTopics() });
    }
  } catch (err) {
    out({ error: err.name, message: err.message });
  }
}
await store.close();
`;

  it('serialise their metadata changes (no lost update) and cannot delete each other’s topics', async () => {
    const dir = tempDir();
    const a = new Child(CHILD, { dir });
    const b = new Child(CHILD, { dir });
    expect(await a.next()).toEqual({ ready: true });
    expect(await b.next()).toEqual({ ready: true });
    const names = (p: string) => Array.from({ length: 6 }, (_, i) => `${p}${i}`);
    const [ra, rb] = await Promise.all([a.request({ create: names('a') }), b.request({ create: names('b') })]);
    expect(ra).toMatchObject({ ok: true, topics: names('a') });
    expect(rb).toMatchObject({ ok: true, topics: names('b') });
    const meta = JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8'));
    expect(Object.keys(meta.topics).sort()).toEqual([...names('a'), ...names('b')]);
    // b cannot take a's partitions while a runs...
    const refused = await b.request<{ error: string; message: string }>({ delete: 'a0' });
    expect(refused.error).toBe('LogLockedError');
    expect(refused.message).toMatch(/partition a0-\d of store/);
    expect((await a.end()).code).toBe(0);
    // ...and can once a has closed.
    expect(await b.request({ delete: 'a0' })).toMatchObject({ ok: true });
    expect((await b.end()).code).toBe(0);
    const store = await Store.open(dir);
    try {
      expect(store.listTopics()).toEqual([...names('a').slice(1), ...names('b')]);
    } finally {
      await store.close();
    }
  });
});
