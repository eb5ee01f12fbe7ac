/**
 * Power loss: bytes that were never synced are lost, in any mix the disk could
 * produce (power-loss-states.ts). Each scenario appends `durable` records,
 * reaches a sync point, then appends `written` records (rolling segments,
 * after a truncation, with lz4, ...) and stops. Every crash state of what
 * changed since the sync point is reopened: the log must open by itself, hold
 * every durable record, hold nothing but a prefix of what was written (byte for
 * byte, CRCs valid, no garbage), accept appends, and pass verifyLog.
 *
 * Seeds: TIDELOG_POWER_LOSS_SEED=<n> runs the scenarios from another base seed
 * (a failure prints the seed of its scenario and of its state).
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../crash/util.js';
import { type Scenario, type Tally, checkRun, newTally, runChained, runScenario } from './power-loss-model.js';

const BASE_SEED = Number(process.env.TIDELOG_POWER_LOSS_SEED ?? 7);
const REPLAY = `TIDELOG_POWER_LOSS_SEED=${BASE_SEED} npx vitest run test/fault/power-loss.test.ts`;
const PAGE_STATES = 25; // plus the two `synced` states and `written-back`: 28 per scenario, 9 scenarios

const SMALL = {
  segmentBytes: 16 * 1024,
  maxMessageBytes: 16 * 1024,
  indexIntervalBytes: 512,
  maxIndexBytes: 4096,
};

const scenarios: Scenario[] = [
  {
    name: 'unsynced tail in one segment',
    options: { indexIntervalBytes: 1024, maxIndexBytes: 64 * 1024 },
    run: async (w) => {
      await w.appendMany(120, 'durable');
      await w.syncPoint();
      await w.appendMany(200, 'written');
    },
  },
  {
    name: 'segments roll after the sync point',
    options: SMALL,
    run: async (w) => {
      await w.appendMany(60, 'durable');
      await w.syncPoint();
      await w.appendMany(260, 'written');
    },
  },
  {
    name: 'the first append after the sync point rolls; the checkpoint is at the durable end',
    // checkpointIntervalBytes 1: every sync rewrites the recovery point, so it
    // equals the durable end, which is then the base of the new segment.
    options: { ...SMALL, checkpointIntervalBytes: 1 },
    run: async (w) => {
      // Fill the first segment to within 2.6 KB of segmentBytes (a record is at most ~1 KB).
      while (w.log.segments()[0].sizeBytes < SMALL.segmentBytes - 2600) await w.append(1, 'durable', 'none');
      await w.syncPoint();
      expect(w.log.segments()).toHaveLength(1);
      await w.append(20, 'written', 'none'); // ~9 KB: too large for the rest of the segment, it rolls
      expect(w.log.segments()).toHaveLength(2);
      await w.appendMany(150, 'written');
    },
  },
  {
    name: 'after a truncation',
    options: SMALL,
    run: async (w) => {
      await w.appendMany(200, 'durable');
      await w.truncateTo(Math.floor(w.end * 0.4) + 3);
      await w.appendMany(40, 'durable');
      await w.syncPoint();
      await w.appendMany(150, 'written');
    },
  },
  {
    name: 'group commit, then lz4 batches larger than a page',
    options: { ...SMALL, segmentBytes: 64 * 1024, maxMessageBytes: 64 * 1024, checkpointIntervalBytes: 8 * 1024 },
    run: async (w) => {
      for (let i = 0; i < 4; i++) await w.appendConcurrently(6);
      await w.syncPoint();
      for (let i = 0; i < 14; i++) await w.append(30 + Math.floor(w.rand() * 40), 'written', w.rand() < 0.5 ? 'lz4' : 'none');
    },
  },
  {
    name: 'empty log at the sync point',
    options: SMALL,
    run: async (w) => {
      await w.syncPoint();
      await w.appendMany(150, 'written');
    },
  },
  {
    name: 'a few bytes after the sync point',
    options: SMALL,
    run: async (w) => {
      await w.appendMany(90, 'durable');
      await w.syncPoint();
      await w.append(1, 'written', 'none');
    },
  },
  {
    name: 'several syncs and rolls before the sync point',
    options: { ...SMALL, checkpointIntervalBytes: 20 * 1024 },
    run: async (w) => {
      for (let i = 0; i < 6; i++) {
        await w.appendMany(40, 'written');
        await w.log.flush();
      }
      await w.appendMany(30, 'durable');
      await w.syncPoint();
      await w.appendMany(120, 'written');
    },
  },
];

/** After recovering from a first power loss (a crash state of scenario 1), the log is written on and loses power again. */
const second: Scenario = {
  name: 'written on after a first power loss, then a second one',
  options: SMALL,
  run: async (w) => {
    await w.appendMany(40, 'durable');
    await w.syncPoint();
    await w.appendMany(120, 'written');
  },
};

describe('power loss: crash states of a log', () => {
  const tally: Tally = newTally();

  scenarios.forEach((s, i) => {
    it(`${s.name}`, async () => {
      const run = { ...(await runScenario(s, BASE_SEED * 100 + i, rng)), replay: REPLAY };
      expect(run.batches.length, 'the scenario wrote after its sync point').toBeGreaterThan(0);
      await checkRun(run, PAGE_STATES, tally);
    });
  });

  it(second.name, async () => {
    const seed = BASE_SEED * 100 + scenarios.length;
    const run = { ...(await runChained(scenarios[1], seed, seed * 1000 + 5, second, rng)), replay: REPLAY };
    await checkRun(run, PAGE_STATES, tally);
  });

  it('the states covered what they must (lost tails, kept tails, torn tails)', () => {
    expect(tally.states).toBe((scenarios.length + 1) * (PAGE_STATES + 3));
    expect(tally.states).toBeGreaterThanOrEqual(200);
    // Not vacuous: some states lost unsynced records, some kept them all,
    // some needed a torn tail cut off; pages and sizes really were old.
    expect(tally.lostSome).toBeGreaterThan(20);
    expect(tally.keptAll).toBeGreaterThanOrEqual(scenarios.length + 1); // the written-back states at least
    expect(tally.truncated).toBeGreaterThan(10);
    expect(tally.oldPages).toBeGreaterThan(100);
    expect(tally.oldSizes).toBeGreaterThan(20);
    expect(tally.dropped).toBeGreaterThan(10);
  });
});
