/**
 * crashChild (tidelog/testing): real child processes, really killed with
 * SIGKILL, at a named point, on a seeded timer, on a timeout; what they
 * reported before dying comes back whole.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/index.js';
import { crashChild, crashPoint, pickDelay, report } from '../../src/testing/index.js';
import { ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const COUNTER = join(FIXTURES, 'counter.mjs');

beforeAll(() => ensureDist(), 120_000); // command.mjs imports the built package

describe('crashChild', () => {
  it('kills the child exactly at the hit-th time it reaches a named point', async () => {
    const file = join(tempDir('tidelog-crashchild-'), 'counted.txt');
    writeFileSync(file, '');
    const r = await crashChild({ module: COUNTER, export: 'count', arg: { file }, killAt: 'tick', hit: 5 });
    expect(r.killed).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.exitCode).toBeNull();
    expect(r.by).toBe('point');
    expect(r.point).toBe('tick');
    expect(r.points).toEqual(['tick', 'tick', 'tick', 'tick', 'tick']);
    expect(r.reports).toEqual([0, 1, 2, 3, 4]);
    expect(r.events.filter((e) => e.type === 'point').map((e) => (e as { data: unknown }).data)).toEqual([0, 1, 2, 3, 4]);
    // It died inside the 5th crashPoint: the 5th append to the file never ran.
    expect(readFileSync(file, 'utf8')).toBe('0\n1\n2\n3\n');
  });

  it('kills on a timer whose delay comes from the seed; every report made before is returned', async () => {
    const file = join(tempDir('tidelog-crashchild-'), 'counted.txt');
    writeFileSync(file, '');
    const range = [150, 400] as const;
    const delay = pickDelay(range, 42);
    expect(delay).toBe(pickDelay(range, 42)); // replayable
    expect(delay).toBeGreaterThanOrEqual(150);
    expect(delay).toBeLessThanOrEqual(400);
    expect(new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => pickDelay(range, s))).size).toBeGreaterThan(1);

    // The clock starts at the first 'tick': a slow child start (a loaded machine, the ASan build) cannot eat the delay.
    const r = await crashChild({ module: COUNTER, export: 'count', arg: { file }, killAfterMs: range, seed: 42, after: 'tick' });
    expect(r.killed).toBe(true);
    expect(r.by).toBe('timer');
    expect(r.point).toBeNull();
    expect(r.delayMs).toBe(delay);
    // Reports are contiguous from 0 and cover every value the child went on to write to its file.
    expect(r.reports.length).toBeGreaterThan(0);
    expect(r.reports).toEqual(r.reports.map((_, i) => i));
    const written = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map(Number);
    expect(written.length).toBeGreaterThanOrEqual(r.reports.length - 1);
    expect(written.length).toBeLessThanOrEqual(r.reports.length);
  });

  it('starts the timer when the child reaches `after`', async () => {
    // killAfterMs 0 from the start would kill the child long before its 'ready' (300 ms of sleep in).
    const r = await crashChild({ module: COUNTER, export: 'slowStart', arg: { sleepMs: 300 }, killAfterMs: 0, after: 'ready' });
    expect(r.killed).toBe(true);
    expect(r.by).toBe('timer');
    expect(r.points[0]).toBe('ready');
  });

  it('returns what a child that ends by itself reported, with its output', async () => {
    const r = await crashChild({ module: COUNTER, export: 'finite', arg: { n: 4 }, killAfterMs: 30_000 });
    expect(r.killed).toBe(false);
    expect(r.by).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.reports).toEqual([0, 1, 2, 3].map((i) => ({ i, square: i * i })));
    expect(r.stdout).toBe('done\n');
  });

  it('calls the default export when none is named', async () => {
    const r = await crashChild({ module: COUNTER, arg: { x: [1, 'two'] } });
    expect(r.exitCode).toBe(0);
    expect(r.reports).toEqual([{ default: true, arg: { x: [1, 'two'] } }]);
  });

  it('reports a function that throws: exit code 1, the error on stderr', async () => {
    const r = await crashChild({ module: COUNTER, export: 'fails', arg: { why: 'xyz' } });
    expect(r.killed).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(r.reports).toEqual(['before']);
    expect(r.stderr).toContain('planned failure: xyz');
  });

  it('kills a child that outlives timeoutMs', async () => {
    const r = await crashChild({ module: COUNTER, export: 'hangs', timeoutMs: 300 });
    expect(r.killed).toBe(true);
    expect(r.by).toBe('timeout');
    expect(r.reports).toEqual([]);
  });

  it('runs a command whose code reports with the package report() and crashPoint()', async () => {
    const command = join(FIXTURES, 'command.mjs');
    const r = await crashChild({ command: process.execPath, args: [command], killAt: 'step', hit: 3 });
    expect(r.by).toBe('point');
    expect(r.reports).toEqual(['line 0', 'line 1', 'line 2']);
    expect(r.events.map((e) => e.type)).toEqual(['report', 'point', 'report', 'point', 'report', 'point']);
    // Without a kill point it runs to its end.
    const all = await crashChild({ command: process.execPath, args: [command] });
    expect(all.exitCode).toBe(0);
    expect(all.reports).toHaveLength(1000);
    expect(all.points).toHaveLength(1000);
  });

  it('refuses bad options with InvalidArgumentError, before starting anything', async () => {
    const bad: unknown[] = [
      {},
      { module: COUNTER, command: 'node' },
      { module: COUNTER, killAfterMs: -1 },
      { module: COUNTER, killAfterMs: [10, 5] },
      { module: COUNTER, hit: 2 },
      { module: COUNTER, killAt: 'x', hit: 0 },
      { module: COUNTER, after: 'ready' },
      { module: COUNTER, killAtt: 'x' },
      { module: COUNTER, args: ['a'] },
      { command: 'node', arg: 1 },
      { module: COUNTER, timeoutMs: 0 },
      null,
    ];
    for (const o of bad) {
      await expect(crashChild(o as never), JSON.stringify(o)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(crashChild({ module: COUNTER, killAtt: 'x' } as never)).rejects.toThrow(/unknown option 'killAtt'/);
  });

  it('report() and crashPoint() write to the descriptor crashChild names, and do nothing without one', () => {
    expect(process.env.TIDELOG_CRASH_FD).toBeUndefined();
    const path = join(tempDir('tidelog-crashchild-'), 'fd.txt');
    const fd = openSync(path, 'w');
    try {
      process.env.TIDELOG_CRASH_FD = String(fd);
      process.env.TIDELOG_CRASH_KILL_AT = 'elsewhere'; // not this point: it returns
      report({ a: 1 });
      crashPoint('here', 7);
    } finally {
      delete process.env.TIDELOG_CRASH_FD;
      delete process.env.TIDELOG_CRASH_KILL_AT;
    }
    report('not written');
    crashPoint('not written');
    closeSync(fd);
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { t: 'r', d: { a: 1 } },
      { t: 'p', n: 'here', d: 7 },
    ]);
  });
});
