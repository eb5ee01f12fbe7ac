/**
 * simulatePowerLoss and readHead (tidelog/testing): writers in child processes,
 * killed with SIGKILL after `durable` and `written` appends; the power loss
 * must drop exactly what was not synced — every durable record stays, the
 * log is cut back to the durable end (plus what a torn page may keep) —
 * and the log or store then reopens by itself and verifies clean.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidStateError, Log, LogLockedError, Store } from '../../src/index.js';
import { crashChild, lockHolder, readHead, simulatePowerLoss, verifyLog, verifyStore } from '../../src/testing/index.js';
import { ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';
// A plain .mjs fixture (shared with the child processes).
import { valueOf } from './fixtures/writers.mjs';

beforeAll(() => ensureDist(), 120_000);

const WRITERS = join(import.meta.dirname, 'fixtures', 'writers.mjs');
const OPTIONS = { segmentBytes: 16 * 1024, maxMessageBytes: 16 * 1024, indexIntervalBytes: 1024, maxIndexBytes: 4096 };

type Ack = { acks: 'durable' | 'written'; end: number };

/** Runs the log writer to its 'done' point (killed there); returns its acknowledgements. */
async function killedLogWriter(dir: string, durable: number, written: number) {
  const r = await crashChild({ module: WRITERS, export: 'logWriter', arg: { dir, options: OPTIONS, durable, written }, killAt: 'done' });
  expect(r.stderr).toBe('');
  expect(r.by).toBe('point');
  const acks = r.reports as Ack[];
  const durableEnd = Math.max(0, ...acks.filter((a) => a.acks === 'durable').map((a) => a.end));
  const writtenEnd = Math.max(durableEnd, ...acks.map((a) => a.end));
  return { acks, durableEnd, writtenEnd };
}

function files(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n))]));
}

/** Opens the log, checks records [0, end) are the writer's, appends one more, closes, verifies. */
async function expectLogOf(dir: string, expectedEnd: number | [number, number]) {
  const log = await Log.open(dir, OPTIONS);
  let end: number;
  try {
    end = log.logEndOffset;
    if (typeof expectedEnd === 'number') expect(end).toBe(expectedEnd);
    else {
      expect(end).toBeGreaterThanOrEqual(expectedEnd[0]);
      expect(end).toBeLessThanOrEqual(expectedEnd[1]);
    }
    const values = log.readRecords(0, { maxBytes: 64 << 20 }).map((r) => r.value!.toString());
    expect(values).toHaveLength(end);
    values.forEach((v, i) => {
      if (v !== valueOf(i)) expect.fail(`record ${i} is ${v.slice(0, 30)}, not the writer's`);
    });
    const r = await log.append({ value: 'after' }, { acks: 'durable' });
    expect(r.baseOffset).toBe(end);
  } finally {
    await log.close();
  }
  const report = await verifyLog(dir);
  expect(report.issues).toEqual([]);
  expect(report.records).toBe(end + 1);
  return { log, end };
}

describe('readHead', () => {
  it('tells where the synced bytes end, as the log sees it', async () => {
    const dir = tempDir('tidelog-head-');
    const log = await Log.open(dir, OPTIONS);
    try {
      for (let i = 0; i < 30; i++) await log.append({ value: valueOf(i) }, { acks: 'durable' });
      let head = readHead(dir)!;
      const active = log.segments().at(-1)!;
      expect(head.durableOffset).toBe(log.durableOffset);
      expect(head.logEndOffset).toBe(log.logEndOffset);
      expect(head.durableSegmentBase).toBe(active.baseOffset);
      expect(head.durableSegmentSize).toBe(active.sizeBytes);
      // Written, not synced: the log end moves on, the synced end stays.
      while (log.segments().length < 3) log.appendSync({ value: valueOf(log.logEndOffset) });
      head = readHead(dir)!;
      expect(head.logEndOffset).toBe(log.logEndOffset);
      expect(head.durableOffset).toBe(30);
      expect(head.durableSegmentBase).toBe(active.baseOffset);
      expect(head.durableSegmentSize).toBe(active.sizeBytes);
      expect(head.activeBaseOffset).toBe(log.segments().at(-1)!.baseOffset);
      // A sync moves it to the active segment's end.
      await log.flush();
      head = readHead(dir)!;
      expect(head.durableOffset).toBe(log.logEndOffset);
      expect(head.durableSegmentBase).toBe(log.segments().at(-1)!.baseOffset);
      expect(head.durableSegmentSize).toBe(log.segments().at(-1)!.sizeBytes);
      // truncateTo below the synced end brings it down with the log.
      await log.truncateTo(10);
      head = readHead(dir)!;
      expect(head.durableOffset).toBe(10);
      expect(head.durableSegmentBase).toBe(log.segments().at(-1)!.baseOffset);
      expect(head.durableSegmentSize).toBe(log.segments().at(-1)!.sizeBytes);
      expect(lockHolder(dir)).toBe(process.pid);
    } finally {
      await log.close();
    }
    expect(lockHolder(dir)).toBeNull();
    expect(readHead(tempDir('tidelog-head-none-'))).toBeNull();
  });
});

