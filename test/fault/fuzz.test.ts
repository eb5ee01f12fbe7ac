/**
 * Fuzzing what the log reads from disk (fast-check, seeded, a few seconds
 * each): garbage index, checkpoint and head files; the mutated tail of a log
 * killed with kill -9; batches whose records are malformed under a matching
 * CRC. Never a crash or an out-of-bounds read (`npm run test:asan` runs these
 * under AddressSanitizer), never an error that is not a TidelogError, and
 * never a wrong record: what reads return is a prefix of what was written.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, TidelogError, verifyLog } from '../../src/index.js';
import { native } from '../../src/native.js';
import { tempDir } from '../helpers.js';
import { type BatchFrame, copyDir, ensureDist, markUnclean, parseBatches, removeDir, runChild, segPath, segmentBases } from '../log/util.js';
import { LOG_OPTIONS, PER, buildLog, fcOptions, lookUpTimestamps, readEverything, recordsFor, writeAt } from './corruption-util.js';

/** Bytes that look like index entries more often than random ones do. */
const indexGarbage = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.array(fc.tuple(fc.integer({ min: -2, max: 400 }), fc.integer({ min: -2, max: 5000 })), { maxLength: 20 }).map((es) => {
    const b = Buffer.alloc(es.length * 8);
    es.forEach(([rel, pos], i) => {
      b.writeInt32BE(rel, i * 8);
      b.writeInt32BE(pos, i * 8 + 4);
    });
    return new Uint8Array(b);
  }),
  fc.array(fc.tuple(fc.integer({ min: 999_990, max: 1_000_500 }), fc.integer({ min: -2, max: 400 })), { maxLength: 20 }).map((es) => {
    const b = Buffer.alloc(es.length * 12);
    es.forEach(([ts, rel], i) => {
      b.writeBigInt64BE(BigInt(ts), i * 12);
      b.writeInt32BE(rel, i * 12 + 8);
    });
    return new Uint8Array(b);
  }),
);

describe('index files full of garbage', () => {
  let pristine: string;
  let model: ReturnType<typeof recordsFor>;
  let bases: number[];
  beforeAll(async () => {
    pristine = tempDir();
    model = await buildLog(pristine);
    bases = segmentBases(pristine);
  });

  it('are repaired or worked around: every read is right, after a clean or an unclean stop', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('.index' as const, '.timeindex' as const), indexGarbage), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (damage, unclean) => {
          const dir = copyDir(pristine);
          try {
            for (const [which, suffix, bytes] of damage) writeFileSync(segPath(dir, bases[which % bases.length], suffix), bytes);
            if (unclean) markUnclean(dir, model.length);
            const log = await Log.open(dir, LOG_OPTIONS);
            expect(log.logEndOffset).toBe(model.length);
            const out = readEverything(log, model);
            expect(out.errors).toEqual([]);
            expect(out.getNull).toEqual([]);
            expect(out.scanned.size).toBe(model.length);
            expect(lookUpTimestamps(log, model)).toEqual([]);
            await log.close();
          } finally {
            removeDir(dir);
          }
        },
      ),
      fcOptions(0xf022, 40),
    );
  }, 60_000);
});

describe('checkpoint and head files full of garbage', () => {
  it('cost a longer scan at most: the log opens and reads right', async () => {
    const pristine = tempDir();
    const model = await buildLog(pristine, 30);
    const names = ['recovery-point', 'log-start-offset', '.head'];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...names), fc.uint8Array({ maxLength: 5000 })), { minLength: 1, maxLength: 3 }), async (files) => {
        const dir = copyDir(pristine);
        try {
          for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
          const log = await Log.open(dir, LOG_OPTIONS);
          expect(log.logStartOffset).toBe(0);
          const out = readEverything(log, model);
          expect(out.errors).toEqual([]);
          expect(out.scanned.size).toBe(model.length);
          await log.close();
          expect(readFileSync(join(dir, 'recovery-point'), 'utf8')).toBe(`0\n${model.length}\n`);
        } finally {
          removeDir(dir);
        }
      }),
      fcOptions(0xc0ffee, 30),
    );
  }, 60_000);
});

