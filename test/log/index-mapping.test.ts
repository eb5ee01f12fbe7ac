/**
 * Index entries stored through the active index's writable shared mapping
 * (native/core/index_file.h): the bytes that reach `.index` / `.timeindex`,
 * read with plain fs and checked entry by entry against entries computed here
 * from the `.log` bytes alone (Kafka's rule), while the writer is open, after a
 * roll (the sealed segment trimmed to exactly its entries), after truncateTo
 * and reopen, and after the writer is killed (the entries a killed writer had
 * published are in the file). The writable mappings themselves are checked in
 * /proc/self/maps: one per active index file, none for sealed segments, none
 * in a read-only Log (this process or another), none after close. Read-only
 * logs in this process and in a child answer lookups right while the writer
 * appends.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Log, type LogOptions } from '../../src/index.js';
import { crashChild, readHead, verifyLog } from '../../src/testing/index.js';
import { tempDir } from '../helpers.js';
import { indexRecord } from './index-mapping-records.mjs';
import { Child, ensureDist, parseBatches, segPath, segmentBases } from './util.js';

const WRITER = join(import.meta.dirname, 'index-mapping-writer.mjs');
const OFF_ENTRY = 8;
const TIME_ENTRY = 12;
const NO_TIMESTAMP = -1;

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});
async function openLog(dir: string, options?: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}
async function closeLog(log: Log): Promise<void> {
  open.splice(open.indexOf(log), 1);
  await log.close();
}

/**
 * The entries Kafka's rule gives the batches of `log` (segment `base`):
 * after more than `interval` bytes of batches since the last entry, the offset
 * index gets (last offset, position) of the batch, and the time index gets
 * (largest timestamp so far, the offset that first reached it) if that
 * timestamp is above the last entry's; a sealed segment's time index ends with
 * its largest timestamp.
 */
function expectedEntries(log: Buffer, base: number, interval: number, sealed: boolean) {
  const { batches, rest } = parseBatches(log);
  expect(rest, 'the .log frames to its end').toBe(0);
  const off: Buffer[] = [];
  const time: Buffer[] = [];
  let since = 0;
  let maxTs = NO_TIMESTAMP;
  let maxTsOffset = -1;
  let lastTimeTs = -Infinity;
  const timeEntry = () => {
    const e = Buffer.alloc(TIME_ENTRY);
    e.writeBigInt64BE(BigInt(maxTs), 0);
    e.writeInt32BE(maxTsOffset - base, 8);
    time.push(e);
    lastTimeTs = maxTs;
  };
  for (const b of batches) {
    if (b.maxTimestamp > maxTs) {
      maxTs = b.maxTimestamp;
      maxTsOffset = b.lastOffset;
    }
    if (since > interval) {
      const e = Buffer.alloc(OFF_ENTRY);
      e.writeInt32BE(b.lastOffset - base, 0);
      e.writeUInt32BE(b.position, 4);
      off.push(e);
      if (maxTs > lastTimeTs) timeEntry();
      since = 0;
    }
    since += b.size;
  }
  if (sealed && maxTs !== NO_TIMESTAMP && maxTs > lastTimeTs && batches.length > 0) timeEntry();
  return { off: Buffer.concat(off), time: Buffer.concat(time), offCount: off.length, timeCount: time.length };
}

/** Compares index bytes entry by entry (the first wrong entry is named). */
function expectIndex(actual: Buffer, expected: Buffer, entrySize: number, what: string): void {
  const n = Math.max(actual.length, expected.length) / entrySize;
  for (let i = 0; i < n; i++) {
    const a = actual.subarray(i * entrySize, (i + 1) * entrySize).toString('hex');
    const e = expected.subarray(i * entrySize, (i + 1) * entrySize).toString('hex');
    if (a !== e) expect(a, `${what}: entry ${i} of ${n}`).toBe(e);
  }
  expect(actual.length, `${what}: length`).toBe(expected.length);
}

/**
 * Checks every segment's index files against its `.log`: sealed segments
 * trimmed to exactly their entries; the active one (when `activeOpen`)
 * preallocated, its computed entries first, then zeros. Returns the active
 * segment's entry counts.
 */