describe('simulatePowerLoss on a partition', () => {
  it('cuts a killed writer\'s log back to its durable end: every durable record stays, the written ones go', async () => {
    const dir = tempDir('tidelog-pl-');
    const { durableEnd, writtenEnd } = await killedLogWriter(dir, 25, 60);
    expect(writtenEnd).toBeGreaterThan(durableEnd);
    expect(readHead(dir)!.durableOffset).toBe(durableEnd);
    expect(readHead(dir)!.logEndOffset).toBe(writtenEnd);
    const before = readdirSync(dir).filter((n) => n.endsWith('.log')).length;

    const report = await simulatePowerLoss(dir, { seed: 1 });
    expect(report.partitions).toHaveLength(1);
    const p = report.partitions[0];
    expect(p.changed).toBe(true);
    expect(p.durableOffset).toBe(durableEnd);
    expect(p.logEndOffset).toBe(writtenEnd);
    expect(p.torn).toBeNull();
    expect(report.bytesDropped).toBeGreaterThan(0);
    // The writer rolled after its last sync: those segments were dropped or emptied.
    expect(before).toBeGreaterThan(1);
    expect(p.removed.length + p.truncated.filter((t) => t.to === 0).length).toBeGreaterThan(0);
    for (const f of p.removed) expect(existsSync(join(dir, f))).toBe(false);
    for (const t of p.truncated) expect(statSync(join(dir, t.file)).size).toBe(t.to);

    await expectLogOf(dir, durableEnd); // exactly the durable records
  });

  for (const fill of ['zeros', 'garbage'] as const) {
    it(`tears the page after the synced bytes (${fill}); recovery cuts the torn tail`, async () => {
      const dir = tempDir('tidelog-pl-tear-');
      const { durableEnd, writtenEnd } = await killedLogWriter(dir, 20, 5);
      const report = await simulatePowerLoss(dir, { seed: 5, tearLastPage: fill });
      const torn = report.partitions[0].torn!;
      expect(torn).not.toBeNull();
      expect(torn.fill).toBe(fill);
      expect(torn.position).toBe(readHead(dir)!.durableSegmentSize);
      expect(torn.position + torn.length).toBeLessThanOrEqual(Math.ceil((torn.position + 1) / 4096) * 4096);
      const log = await Log.open(dir, OPTIONS);
      const truncated = log.recovery.bytesTruncated;
      await log.close();
      expect(truncated, 'recovery cut the torn bytes').toBeGreaterThan(0);
      // A torn page may keep whole batches that followed: those were written, so they may stay.
      await expectLogOf(dir, [durableEnd, writtenEnd]);
    });
  }

  it('a segment with a zero tail keeps its synced size with the unsynced bytes zeroed, or is cut: both reopen to the durable records', async () => {
    const dir = tempDir('tidelog-pl-zt-');
    const options = { segmentBytes: 1024 * 1024 };
    const r = await crashChild({ module: WRITERS, export: 'logWriter', arg: { dir, options, durable: 10, written: 10 }, killAt: 'done' });
    expect(r.by).toBe('point');
    const acks = r.reports as Ack[];
    const durableEnd = Math.max(...acks.filter((a) => a.acks === 'durable').map((a) => a.end));
    const head = readHead(dir)!;
    const logFile = join(dir, '00000000000000000000.log');
    const size = statSync(logFile).size;
    expect(size % (256 * 1024), 'the killed writer left a zero tail').toBe(0);
    expect(head.durableSegmentSize).toBeLessThan(size);
    const seen = new Set<string>();
    for (let seed = 0; seed < 16 && seen.size < 2; seed++) {
      const copy = tempDir('tidelog-pl-zt-copy-');
      cpSync(dir, copy, { recursive: true });
      const p = (await simulatePowerLoss(copy, { seed })).partitions[0];
      const path = join(copy, '00000000000000000000.log');
      if (p.zeroed.length > 0) {
        seen.add('zeroed');
        expect(p.zeroed).toEqual([{ file: '00000000000000000000.log', from: head.durableSegmentSize, to: size }]);
        expect(p.truncated).toEqual([]);
        expect(statSync(path).size).toBe(size);
        const bytes = readFileSync(path);
        expect(bytes.subarray(head.durableSegmentSize).every((b) => b === 0)).toBe(true);
      } else {
        seen.add('cut');
        expect(p.truncated).toEqual([{ file: '00000000000000000000.log', from: size, to: head.durableSegmentSize }]);
        expect(statSync(path).size).toBe(head.durableSegmentSize);
      }
      expect(p.bytesDropped).toBe(size - head.durableSegmentSize);
      // (verifyLog of the raw state would name the index entries of the lost appends: recovery rebuilds them.)
      const log = await Log.open(copy, options);
      expect(log.recovery.problems).toEqual([]);
      expect(log.recovery.bytesTruncated).toBe(0);
      await log.close();
      await expectLogOf(copy, durableEnd);
    }
    expect([...seen].sort()).toEqual(['cut', 'zeroed']);
  });

  it('is deterministic for a seed', async () => {
    const a = tempDir('tidelog-pl-a-');
    const { durableEnd } = await killedLogWriter(a, 10, 40);
    const b = tempDir('tidelog-pl-b-');
    cpSync(a, b, { recursive: true });
    const ra = await simulatePowerLoss(a, { seed: 9, tearLastPage: true });
    const rb = await simulatePowerLoss(b, { seed: 9, tearLastPage: true });
    const strip = (r: typeof ra) => r.partitions.map(({ dir: _d, ...rest }) => rest);
    expect(strip(ra)).toEqual(strip(rb));
    expect(ra.partitions[0].durableOffset).toBe(durableEnd);
    const fa = files(a);
    const fb = files(b);
    fa.delete('.lock');
    fb.delete('.lock');
    expect(fb).toEqual(fa);
  });

  it('refuses a log whose writer is alive, changing nothing', async () => {
    const dir = tempDir('tidelog-pl-live-');
    const log = await Log.open(dir, OPTIONS);
    try {
      log.appendSync({ value: 'x' });
      const before = files(dir);
      const err = await simulatePowerLoss(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LogLockedError);
      expect((err as Error).message).toContain(`process ${process.pid}`);
      expect(files(dir)).toEqual(before);
    } finally {
      await log.close();
    }
  });

  it('leaves a cleanly closed log alone: nothing was unsynced', async () => {
    const dir = tempDir('tidelog-pl-clean-');
    const log = await Log.open(dir, OPTIONS);
    for (let i = 0; i < 50; i++) log.appendSync({ value: valueOf(i) });
    await log.close();
    const before = files(dir);
    const report = await simulatePowerLoss(dir, { tearLastPage: true });
    expect(report.partitions[0].changed).toBe(false);
    expect(report.bytesDropped).toBe(0);
    expect(files(dir)).toEqual(before);
  });

  it('refuses what it cannot work on', async () => {
    await expect(simulatePowerLoss(tempDir('tidelog-pl-empty-'))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(simulatePowerLoss('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(simulatePowerLoss('/nonexistent/tidelog')).rejects.toBeInstanceOf(InvalidArgumentError);
    const dir = tempDir('tidelog-pl-opts-');
    const log = await Log.open(dir, OPTIONS);
    await log.close();
    await expect(simulatePowerLoss(dir, { seeds: 1 } as never)).rejects.toThrow(/unknown option 'seeds'/);
    await expect(simulatePowerLoss(dir, { tearLastPage: 'ones' } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(simulatePowerLoss(dir, { seed: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // A .head no writer published in (all zeros).
    const blank = tempDir('tidelog-pl-blank-');
    writeFileSync(join(blank, '.head'), Buffer.alloc(4096));
    await expect(simulatePowerLoss(blank)).rejects.toBeInstanceOf(InvalidStateError);
  });
});

describe('simulatePowerLoss on a store', () => {
  it('drops what no partition synced; the store reopens with every durable record; verifyStore passes', async () => {
    const dir = tempDir('tidelog-pl-store-');
    const config = { segmentBytes: 16 * 1024, indexIntervalBytes: 1024, segmentIndexBytes: 4096 };
    const r = await crashChild({ module: WRITERS, export: 'storeWriter', arg: { dir, config, rounds: 4 }, killAt: 'done' });
    expect(r.stderr).toBe('');
    expect(r.by).toBe('point');
    const acks = r.reports as { acks: string; partition: number; offset: number; index: number }[];
    expect(acks).toHaveLength(4 * 25 + 4 * 40);

    const report = await simulatePowerLoss(dir, { seed: 3, tearLastPage: true });
    const parts = report.partitions.filter((p) => /events-\d$/.test(p.dir));
    expect(parts).toHaveLength(3);
    expect(parts.some((p) => p.changed)).toBe(true);
    expect(report.bytesDropped).toBeGreaterThan(0);

    const store = await Store.open(dir);
    try {
      for (let p = 0; p < 3; p++) {
        const log = store.log('events', p);
        const mine = acks.filter((a) => a.partition === p);
        const durable = mine.filter((a) => a.acks === 'durable');
        const durableEnd = Math.max(...durable.map((a) => a.offset)) + 1;
        expect(parts[p].durableOffset).toBe(durableEnd);
        expect(log.logEndOffset).toBeGreaterThanOrEqual(durableEnd);
        const byOffset = new Map(mine.map((a) => [a.offset, a.index]));
        for (const rec of log.readRecords(0, { maxBytes: 64 << 20 })) {
          expect(rec.value!.toString(), `events-${p} offset ${rec.offset}`).toBe(valueOf(byOffset.get(rec.offset)));
        }
        // Every durable record is there.
        for (const a of durable) expect(log.get(a.offset)?.value?.toString()).toBe(valueOf(a.index));
      }
      const producer = store.producer({ acks: 'durable' });
      await producer.send({ topic: 'events', key: 'after', value: 'after the power loss' });
    } finally {
      await store.close();
    }
    const v = await verifyStore(dir);
    expect(v.issues).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.partitions).toHaveLength(3);
  });
});
