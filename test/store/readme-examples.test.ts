/**
 * The README's code examples run as written. Each ```js block preceded by an
 * `<!-- example: name -->` marker is copied, byte for byte, into a scratch
 * directory (where `tidelog` resolves to this package's dist/ through a
 * node_modules symlink) and run with node, with that directory as the working
 * directory (the examples use `./data`). Each test then checks what the
 * example printed and what it left on disk. Output an example shows in
 * `// → ...` comments must be exactly what it prints.
 *
 * The "Crash-testing your service" example is run by
 * test/testing/readme-example.test.ts; every other ```js block of the README
 * must carry a marker and be run here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, Store, partitionForKey, readBatchHeader, verifyLog } from '../../src/index.js';
import { ROOT, ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';

beforeAll(() => ensureDist(), 120_000);

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const MARKED = /<!-- example: ([a-z0-9-]+) -->\n```js\n([\s\S]*?)```/g;

/** The marked examples of the README, by name. */
function examples(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of README.matchAll(MARKED)) {
    expect(out.has(m[1]), `example name ${m[1]} is used twice`).toBe(false);
    out.set(m[1], m[2]);
  }
  return out;
}

function example(name: string): string {
  const code = examples().get(name);
  expect(code, `README example "${name}"`).toBeDefined();
  return code!;
}

/** A scratch directory in which `import ... from 'tidelog'` loads this package. */
function scratch(): string {
  const dir = tempDir('tidelog-readme-examples-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'tidelog'), 'dir');
  return dir;
}

/** Runs the example `name` as `<name>.mjs` in `dir`; its stdout lines. */
function run(dir: string, name: string, expectStatus = 0): string[] {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, example(name));
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status, r.stdout).toBe(expectStatus);
  return r.stdout.split('\n').slice(0, -1);
}

/** The output the example shows in comments: `// → line` and the `//   line`s right after it. */
function shownOutput(code: string): string[] {
  const out: string[] = [];
  let inOutput = false;
  for (const line of code.split('\n')) {
    const arrow = line.indexOf('// → ');
    if (arrow >= 0) {
      out.push(line.slice(arrow + 5));
      inOutput = true;
    } else if (inOutput && /^\s*\/\/ {3}/.test(line)) {
      out.push(line.replace(/^\s*\/\/ {3}/, ''));
    } else {
      inOutput = false;
    }
  }
  return out;
}