function checkIndexFiles(dir: string, interval: number, activeOpen: boolean) {
  const bases = segmentBases(dir);
  let counts = { off: 0, time: 0 };
  for (const base of bases) {
    const active = activeOpen && base === bases[bases.length - 1];
    const log = readFileSync(segPath(dir, base, '.log'));
    const exp = expectedEntries(log, base, interval, !active);
    const off = readFileSync(segPath(dir, base, '.index'));
    const time = readFileSync(segPath(dir, base, '.timeindex'));
    const name = `segment ${base}${active ? ' (active)' : ''}`;
    if (active) {
      expect(off.length, `${name}: preallocated`).toBeGreaterThan(exp.off.length);
      expectIndex(off.subarray(0, exp.off.length), exp.off, OFF_ENTRY, `${name} .index`);
      expectIndex(time.subarray(0, exp.time.length), exp.time, TIME_ENTRY, `${name} .timeindex`);
      expect(off.subarray(exp.off.length).every((x) => x === 0), `${name} .index: zeros after the entries`).toBe(true);
      expect(time.subarray(exp.time.length).every((x) => x === 0), `${name} .timeindex: zeros after`).toBe(true);
      counts = { off: exp.offCount, time: exp.timeCount };
    } else {
      expectIndex(off, exp.off, OFF_ENTRY, `${name} .index`);
      expectIndex(time, exp.time, TIME_ENTRY, `${name} .timeindex`);
    }
  }
  return counts;
}

/** This process's mappings of index files in `dir`, as [permissions, file name]. */
function indexMappings(dir: string, maps = readFileSync('/proc/self/maps', 'utf8')): [string, string][] {
  const out: [string, string][] = [];
  for (const line of maps.split('\n')) {
    const f = line.trim().split(/\s+/);
    const path = f.slice(5).join(' ');
    if (path.startsWith(`${dir}/`) && /\.(index|timeindex)( \(deleted\))?$/.test(path)) {
      out.push([f[1], path.slice(dir.length + 1)]);
    }
  }
  return out;
}
const writable = (m: [string, string][]) => m.filter(([perms]) => perms.includes('w')).map(([, name]) => name).sort();
const activeIndexNames = (dir: string) => {
  const bases = segmentBases(dir);
  const base = String(bases[bases.length - 1]).padStart(20, '0');
  return [`${base}.index`, `${base}.timeindex`];
};

async function appendBatches(log: Log, count: number, from = 0): Promise<void> {
  for (let b = from; b < from + count; b++) {
    const start = log.logEndOffset;
    await log.append(Array.from({ length: 1 + (b % 5) }, (_, i) => indexRecord(start + i)));
  }
}

/** The first offset in [start, end) whose record's timestamp is >= t, as offsetForTimestamp must answer. */
function firstAtOrAfter(t: number, start: number, end: number): number | null {
  for (let o = start; o < end; o++) if (indexRecord(o).timestamp >= t) return o;
  return null;
}

const INTERVAL = 64;
const OPTIONS: LogOptions = { indexIntervalBytes: INTERVAL, segmentBytes: 48 * 1024, maxIndexBytes: 16 * 1024 };

describe('index entries stored through the writable mapping', () => {
  it('reach the files entry by entry while the log is open, across rolls, and after close', async () => {
    const dir = tempDir();
    const log = await openLog(dir, OPTIONS);
    await appendBatches(log, 600);
    expect(log.segments().length, 'the log rolled').toBeGreaterThanOrEqual(3);

    // Open: sealed segments trimmed to exactly their entries, the active one's entries in place.
    const counts = checkIndexFiles(dir, INTERVAL, true);
    expect(counts.off).toBeGreaterThan(10);
    const head = readHead(dir)!;
    expect(head.offsetIndexEntries).toBe(counts.off);
    expect(head.timeIndexEntries).toBe(counts.time);
    // One writable mapping per active index file; none of sealed segments.
    expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));

    await closeLog(log);
    checkIndexFiles(dir, INTERVAL, false);
    expect(writable(indexMappings(dir)), 'close unmaps them').toEqual([]);
  });

  it('a full index rolls the segment; the sealed one holds exactly its entries', async () => {
    const dir = tempDir();
    // 16 offset entries fit: the segment rolls on its index, long before segmentBytes.
    const log = await openLog(dir, { indexIntervalBytes: 0, maxIndexBytes: 128 });
    await appendBatches(log, 60);
    expect(log.segments().length).toBeGreaterThanOrEqual(3);
    checkIndexFiles(dir, 0, true);
    for (const base of segmentBases(dir).slice(0, -1)) {
      expect(readFileSync(segPath(dir, base, '.index')).length).toBeGreaterThan(0);
    }
    expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));
    await closeLog(log);
    checkIndexFiles(dir, 0, false);
  });

  it('truncateTo (zeroes and refills the index), reopen, and more appends keep the files right', async () => {
    const dir = tempDir();
    let log = await openLog(dir, OPTIONS);
    await appendBatches(log, 500);
    const segments = log.segments();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    // Into the active segment, then into an earlier one (the segments above it go; it is active again).
    const active = segments[segments.length - 1];
    await log.truncateTo(active.baseOffset + Math.floor((active.nextOffset - active.baseOffset) / 2));
    checkIndexFiles(dir, INTERVAL, true);
    expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));
    await log.truncateTo(segments[1].baseOffset + 7);
    expect(log.segments().length).toBe(2);
    checkIndexFiles(dir, INTERVAL, true);
    expect(writable(indexMappings(dir)), 'one writable mapping each, no leftovers').toEqual(activeIndexNames(dir));
    await appendBatches(log, 200, 500);
    checkIndexFiles(dir, INTERVAL, true);
    await closeLog(log);
    checkIndexFiles(dir, INTERVAL, false);

    // A clean reopen trusts the trimmed indexes and maps the active ones writable again.
    log = await openLog(dir, OPTIONS);
    expect(log.recovery.clean).toBe(true);
    expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));
    await appendBatches(log, 150, 700);
    checkIndexFiles(dir, INTERVAL, true);
    await closeLog(log);
    checkIndexFiles(dir, INTERVAL, false);
    expect(writable(indexMappings(dir))).toEqual([]);
  });

  it('deleted and zero-filled index files are rebuilt identical to the ones written through the mapping', async () => {
    const dir = tempDir();
    let log = await openLog(dir, OPTIONS);
    await appendBatches(log, 400);
    await closeLog(log);
    const bases = segmentBases(dir);
    const original = new Map(bases.map((b) => [b, [readFileSync(segPath(dir, b, '.index')), readFileSync(segPath(dir, b, '.timeindex'))]]));
    rmSync(segPath(dir, bases[0], '.index'));
    writeFileSync(segPath(dir, bases[1], '.timeindex'), Buffer.alloc(original.get(bases[1])![1].length));
    writeFileSync(segPath(dir, bases[bases.length - 1], '.index'), Buffer.alloc(original.get(bases[bases.length - 1])![0].length));
    log = await openLog(dir, OPTIONS);
    await closeLog(log);
    for (const b of bases) {
      expect(readFileSync(segPath(dir, b, '.index')).equals(original.get(b)![0]), `segment ${b} .index`).toBe(true);
      expect(readFileSync(segPath(dir, b, '.timeindex')).equals(original.get(b)![1]), `segment ${b} .timeindex`).toBe(true);
    }
  });
});

