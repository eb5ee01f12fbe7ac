/**
 * Recovery, with damaged bytes as test inputs (LevelDB's log_test: cut files,
 * flipped bytes, zeros, garbage): a writer child killed with SIGKILL leaves an
 * unclean log, whose last batch is then cut at every byte; a flipped byte
 * after the recovery point, a zero-filled or garbage tail; missing and
 * zero-filled index files, rebuilt byte for byte; which segments a clean and
 * an unclean open scan; leftover files of interrupted work.
 */
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, type LogOptions, type ProducerRecord } from '../../src/index.js';
import { verifyLog } from '../../src/testing/index.js';
import { makeRecord, tempDir } from '../helpers.js';
import {
  type ModelRecord,
  copyDir,
  ensureDist,
  expectRecords,
  markUnclean,
  modelOf,
  parseBatches,
  plain,
  removeDir,
  rng,
  runChild,
  segPath,
  segmentBases,
  snapshot,
} from './util.js';

beforeAll(() => ensureDist(), 120_000);

const OPTIONS: LogOptions = {
  segmentBytes: 4096,
  maxMessageBytes: 4096,
  indexIntervalBytes: 200,
  maxIndexBytes: 1024,
  // Every sync rewrites the recovery point: the flush below sets it exactly.
  checkpointIntervalBytes: 0,
};

/** Batches of makeRecord records with timestamps that go back and forth. */
function batchesFrom(start: number, sizes: number[]): ProducerRecord[][] {
  let o = start;
  return sizes.map((n) =>
    Array.from({ length: n }, () => {
      const r = makeRecord(o);
      const ts = 1_000_000 + o * 10 + ((o * 7919) % 5) * 25; // not monotonic
      o++;
      return { ...r, value: `${r.value}-${'p'.repeat(60)}`, timestamp: ts };
    }),
  );
}

function modelOfBatches(batches: ProducerRecord[][]): ModelRecord[] {
  return batches.flat().map((r, i) => modelOf(r, i));
}

function checkAll(log: Log, model: readonly ModelRecord[]): void {
  expect(log.logEndOffset).toBe(model.length);
  expectRecords(log.readRecords(0, { maxBytes: 16 << 20 }), model);
}