describe('README examples', () => {
  it('every ```js block outside "Crash-testing your service" is a marked example', () => {
    const start = README.indexOf('## Crash-testing your service\n');
    const end = README.indexOf('\n## ', start + 1);
    expect(start).toBeGreaterThanOrEqual(0);
    const outside = README.slice(0, start) + README.slice(end);
    const fences = outside.match(/```js\n/g)?.length ?? 0;
    expect([...examples().keys()].sort()).toEqual(['event-sourcing', 'log', 'store', 'verify']);
    expect(fences).toBe(examples().size);
  });

  it('log: the quick start appends two records durably and reads them back', async () => {
    const dir = scratch();
    const out = run(dir, 'log');
    expect(out.slice(0, 2)).toEqual(['0 order-1 {"total":12}', '1 order-2 {"total":30}']);
    const log = await Log.open(join(dir, 'data', 'orders-0'), { readOnly: true });
    try {
      expect(log.logEndOffset).toBe(2);
      expect(log.durableOffset).toBe(2);
      const r = log.get(1)!;
      expect(r.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['source', 'web']]);
    } finally {
      await log.close();
    }
    expect((await verifyLog(join(dir, 'data', 'orders-0'))).ok).toBe(true);
  });

  it('store and verify: keyed records land on Kafka partitions, lz4 and idempotent; verifyStore finds damage', async () => {
    const dir = scratch();
    // Twice: the second run finds the topic (hasTopic) and appends after the first run's records.
    const runs = [run(dir, 'store'), run(dir, 'store')];
    const sent: { key: string; value: string; partition: number; offset: number }[] = [];
    for (const out of runs) {
      expect(out).toHaveLength(2);
      const first = /^orders-(\d+)@(\d+): customer-42 (\{"total":12\})$/.exec(out[0]);
      expect(first, out[0]).not.toBeNull();
      sent.push({ key: 'customer-42', value: first![3], partition: Number(first![1]), offset: Number(first![2]) });
      const many = out[1].split(' ').map((s) => /^orders-(\d+)@(\d+)$/.exec(s));
      expect(many.every((m) => m !== null), out[1]).toBe(true);
      sent.push({ key: 'customer-7', value: '{"total":30}', partition: Number(many[0]![1]), offset: Number(many[0]![2]) });
      sent.push({ key: 'customer-9', value: '{"total":5}', partition: Number(many[1]![1]), offset: Number(many[1]![2]) });
    }
    const store = await Store.open(join(dir, 'data'), { readOnly: true });
    try {
      const d = store.describeTopic('orders');
      expect(d.partitions).toBe(8);
      expect(d.overrides).toEqual({ segmentBytes: 64 * 1024 * 1024 });
      for (const s of sent) {
        expect(s.partition).toBe(partitionForKey(s.key, 8)); // Kafka's murmur2 partitioning
        const log = store.log('orders', s.partition);
        const r = log.get(s.offset)!;
        expect([r.key?.toString(), r.value?.toString()]).toEqual([s.key, s.value]);
        if (s.key === 'customer-9') expect(r.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['source', 'web']]);
        const h = readBatchHeader(log.readBatches(s.offset)!);
        expect(h.compression).toBe(3); // lz4
        expect(h.producerId).toBeGreaterThanOrEqual(0); // idempotent by default
        expect(log.durableOffset).toBeGreaterThan(s.offset); // acks 'durable'
      }
      // The second run appended after the first on each partition it shared.
      for (const i of [0, 1, 2]) {
        if (sent[i].partition === sent[i + 3].partition) expect(sent[i + 3].offset).toBeGreaterThan(sent[i].offset);
      }
    } finally {
      await store.close();
    }

    // verify: a sound store is ok, exit code 0.
    const ok = run(dir, 'verify');
    expect(ok).toEqual([expect.stringMatching(/^ok: 6 records in \d+ batches, \d+ bytes$/)]);

    // One flipped byte in the records of the batch holding customer-42's first record: reported, exit code 1.
    const target = sent[0];
    const file = join(dir, 'data', `orders-${target.partition}`, '00000000000000000000.log');
    const bytes = readFileSync(file);
    let pos = 0;
    let base = -1;
    for (;;) {
      const h = readBatchHeader(bytes, pos);
      if (h.baseOffset + h.lastOffsetDelta >= target.offset) {
        base = h.baseOffset;
        break;
      }
      pos += 12 + h.batchLength;
    }
    const last = pos + 12 + readBatchHeader(bytes, pos).batchLength - 1;
    bytes[last] ^= 0xff;
    writeFileSync(file, bytes);
    const damaged = run(dir, 'verify', 1);
    expect(damaged[0]).toMatch(/^DAMAGED: /);
    expect(damaged).toHaveLength(2);
    expect(damaged[1].startsWith(`orders-${target.partition} ${file} position ${pos} offset ${base}: `), damaged[1]).toBe(true);
    expect(damaged[1]).toMatch(/CRC-32C mismatch/);
  });

  it('event-sourcing: concurrent commands conflict, reload and decide again; no lost update', async () => {
    const dir = scratch();
    const code = example('event-sourcing');
    const out = run(dir, 'event-sourcing');
    const shown = shownOutput(code);
    expect(shown.length).toBeGreaterThan(0);
    expect(out).toEqual(shown);
    const conflicts = Number(/^(\d+) conflicts, retried$/.exec(out[out.length - 1])?.[1]);
    expect(conflicts).toBeGreaterThan(0);

    // What is in the log: the events of every accepted command, and a balance that never went negative.
    const store = await Store.open(join(dir, 'data'), { readOnly: true });
    try {
      const partition = partitionForKey('alice', 4);
      const events = store
        .log('accounts', partition)
        .readRecords(0)
        .map((r) => JSON.parse(r.value!.toString()) as { type: string; amount: number });
      expect(events[0]).toEqual({ type: 'deposited', amount: 100 });
      const balances: number[] = [];
      let balance = 0;
      for (const e of events) balances.push((balance += e.type === 'deposited' ? e.amount : -e.amount));
      expect(balances.every((b) => b >= 0)).toBe(true);
      // Each accepted withdrawal printed the balance its event leads to; refusals wrote nothing.
      const accepted = out.filter((l) => l.startsWith('ok, balance ')).map((l) => Number(l.slice('ok, balance '.length)));
      expect(balances.slice(1)).toEqual(accepted);
      expect(events.length - 1 + out.filter((l) => l.startsWith('refused: insufficient funds')).length).toBe(3);
      // Three commands that all loaded the same end offset: only one could append without a conflict.
      expect(conflicts).toBeGreaterThanOrEqual(events.length - 2);
    } finally {
      await store.close();
    }
  });
});
