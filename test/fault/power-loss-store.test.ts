/**
 * Power loss under a Store: a producer sends `durable` records to a topic of
 * three partitions, the store reaches a sync point (every send acknowledged:
 * `old` is pictured), then the producer sends `written` records (segments roll,
 * producer-state snapshots are written, nothing is synced) and stops: `new`.
 * Every crash state of the whole store directory (power-loss-states.ts:
 * segment pages and sizes, checkpoints, producer snapshots, topics.json) is
 * reopened as a Store: it must open by itself; each partition must hold every
 * durable record and nothing but a prefix of what was sent, byte for byte;
 * verifyStore finds nothing wrong; and a new producer's sends continue each
 * partition where it ends.
 */
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/index.js';
import { verifyStore } from '../../src/testing/index.js';
import { rng } from '../crash/util.js';
import { type CrashState, type Picture, crashState, describeChange, materialize, picture, removeTree, scratchDir } from './power-loss-states.js';

const BASE_SEED = Number(process.env.TIDELOG_POWER_LOSS_SEED ?? 7);
const TOPIC = 'events';
const PARTITIONS = 3;
const TOPIC_CONFIG = { segmentBytes: 16 * 1024, indexIntervalBytes: 512, segmentIndexBytes: 4096 };
const PAGE_STATES = 9;

/** The value sent as record `i` of a run: its size varies, so batches cross pages. */
function valueOf(seed: number, i: number): string {
  return `${seed}:${i}:${'abcdefghij'.repeat((i * 37) % 60)}`;
}

interface StoreRun {
  seed: number;
  /** Per partition: the values sent, by offset. */
  sent: string[][];
  /** Per partition: every offset below it was acknowledged durable before the sync point. */
  durableEnd: number[];
  old: Picture;
  now: Picture;
}

async function runStore(seed: number): Promise<StoreRun> {
  const rand = rng(seed);
  const dir = scratchDir('tidelog-plstore-');
  const store = await Store.open(dir);
  try {
    await store.createTopic(TOPIC, { partitions: PARTITIONS, config: TOPIC_CONFIG });
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
    let i = 0;
    const send = async (producer: ReturnType<Store['producer']>, n: number, acks: 'durable' | 'written') => {
      const waits = [];
      for (let k = 0; k < n; k++) {
        const value = valueOf(seed, i);
        waits.push(producer.send({ topic: TOPIC, key: `key-${Math.floor(rand() * 1000)}`, value }, { acks }).then((m) => ({ m, value })));
        i++;
      }
      for (const { m, value } of await Promise.all(waits)) {
        expect(sent[m.partition].length, 'offsets are assigned in send order').toBe(m.offset);
        sent[m.partition].push(value);
      }
    };
    const producer = store.producer({ lingerMs: 0 });
    for (let round = 0; round < 6; round++) await send(producer, 10 + Math.floor(rand() * 30), 'durable');
    const durableEnd = sent.map((s) => s.length);
    for (let p = 0; p < PARTITIONS; p++) expect(store.log(TOPIC, p).durableOffset).toBe(durableEnd[p]);
    const old = picture(dir);
    for (let round = 0; round < 10; round++) await send(producer, 20 + Math.floor(rand() * 40), 'written');
    // Nothing was synced since the sync point (else `old` is not what the disk holds).
    for (let p = 0; p < PARTITIONS; p++) expect(store.log(TOPIC, p).durableOffset).toBe(durableEnd[p]);
    const now = picture(dir);
    return { seed, sent, durableEnd, old, now };
  } finally {
    await store.close();
    removeTree(dir);
  }
}

async function checkStoreState(run: StoreRun, state: CrashState): Promise<{ lost: number }> {
  const dir = scratchDir('tidelog-plstore-state-');
  const label = `store/${state.mode}/${state.seed}`;
  try {
    materialize(state, dir);
    let lost = 0;
    const store = await Store.open(dir);
    try {
      expect(store.listTopics()).toEqual([TOPIC]);
      const ends: number[] = [];
      for (let p = 0; p < PARTITIONS; p++) {
        const log = store.log(TOPIC, p);
        const end = log.logEndOffset;
        const sent = run.sent[p];
        expect(end, `partition ${p}: every durable record survives`).toBeGreaterThanOrEqual(run.durableEnd[p]);
        expect(end, `partition ${p}: nothing that was never sent`).toBeLessThanOrEqual(sent.length);
        const values: string[] = [];
        for (let at = 0; at < end; ) {
          const recs = log.readRecords(at, { maxBytes: 1 << 20 });
          expect(recs.length, `partition ${p}: records at ${at}`).toBeGreaterThan(0);
          for (const r of recs) {
            expect(r.offset).toBe(at);
            values.push(r.value!.toString());
            at++;
          }
        }
        if (values.some((v, o) => v !== sent[o])) {
          const o = values.findIndex((v, k) => v !== sent[k]);
          expect.fail(`partition ${p}: offset ${o} holds ${JSON.stringify(values[o].slice(0, 40))}, sent ${JSON.stringify(sent[o].slice(0, 40))}`);
        }
        lost += sent.length - end;
        ends.push(end);
      }
      // A new producer's sends continue every partition where it ends.
      const producer = store.producer({ acks: 'durable' });
      for (let p = 0; p < PARTITIONS; p++) {
        const m = await producer.send({ topic: TOPIC, partition: p, value: `after-${label}` });
        expect(m.offset, `partition ${p}: the next offset`).toBe(ends[p]);
      }
    } finally {
      await store.close();
    }
    const report = await verifyStore(dir);
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.records).toBe(run.sent.reduce((n, s) => n + s.length, 0) - lost + PARTITIONS);
    return { lost };
  } catch (err) {
    throw new Error(
      `power-loss state ${label} failed: ${(err as Error).message}\n` +
        `  run seed ${run.seed} (replay: TIDELOG_POWER_LOSS_SEED=${BASE_SEED} npx vitest run test/fault/power-loss-store.test.ts)\n` +
        `  durable ends ${run.durableEnd.join(', ')}; changed since the sync point: ${describeChange(run.old, run.now)}`,
      { cause: err },
    );
  } finally {
    removeTree(dir);
  }
}

describe('power loss: crash states of a store with a producer', () => {
  let states = 0;
  let lostSome = 0;
  let snapshotsChanged = 0;
  for (let k = 0; k < 3; k++) {
    const seed = BASE_SEED * 10 + k;
    it(`run ${k} (seed ${seed})`, async () => {
      const run = await runStore(seed);
      const changed = describeChange(run.old, run.now);
      if (/\.snapshot/.test(changed)) snapshotsChanged++;
      const list: CrashState[] = [
        crashState(run.old, run.now, 'synced-absent'),
        crashState(run.old, run.now, 'synced-empty'),
        crashState(run.old, run.now, 'written-back'),
      ];
      for (let i = 0; i < PAGE_STATES; i++) list.push(crashState(run.old, run.now, 'pages', seed * 1000 + i));
      const failures: string[] = [];
      for (const st of list) {
        try {
          const { lost } = await checkStoreState(run, st);
          states++;
          if (lost > 0) lostSome++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
      expect(failures, `${failures.length} of ${list.length} states failed`).toEqual([]);
    });
  }

  it('the states lost unsynced records, and producer snapshots were written after the sync point', () => {
    expect(states).toBe(3 * (PAGE_STATES + 3));
    expect(lostSome).toBeGreaterThan(10);
    expect(snapshotsChanged).toBeGreaterThan(0);
  });
});