function checkLookups(log: Log, model: readonly ModelRecord[]): void {
  checkAll(log, model);
  for (const m of model) expect(plain(log.get(m.offset) as ModelRecord)).toEqual(plain(m));
  for (const m of model) {
    for (const t of [m.timestamp - 1, m.timestamp, m.timestamp + 1]) {
      const first = model.find((x) => x.timestamp >= t);
      expect(log.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(first ? first.offset : null);
    }
  }
}

/** Writes `batches` in a fresh log in this process and closes it cleanly. */
async function writeLog(dir: string, batches: ProducerRecord[][], options: LogOptions = OPTIONS): Promise<void> {
  const log = await Log.open(dir, options);
  for (const b of batches) await log.append(b);
  await log.close();
}

/** Opens `dir`, checks it holds `model`, appends one record at the right offset, closes. */
async function reopenAndCheck(dir: string, model: readonly ModelRecord[], opened?: (log: Log) => void): Promise<Log> {
  const log = await Log.open(dir, OPTIONS);
  try {
    opened?.(log);
    checkAll(log, model);
    const rec = makeRecord(999);
    const r = await log.append(rec);
    expect(r.baseOffset).toBe(model.length);
    expect(plain(log.get(model.length) as ModelRecord)).toEqual(plain(modelOf(rec, model.length)));
  } finally {
    await log.close();
  }
  return log;
}

// The writer child: appends `before`, flushes (the recovery point is now its
// end), appends `after` (acks 'written': in the file, not synced), reports and
// kills itself.
const WRITER = `
const log = await tidelog.Log.open(arg.dir, arg.options);
for (const b of arg.before) await log.append(b);
await log.flush();
for (const b of arg.after) await log.append(b, { acks: 'written' });
process.stdout.write(JSON.stringify({ end: log.logEndOffset, durable: log.durableOffset }) + '\\n');
process.kill(process.pid, 'SIGKILL');
`;

describe('after a writer is killed (SIGKILL)', () => {
  const sizes = { before: Array.from({ length: 50 }, (_, i) => 1 + (i % 4)), after: [3, 1, 2, 4, 2] };
  const all = batchesFrom(0, [...sizes.before, ...sizes.after]);
  const before = all.slice(0, sizes.before.length);
  const after = all.slice(sizes.before.length);
  const model = modelOfBatches(all);
  const durableEnd = before.flat().length;
  let killed: string;

  beforeAll(async () => {
    killed = tempDir('tidelog-killed-');
    const run = await runChild(WRITER, { dir: killed, options: OPTIONS, before, after });
    expect(run.signal, run.stderr).toBe('SIGKILL');
    expect(run.lines).toEqual([{ end: model.length, durable: durableEnd }]);
    expect(existsSync(join(killed, '.clean-shutdown'))).toBe(false);
    expect(readFileSync(join(killed, 'recovery-point'), 'utf8')).toBe(`0\n${durableEnd}\n`);
  }, 60_000);

  it('reopens with every written record, scanning only from the recovery point', async () => {
    const dir = copyDir(killed);
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.recovery.clean).toBe(false);
      expect(log.recovery.recoveryPoint).toBe(durableEnd);
      expect(log.recovery.bytesTruncated).toBe(0);
      const segs = log.segments();
      expect(segs.length).toBeGreaterThan(3);
      const holding = segs.findIndex((s) => s.nextOffset > durableEnd || s.active);
      expect(log.recovery.segmentsRecovered).toBe(segs.length - holding);
      checkLookups(log, model);
    } finally {
      await log.close();
      removeDir(dir);
    }
  });

  it('cut at every byte inside the last batch: the log ends at the batch before, and appends go on', async () => {
    const active = Math.max(...segmentBases(killed));
    const file = readFileSync(segPath(killed, active, '.log'));
    const { batches, rest } = parseBatches(file);
    expect(rest).toBe(0);
    const last = batches[batches.length - 1];
    expect(last.lastOffset).toBe(model.length - 1);
    const kept = model.slice(0, last.baseOffset);
    for (let cut = last.position; cut < last.position + last.size; cut++) {
      const dir = copyDir(killed);
      truncateSync(segPath(dir, active, '.log'), cut);
      const log = await reopenAndCheck(dir, kept);
      expect(log.recovery.clean).toBe(false);
      expect(log.recovery.bytesTruncated).toBe(cut - last.position);
      removeDir(dir);
    }
  });

  it('a flipped byte in a batch after the recovery point is caught: the log ends before that batch', async () => {
    const active = Math.max(...segmentBases(killed));
    const file = readFileSync(segPath(killed, active, '.log'));
    const { batches } = parseBatches(file);
    // The second batch appended after the flush, followed by three more.
    const victim = batches.find((b) => b.baseOffset === durableEnd + after[0].length);
    expect(victim).toBeDefined();
    const v = victim as (typeof batches)[number];
    const kept = model.slice(0, v.baseOffset);
    // Every byte the checks cover: batchLength, magic, CRC, and everything the CRC covers.
    // (baseOffset and partitionLeaderEpoch are outside the CRC in Kafka's format.)
    const positions = [8, 9, 10, 11];
    for (let p = 16; p < v.size; p++) positions.push(p);
    for (const p of positions) {
      const dir = copyDir(killed);
      const bytes = Buffer.from(file);
      bytes[v.position + p] ^= 0xff;
      writeFileSync(segPath(dir, active, '.log'), bytes);
      const log = await reopenAndCheck(dir, kept);
      expect(log.recovery.bytesTruncated, `byte ${p}`).toBe(file.length - v.position);
      removeDir(dir);
    }
  });
});

