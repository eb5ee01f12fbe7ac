/**
 * Power loss after a real kill: a child process (power-loss-writer.mjs, run by
 * crashChild from tidelog/testing) appends `durable` batches, copies its
 * directory at a sync point, appends `written` batches and is killed with
 * SIGKILL at a seeded moment. The crash states between its copy (`old`) and
 * what the kill left in the page cache (`new`) are checked as in
 * power-loss.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { crashChild } from '../../src/testing/index.js';
import { ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';
import { MAX_VALUE_BYTES, type Run, type WrittenBatch, checkRun, newTally } from './power-loss-model.js';
import { picture } from './power-loss-states.js';

beforeAll(() => ensureDist(), 120_000);

const BASE_SEED = Number(process.env.TIDELOG_POWER_LOSS_SEED ?? 7);
const WRITER = join(import.meta.dirname, 'power-loss-writer.mjs');
const OPTIONS = { segmentBytes: 16 * 1024, maxMessageBytes: 16 * 1024, indexIntervalBytes: 512, maxIndexBytes: 4096 };
const PAGE_STATES = 6;

describe('power loss after kill -9 of the writer', () => {
  const tally = newTally();
  for (let k = 0; k < 3; k++) {
    const seed = BASE_SEED * 10 + k;
    it(`kill ${k} (seed ${seed})`, async () => {
      const dir = tempDir('tidelog-plkill-');
      const snapshot = tempDir('tidelog-plkill-old-');
      const r = await crashChild({
        module: WRITER,
        export: 'write',
        arg: { dir, snapshot, seed, options: OPTIONS, maxValueBytes: MAX_VALUE_BYTES, durableBatches: 20 + k * 15, writtenBatches: 80 },
        after: 'synced',
        killAfterMs: [0, 120],
        seed,
      });
      expect(r.stderr).toBe('');
      expect(r.killed, 'the writer dies by SIGKILL').toBe(true);
      expect(r.by).toBe('timer');
      expect(r.points).toEqual(['synced']);
      expect(existsSync(join(snapshot, 'old'))).toBe(true);
      const durableEnd = (r.events.find((e) => e.type === 'point')!.data as { durableEnd: number }).durableEnd;
      const batches = r.reports as WrittenBatch[];
      const replay = `TIDELOG_POWER_LOSS_SEED=${BASE_SEED} npx vitest run test/fault/power-loss-kill.test.ts (the kill moment varies)`;
      const run: Run = { name: `kill ${k}`, seed, options: OPTIONS, batches, durableEnd, old: picture(join(snapshot, 'old')), now: picture(dir), replay };
      await checkRun(run, PAGE_STATES, tally);
    });
  }

  it('the kills landed after unsynced appends, and states lost some of them', () => {
    expect(tally.states).toBe(3 * (PAGE_STATES + 3));
    expect(tally.lostSome).toBeGreaterThan(3);
  });
});
