/**
 * The sync thread (native/binding/log_handle.cc SyncThread): each log runs its
 * sync jobs on a thread of its own, which sleeps between jobs and exits after
 * a second without any. What must hold: syncs after the thread exited start it
 * again; an open log does not keep the process alive once its syncs are done;
 * a log whose environment goes away without close() (a worker thread that
 * ends) neither crashes nor loses its synced records.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { ensureDist, runChild } from './util.js';

beforeAll(() => ensureDist(), 120_000);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = tempDir('tidelog-sync-thread-');
  dirs.push(d);
  return `${d}/p`;
}

const threads = `
const { readFileSync } = await import('node:fs');
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const rec = (i) => ({ key: 'k' + i, value: 'v' + i, timestamp: i });
`;

describe('sync thread', () => {
  it('exits after a second without syncs, and the next durable append starts it again', async () => {
    const { code, lines, stderr } = await runChild(
      `${threads}
const log = await tidelog.Log.open(arg.dir, { acks: 'durable' });
await log.append([rec(0), rec(1)]);
const busy = threads();
await new Promise((r) => setTimeout(r, 1600));
const idle = threads();
await log.append([rec(2)]);
const again = threads();
console.log(JSON.stringify({ busy, idle, again, durable: log.durableOffset }));
await log.close();
console.log(JSON.stringify({ closed: threads() }));
`,
      { dir: dir() },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [r, c] = lines as [Record<string, number>, Record<string, number>];
    expect(r.durable).toBe(3);
    expect(r.idle).toBe(r.busy - 1);
    expect(r.again).toBe(r.busy);
    expect(c.closed).toBe(r.busy - 1);
  }, 30_000);

  it('an open log does not keep the process alive once its syncs are done', async () => {
    // The child ends its script without close(): it must exit by itself.
    const { code, signal, lines } = await runChild(
      `${threads}
const log = await tidelog.Log.open(arg.dir, { acks: 'durable' });
for (let i = 0; i < 20; i++) await log.append([rec(i)]);
await log.flush();
console.log(JSON.stringify({ durable: log.durableOffset }));
`,
      { dir: dir() },
    );
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(lines).toEqual([{ durable: 20 }]);
  }, 30_000);

  it('a worker thread that ends without close() leaves its durable records and the lock free', async () => {
    const { code, lines, stderr } = await runChild(
      `${threads}
const { Worker } = await import('node:worker_threads');
const src = \`
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const tidelog = await import(workerData.dist);
  const log = await tidelog.Log.open(workerData.dir, { acks: 'durable' });
  for (let i = 0; i < 50; i++) await log.append([{ key: 'k' + i, value: 'v' + i, timestamp: i }]);
  // A last sync still running when the worker ends.
  log.append([{ key: 'last', value: 'x', timestamp: 50 }]).catch(() => undefined);
  parentPort.postMessage(log.durableOffset);
})();
\`;
const w = new Worker(src, { eval: true, execArgv: [], workerData: { dist: arg.dist, dir: arg.dir } });
const durable = await new Promise((res, rej) => { w.on('message', res); w.on('error', rej); });
await new Promise((res) => w.on('exit', res));
const log = await tidelog.Log.open(arg.dir);
console.log(JSON.stringify({ durable, end: log.logEndOffset, first: log.readRecords(0, { maxRecords: 1 })[0].key.toString() }));
await log.close();
`,
      { dir: dir(), dist: new URL('../../dist/index.js', import.meta.url).href },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [r] = lines as [{ durable: number; end: number; first: string }];
    expect(r.durable).toBe(50);
    expect(r.end).toBeGreaterThanOrEqual(50);
    expect(r.first).toBe('k0');
  }, 30_000);
});