describe('recovery of a mutated tail after kill -9', () => {
  // No flush: the recovery point stays at the start, so the whole log is the
  // unsynced tail that recovery checks (CRC included) and cuts.
  const CHILD = `
    const log = await tidelog.Log.open(arg.dir, arg.options);
    const rec = (i) => ({ key: 'k' + (i % 100), value: 'v' + i + '-' + 'x'.repeat(i % 17), timestamp: 1_000_000 + i });
    for (let b = 0; b < arg.batches; b++) log.appendSync(Array.from({ length: arg.per }, (_, i) => rec(b * arg.per + i)));
    process.kill(process.pid, 'SIGKILL');
  `;
  const BATCHES = 40;
  let pristine: string;
  let model: ReturnType<typeof recordsFor>;
  let active: number;
  let frames: BatchFrame[];
  let tailStart: number;
  beforeAll(async () => {
    ensureDist();
    pristine = tempDir();
    const run = await runChild(CHILD, { dir: pristine, options: LOG_OPTIONS, batches: BATCHES, per: PER });
    expect(run.signal).toBe('SIGKILL');
    model = recordsFor(BATCHES);
    active = Math.max(...segmentBases(pristine));
    frames = parseBatches(readFileSync(segPath(pristine, active, '.log'))).batches;
    const rp = Number(readFileSync(join(pristine, 'recovery-point'), 'utf8').split('\n')[1]);
    // Mutations go after the recovery point: that is the tail a crash may tear.
    tailStart = frames.find((f) => f.lastOffset >= rp)?.position ?? 0;
    expect(frames.length - frames.findIndex((f) => f.position === tailStart)).toBeGreaterThanOrEqual(3);
  }, 120_000);

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('zeros' as const), at: fc.nat(), extra: fc.nat({ max: 3000 }) }),
  );

  it('reopens to a prefix of what was written, which verifyLog finds whole', async () => {
    const last = frames.at(-1)!;
    const size = last.position + last.size;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const dir = copyDir(pristine);
        try {
          const file = segPath(dir, active, '.log');
          const at = 'at' in m ? tailStart + (m.at % (size - tailStart)) : 0;
          switch (m.kind) {
            case 'garbage':
              writeAt(file, size, m.bytes);
              break;
            case 'overwrite': {
              // Not over the base offset of the log's last batch: documented as undetectable.
              const end = at + m.bytes.length;
              if (at < last.position + 8 && end > last.position) return;
              writeAt(file, at, m.bytes.subarray(0, size - at));
              break;
            }
            case 'cut':
              writeFileSync(file, readFileSync(file).subarray(0, at));
              break;
            case 'zeros': // unsynced pages lost, the file still as long (or longer)
              writeAt(file, at, Buffer.alloc(size - at + m.extra));
              break;
          }
          const log = await Log.open(dir, LOG_OPTIONS);
          expect(log.recovery.clean).toBe(false);
          const end = log.logEndOffset;
          expect(end).toBeLessThanOrEqual(model.length);
          expect(end % PER).toBe(0);
          const out = readEverything(log, model, end);
          expect(out.errors).toEqual([]);
          expect(out.getNull).toEqual([]);
          expect(out.scanned.size).toBe(end);
          await log.close();
          expect((await verifyLog(dir)).issues).toEqual([]);
        } finally {
          removeDir(dir);
        }
      }),
      fcOptions(0x7a11, 60),
    );
  }, 60_000);
});

describe('batches whose records are malformed under a matching CRC', () => {
  // Such a batch cannot be appended (appendBatches checks uncompressed
  // records); it can only be written into a segment file from outside. Point
  // reads walk its records natively; readRecords decodes them in JS.
  let pristine: string;
  let frames: BatchFrame[];
  beforeAll(async () => {
    pristine = tempDir();
    const log = await Log.open(pristine, { indexIntervalBytes: 600 });
    // Batches of 40 records: large enough for the native table of record positions.
    for (let b = 0; b < 6; b++) log.appendSync(Array.from({ length: 40 }, (_, i) => ({ key: `k${b * 40 + i}`, value: 'v'.repeat(i % 9), timestamp: 1_000_000 + b * 40 + i })));
    await log.close();
    frames = parseBatches(readFileSync(segPath(pristine, 0, '.log'))).batches;
  });

  it('fail with typed errors, never a crash or a record from outside the batch', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (which, sets) => {
          const dir = copyDir(pristine);
          try {
            const file = segPath(dir, 0, '.log');
            const bytes = readFileSync(file);
            const f = frames[which];
            const batch = bytes.subarray(f.position, f.position + f.size);
            for (const [at, v] of sets) batch[61 + (at % (f.size - 61))] = v; // records only: framing holds
            batch.writeUInt32BE(native.crc32c(batch.subarray(21)), 17);
            writeFileSync(file, bytes);
            const log = await Log.open(dir, { indexIntervalBytes: 600 });
            for (let o = f.baseOffset; o <= f.lastOffset; o++) {
              try {
                const r = log.get(o);
                if (r !== null) expect(r.offset).toBe(o);
              } catch (err) {
                if (!(err instanceof TidelogError)) throw err;
              }
              try {
                for (const r of log.readRecords(o, { maxRecords: 3 })) expect(r.offset).toBeGreaterThanOrEqual(o);
              } catch (err) {
                if (!(err instanceof TidelogError)) throw err;
              }
            }
            for (const t of [999_999, 1_000_000 + f.baseOffset, 1_000_000 + f.lastOffset, 2_000_000]) {
              try {
                log.offsetForTimestamp(t);
              } catch (err) {
                if (!(err instanceof TidelogError)) throw err;
              }
            }
            // The other batches are untouched.
            const other = frames[(which + 1) % frames.length];
            expect(log.get(other.baseOffset)!.key!.toString()).toBe(`k${other.baseOffset}`);
            await log.close();
            expect(statSync(file).size).toBe(bytes.length);
          } finally {
            removeDir(dir);
          }
        },
      ),
      fcOptions(0xbadc0de, 60),
    );
  }, 60_000);
});