describe('read-only logs while the writer stores entries through its mapping', () => {
  beforeAll(() => ensureDist(), 120_000);

  it('in this process: lookups are right after every round of appends, and the reader maps nothing writable', async () => {
    const dir = tempDir();
    const writer = await openLog(dir, OPTIONS);
    await appendBatches(writer, 5);
    const reader = await openLog(dir, { readOnly: true });
    expect(writable(indexMappings(dir)), 'only the writer’s two').toEqual(activeIndexNames(dir));
    let b = 5;
    for (let round = 0; round < 12; round++) {
      await appendBatches(writer, 40, b);
      b += 40;
      const end = writer.logEndOffset;
      expect(reader.logEndOffset).toBe(end);
      for (let o = 0; o < end; o += 1 + (o % 37)) {
        const r = reader.get(o);
        expect(r?.offset, `get(${o})`).toBe(o);
        expect(r?.value?.toString()).toBe(indexRecord(o).value);
      }
      const first = indexRecord(0).timestamp - 40;
      const last = indexRecord(end - 1).timestamp + 40;
      for (let t = first; t <= last; t += 97) {
        expect(reader.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(firstAtOrAfter(t, 0, end));
      }
      expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));
    }
    expect(writer.segments().length).toBeGreaterThanOrEqual(3);
  });

  it('in another process: lookups are right while the writer appends and rolls; no writable mapping there', async () => {
    const dir = tempDir();
    const writer = await openLog(dir, OPTIONS);
    await appendBatches(writer, 5);
    const child = new Child(
      `
import('node:fs').then(async ({ readFileSync }) => {
  const { createInterface } = await import('node:readline');
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  const log = await tidelog.Log.open(arg.dir, { readOnly: true });
  out({ opened: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line);
    let polls = 0;
    while (log.logEndOffset !== cmd.end && polls++ < 20000) await new Promise((r) => setTimeout(r, 1));
    out({
      end: log.logEndOffset,
      get: cmd.offsets.map((o) => { const r = log.get(o); return r === null ? null : [r.offset, r.value.toString()]; }),
      times: cmd.times.map((t) => log.offsetForTimestamp(t)),
      maps: readFileSync('/proc/self/maps', 'utf8'),
    });
  }
  await log.close();
});
`,
      { dir },
    );
    try {
      expect(await child.next()).toEqual({ opened: true });
      let b = 5;
      for (let round = 0; round < 8; round++) {
        await appendBatches(writer, 50, b);
        b += 50;
        const end = writer.logEndOffset;
        const offsets = Array.from({ length: 60 }, (_, i) => Math.floor((i * end) / 60));
        offsets.push(end - 1);
        const times = Array.from({ length: 40 }, (_, i) => indexRecord(0).timestamp - 40 + Math.floor((i * (end * 10 + 80)) / 40));
        const r = await child.request<{ end: number; get: [number, string][]; times: (number | null)[]; maps: string }>({
          end,
          offsets,
          times,
        });
        expect(r.end).toBe(end);
        expect(r.get).toEqual(offsets.map((o) => [o, indexRecord(o).value]));
        expect(r.times).toEqual(times.map((t) => firstAtOrAfter(t, 0, end)));
        const mapped = indexMappings(dir, r.maps);
        expect(mapped.length, 'the reader maps the index files').toBeGreaterThan(0);
        expect(writable(mapped), 'read-only: nothing writable').toEqual([]);
      }
      expect(writer.segments().length).toBeGreaterThanOrEqual(3);
    } finally {
      const e = await child.end();
      expect(e.code, child.stderr).toBe(0);
    }
  });
});