describe('damaged tails', () => {
  const batches = batchesFrom(0, Array.from({ length: 25 }, (_, i) => 1 + (i % 5)));
  const model = modelOfBatches(batches);
  let clean: string;
  beforeAll(async () => {
    clean = tempDir('tidelog-tail-');
    await writeLog(clean, batches);
  });

  async function withTail(tail: Buffer, recoveryPoint: number): Promise<void> {
    const dir = copyDir(clean);
    const active = Math.max(...segmentBases(dir));
    const path = segPath(dir, active, '.log');
    const size = statSync(path).size;
    appendFileSync(path, tail);
    markUnclean(dir, recoveryPoint);
    const log = await reopenAndCheck(dir, model, () => {
      // The file is cut back to its last valid batch.
      expect(statSync(path).size).toBe(size);
    });
    expect(log.recovery.clean).toBe(false);
    expect(log.recovery.bytesTruncated).toBe(tail.length);
    removeDir(dir);
  }

  it('a zero-filled tail (8 KiB) is removed', async () => {
    await withTail(Buffer.alloc(8192), model.length);
    await withTail(Buffer.alloc(8192), 0);
  });

  it('a garbage tail is removed', async () => {
    const next = rng(7);
    for (const len of [1, 60, 61, 4000]) {
      const garbage = Buffer.alloc(len);
      for (let i = 0; i < len; i++) garbage[i] = Math.floor(next() * 256);
      await withTail(garbage, model.length);
    }
  });

  it('a valid copy of the last batch (offsets going back) is removed', async () => {
    const active = Math.max(...segmentBases(clean));
    const file = readFileSync(segPath(clean, active, '.log'));
    const last = parseBatches(file).batches.at(-1) as { position: number; size: number };
    await withTail(file.subarray(last.position, last.position + last.size), model.length);
  });

  it('a header that promises more bytes than the file has is removed', async () => {
    const active = Math.max(...segmentBases(clean));
    const file = readFileSync(segPath(clean, active, '.log'));
    const last = parseBatches(file).batches.at(-1) as { position: number; size: number; lastOffset: number };
    const torn = Buffer.from(file.subarray(last.position, last.position + 100));
    torn.writeBigInt64BE(BigInt(last.lastOffset + 1), 0);
    torn.writeInt32BE(5000, 8);
    await withTail(torn, model.length);
  });
});

describe('index files are rebuilt from the log, byte for byte', () => {
  const model: ModelRecord[] = [];
  let original: string;
  let indexes: Map<string, Buffer>;

  beforeAll(async () => {
    original = tempDir('tidelog-index-');
    // segmentMs only to force the last roll below.
    const log = await Log.open(original, { ...OPTIONS, segmentMs: 1_000_000 });
    let i = 0;
    while (log.segments().length < 3) {
      const [b] = batchesFrom(model.length, [1 + (i++ % 6)]);
      const r = await log.append(b);
      b.forEach((rec, j) => model.push(modelOf(rec, r.baseOffset + j)));
    }
    // Then a small active segment: one batch of one record, far newer than the
    // rest (so it rolls by segmentMs). Its offset index is empty and its time
    // index holds just the final entry; its record is the only answer for its time.
    const last = { key: 'last', value: 'newest', timestamp: 9_000_000 };
    const r = await log.append(last);
    model.push(modelOf(last, r.baseOffset));
    expect(log.segments()).toHaveLength(4);
    expect(log.segments()[3].baseOffset).toBe(r.baseOffset);
    await log.close();
    indexes = snapshot(original, (n) => /\.(time)?index$/.test(n));
    const bases = segmentBases(original);
    expect(bases).toHaveLength(4);
    expect(indexes.get(`${String(bases[1]).padStart(20, '0')}.index`)?.length).toBeGreaterThan(8);
    expect(indexes.get(`${String(bases[1]).padStart(20, '0')}.timeindex`)?.length).toBeGreaterThan(12);
    expect(indexes.get(`${String(bases[3]).padStart(20, '0')}.index`)?.length).toBe(0);
    expect(indexes.get(`${String(bases[3]).padStart(20, '0')}.timeindex`)?.length).toBe(12);
  });

  const zeroFill = (path: string) => writeFileSync(path, Buffer.alloc(statSync(path).size));
  type Damage = (dir: string, bases: number[]) => void;
  const cases: [string, Damage][] = [
    ['sealed .index deleted', (d, b) => rmSync(segPath(d, b[1], '.index'))],
    ['sealed .timeindex deleted', (d, b) => rmSync(segPath(d, b[1], '.timeindex'))],
    ['active .index and .timeindex deleted', (d, b) => {
      rmSync(segPath(d, b[3], '.index'));
      rmSync(segPath(d, b[3], '.timeindex'));
    }],
    ['every index file deleted', (d) => {
      for (const n of readdirSync(d)) if (/\.(time)?index$/.test(n)) rmSync(join(d, n));
    }],
    ['sealed .index zero-filled', (d, b) => zeroFill(segPath(d, b[1], '.index'))],
    ['sealed .timeindex zero-filled', (d, b) => zeroFill(segPath(d, b[1], '.timeindex'))],
    ['active .timeindex zero-filled (one entry)', (d, b) => zeroFill(segPath(d, b[3], '.timeindex'))],
    ['every index file zero-filled', (d) => {
      for (const n of readdirSync(d)) if (/\.(time)?index$/.test(n)) zeroFill(join(d, n));
    }],
  ];

  for (const [name, damage] of cases) {
    for (const clean of [true, false]) {
      it(`${name}, ${clean ? 'clean' : 'unclean'} open`, async () => {
        const dir = copyDir(original);
        damage(dir, segmentBases(dir));
        if (!clean) markUnclean(dir, model.length);
        const log = await Log.open(dir, { ...OPTIONS, segmentMs: 1_000_000 });
        try {
          checkLookups(log, model);
        } finally {
          await log.close();
        }
        expect(snapshot(dir, (n) => /\.(time)?index$/.test(n))).toEqual(indexes);
        removeDir(dir);
      });
    }
  }
});

describe('what opening scans', () => {
  const batches = batchesFrom(0, Array.from({ length: 120 }, (_, i) => 1 + (i % 5)));
  const model = modelOfBatches(batches);
  let dir: string;
  let segs: { baseOffset: number; sizeBytes: number }[];

  beforeAll(async () => {
    dir = tempDir('tidelog-scan-');
    const log = await Log.open(dir, OPTIONS);
    for (const b of batches) await log.append(b);
    segs = log.segments();
    await log.close();
    expect(segs.length).toBeGreaterThanOrEqual(8);
  });

  it('a clean reopen scans nothing', async () => {
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.recovery).toMatchObject({ clean: true, segments: segs.length, segmentsRecovered: 0, bytesTruncated: 0 });
      checkAll(log, model);
    } finally {
      await log.close();
    }
  });

  it('an unclean reopen scans only from the segment that holds the recovery point', async () => {
    const total = segs.reduce((n, s) => n + s.sizeBytes, 0);
    for (const [k, delta] of [
      [segs.length - 1, 0],
      [segs.length - 2, 1],
      [segs.length - 3, 0],
      [0, 0],
    ]) {
      const rp = segs[k].baseOffset + delta;
      markUnclean(dir, rp);
      const log = await Log.open(dir, OPTIONS);
      try {
        expect(log.recovery.clean).toBe(false);
        expect(log.recovery.recoveryPoint).toBe(rp);
        expect(log.recovery.segmentsRecovered, `recovery point ${rp}`).toBe(segs.length - k);
        expect(log.recovery.bytesTruncated).toBe(0);
        const scanned = segs.slice(k).reduce((n, s) => n + s.sizeBytes, 0);
        expect(log.recovery.bytesScanned).toBeLessThanOrEqual(scanned);
        if (k > 0) expect(log.recovery.bytesScanned).toBeLessThan(total);
        checkAll(log, model);
      } finally {
        await log.close();
      }
    }
    // A lost recovery-point file: everything is scanned.
    markUnclean(dir, 0);
    rmSync(join(dir, 'recovery-point'));
    const log = await Log.open(dir, OPTIONS);
    expect(log.recovery.segmentsRecovered).toBe(segs.length);
    checkAll(log, model);
    await log.close();
  });
});