describe('a writer killed while storing entries through its mapping', () => {
  beforeAll(() => ensureDist(), 120_000);

  it('left every entry it had published in the files; verifyLog passes; reopen rebuilds them right', async () => {
    const dir = join(tempDir('tidelog-idxmap-kill-'), 'p');
    const options = { indexIntervalBytes: INTERVAL, segmentBytes: 32 * 1024, maxIndexBytes: 8 * 1024 };
    const r = await crashChild({
      module: WRITER,
      export: 'write',
      arg: { dir, options },
      after: 'opened',
      killAfterMs: [150, 300],
      seed: 11,
    });
    expect(r.stderr).toBe('');
    expect(r.killed && r.by === 'timer', 'the writer dies by SIGKILL').toBe(true);
    const acked = (r.reports as { end: number }[]).at(-1)?.end ?? 0;
    expect(acked, 'the child appended something').toBeGreaterThan(100);

    // The entries the head had published for the active segment are in its
    // files, right: stored before the count that made them visible.
    const head = readHead(dir)!;
    expect(head.logEndOffset).toBeGreaterThanOrEqual(acked);
    const base = head.activeBaseOffset;
    const logBytes = readFileSync(segPath(dir, base, '.log')).subarray(0, head.activeSize);
    const exp = expectedEntries(logBytes, base, INTERVAL, false);
    expect(exp.offCount).toBe(head.offsetIndexEntries);
    expect(exp.timeCount).toBe(head.timeIndexEntries);
    expectIndex(readFileSync(segPath(dir, base, '.index')).subarray(0, exp.off.length), exp.off, OFF_ENTRY, 'active .index');
    expectIndex(readFileSync(segPath(dir, base, '.timeindex')).subarray(0, exp.time.length), exp.time, TIME_ENTRY, 'active .timeindex');
    // Sealed segments were trimmed by their rolls.
    for (const b of segmentBases(dir).filter((x) => x < base)) {
      const e = expectedEntries(readFileSync(segPath(dir, b, '.log')), b, INTERVAL, true);
      expectIndex(readFileSync(segPath(dir, b, '.index')), e.off, OFF_ENTRY, `segment ${b} .index`);
      expectIndex(readFileSync(segPath(dir, b, '.timeindex')), e.time, TIME_ENTRY, `segment ${b} .timeindex`);
    }

    // A kill inside a roll can leave the next segment's empty .log with one or
    // both index files not yet created: verifyLog names exactly those (open
    // rebuilds them), and nothing else.
    const interrupted = segmentBases(dir).filter((b) => b > base);
    expect(interrupted.length).toBeLessThanOrEqual(1);
    const missing: string[] = [];
    for (const b of interrupted) {
      expect(readFileSync(segPath(dir, b, '.log')).length, `segment ${b} of an interrupted roll is empty`).toBe(0);
      for (const ext of ['.index', '.timeindex'] as const) if (!existsSync(segPath(dir, b, ext))) missing.push(segPath(dir, b, ext));
    }
    const report = await verifyLog(dir);
    expect(report.issues).toEqual(
      missing.map((file) => ({ file, offset: -1, position: -1, problem: 'index file is missing (it will be rebuilt on open)' })),
    );
    const log = await openLog(dir, options);
    expect(log.recovery.clean).toBe(false);
    expect(log.recovery.problems).toEqual([]);
    expect(log.logEndOffset).toBeGreaterThanOrEqual(acked);
    for (let o = 0; o < log.logEndOffset; o += 1 + (o % 13)) expect(log.get(o)?.value?.toString()).toBe(indexRecord(o).value);
    expect(writable(indexMappings(dir))).toEqual(activeIndexNames(dir));
    await appendBatches(log, 50);
    checkIndexFiles(dir, INTERVAL, true);
    await closeLog(log);
    checkIndexFiles(dir, INTERVAL, false);
    expect((await verifyLog(dir)).issues).toEqual([]);
    expect(readdirSync(dir).some((n) => n.endsWith('.timeindex'))).toBe(true);
  }, 120_000);
});