describe('leftover files', () => {
  it('a roll a kill interrupted (the next empty .log and its .index, no .timeindex) is finished by open', async () => {
    const dir = tempDir('tidelog-roll-kill-');
    const batches = batchesFrom(0, Array.from({ length: 30 }, (_, i) => 1 + (i % 4)));
    const model = modelOfBatches(batches);
    await writeLog(dir, batches);
    const end = model.length;
    // Segment::Create makes the .log, then the .index, then the .timeindex: killed in between.
    writeFileSync(segPath(dir, end, '.log'), '');
    writeFileSync(segPath(dir, end, '.index'), Buffer.alloc(OPTIONS.maxIndexBytes as number));
    markUnclean(dir, end);
    expect((await verifyLog(dir)).issues).toEqual([
      { file: segPath(dir, end, '.timeindex'), offset: -1, position: -1, problem: 'index file is missing (it will be rebuilt on open)' },
    ]);
    const log = await Log.open(dir, OPTIONS);
    try {
      expect(log.recovery.clean).toBe(false);
      expect(log.recovery.problems).toEqual([]);
      checkAll(log, model);
      expect(log.segments().at(-1)).toMatchObject({ baseOffset: end, nextOffset: end, active: true });
      const more = batchesFrom(end, [3, 2]);
      for (const b of more) log.appendSync(b);
      checkAll(log, modelOfBatches([...batches, ...more]));
      checkLookups(log, modelOfBatches([...batches, ...more]));
    } finally {
      await log.close();
    }
    expect(existsSync(segPath(dir, end, '.timeindex'))).toBe(true);
    expect((await verifyLog(dir)).issues).toEqual([]);
  });


  it('removes *.deleted, *.cleaned and *.tmp files and index files without a log', async () => {
    const dir = tempDir('tidelog-leftover-');
    const batches = batchesFrom(0, Array.from({ length: 40 }, (_, i) => 1 + (i % 5)));
    const model = modelOfBatches(batches);
    await writeLog(dir, batches);
    const bases = segmentBases(dir);
    const segFiles = snapshot(dir, (n) => /^\d{20}\./.test(n));
    const first = readFileSync(segPath(dir, bases[0], '.log'));
    const leftovers = [
      `${String(bases[1]).padStart(20, '0')}.log.deleted`,
      `${String(bases[1]).padStart(20, '0')}.index.deleted`,
      `${String(bases[0]).padStart(20, '0')}.log.cleaned`,
      'recovery-point.tmp',
      `${String(bases[2]).padStart(20, '0')}.log.tmp`,
      '00000000000000099999.index',
      '00000000000000099999.timeindex',
      `${String(bases[0] + 1).padStart(20, '0')}.index`,
    ];
    for (const n of leftovers) writeFileSync(join(dir, n), first);
    for (const clean of [true, false]) {
      if (!clean) {
        for (const n of leftovers) writeFileSync(join(dir, n), first);
        markUnclean(dir, 0);
      }
      const log = await Log.open(dir, OPTIONS);
      try {
        for (const n of leftovers) expect(existsSync(join(dir, n)), n).toBe(false);
        checkLookups(log, model);
      } finally {
        await log.close();
      }
      expect(snapshot(dir, (n) => /^\d{20}\./.test(n))).toEqual(segFiles);
    }
  });
});
