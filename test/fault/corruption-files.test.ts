/**
 * Damaged files other than segment data: `.index` / `.timeindex` (bytes
 * flipped, cut, deleted), the recovery-point checkpoint, a store's producer
 * `.snapshot` files and its topics.json. What can be rebuilt is rebuilt
 * (indexes, checkpoint, producer state) and never costs a wrong answer in the
 * meantime; what cannot (topic metadata) is a typed error. verifyLog (and
 * verifyStore of tidelog/testing, which runs it on every partition) report
 * each of them beforehand.
 */
import { existsSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CorruptMetadataError, Log, Store, encodeBatch, verifyLog } from '../../src/index.js';
import { verifyStore } from '../../src/testing/index.js';
import { snapshotFileName } from '../../src/producer-state.js';
import { tempDir } from '../helpers.js';
import { copyDir, markUnclean, removeDir, segPath, segmentBases } from '../log/util.js';
import { LOG_OPTIONS, buildLog, fcOptions, flipByte, lookUpTimestamps, readEverything, recordsFor } from './corruption-util.js';

/** Opens, reads everything through every lookup path (all must succeed), closes. */
async function readsAllCorrectly(dir: string, model: ReturnType<typeof recordsFor>) {
  const log = await Log.open(dir, LOG_OPTIONS);
  expect(log.logEndOffset).toBe(model.length);
  const out = readEverything(log, model);
  expect(out.errors).toEqual([]);
  expect(out.getNull).toEqual([]);
  expect(out.scanned.size).toBe(model.length);
  expect(lookUpTimestamps(log, model)).toEqual([]);
  const recovery = log.recovery;
  await log.close();
  return recovery;
}

/** The segment files of `dir`, by name. */
function indexFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of readdirSync(dir).sort()) if (/\.(index|timeindex)$/.test(n)) out.set(n, readFileSync(join(dir, n)));
  return out;
}

describe('index files', () => {
  let pristine: string;
  let model: ReturnType<typeof recordsFor>;
  let bases: number[];
  let original: Map<string, Buffer>;
  beforeAll(async () => {
    pristine = tempDir();
    model = await buildLog(pristine);
    bases = segmentBases(pristine);
    original = indexFiles(pristine);
    for (const [name, bytes] of original) expect(bytes.length, name).toBeGreaterThan(0);
  });

  it('a flipped byte: reported by verifyLog, never a wrong or failed read, rebuilt byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom('.index' as const, '.timeindex' as const),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (which, suffix, at, mask) => {
          const base = bases[which % bases.length];
          const dir = copyDir(pristine);
          try {
            const file = segPath(dir, base, suffix);
            flipByte(file, at % statSync(file).size, mask);
            const before = await verifyLog(dir);
            expect(before.ok).toBe(false);
            expect(before.issues.every((i) => i.file === file)).toBe(true);
            // First session: every lookup is right, whatever the index says.
            await readsAllCorrectly(dir, model);
            // By the next session the index is rebuilt (found damaged at open, or when a lookup used the bad entry).
            await (await Log.open(dir, LOG_OPTIONS)).close();
            expect((await verifyLog(dir)).issues).toEqual([]);
            expect(indexFiles(dir)).toEqual(original);
          } finally {
            removeDir(dir);
          }
        },
      ),
      fcOptions(0x1de7, 40),
    );
  }, 60_000);

  it('cut mid-entry, or deleted: rebuilt at open and reported', async () => {
    const cases: [string, (dir: string) => void][] = [
      ['sealed .index cut mid-entry', (d) => truncateSync(segPath(d, bases[1], '.index'), statSync(segPath(d, bases[1], '.index')).size - 3)],
      ['active .timeindex cut mid-entry', (d) => truncateSync(segPath(d, bases.at(-1)!, '.timeindex'), 5)],
      ['sealed .index deleted', (d) => unlinkSync(segPath(d, bases[0], '.index'))],
      ['sealed .timeindex deleted', (d) => unlinkSync(segPath(d, bases[2], '.timeindex'))],
      [
        'every index deleted',
        (d) => {
          for (const n of readdirSync(d)) if (/\.(index|timeindex)$/.test(n)) unlinkSync(join(d, n));
        },
      ],
    ];
    for (const [what, damage] of cases) {
      const dir = copyDir(pristine);
      damage(dir);
      expect((await verifyLog(dir)).ok, what).toBe(false);
      const recovery = await readsAllCorrectly(dir, model);
      expect(recovery.problems.join('\n'), what).toMatch(/cannot be trusted/);
      expect(indexFiles(dir), what).toEqual(original);
      expect((await verifyLog(dir)).ok, what).toBe(true);
      removeDir(dir);
    }
  });
});

describe('the recovery-point checkpoint', () => {
  it('damaged or garbage: the open scans (and checks) everything, reads are right, a new checkpoint is written', async () => {
    const pristine = tempDir();
    const model = await buildLog(pristine, 30);
    const good = readFileSync(join(pristine, 'recovery-point'), 'utf8');
    expect(good).toBe(`0\n${model.length}\n`);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, mask]) => {
            const b = Buffer.from(good);
            b[at % b.length] ^= mask;
            return b;
          }),
        ),
        fc.boolean(),
        async (bytes, unclean) => {
          const dir = copyDir(pristine);
          try {
            if (unclean) markUnclean(dir, 0);
            writeFileSync(join(dir, 'recovery-point'), bytes);
            await readsAllCorrectly(dir, model);
            expect(readFileSync(join(dir, 'recovery-point'), 'utf8')).toBe(good);
            expect((await verifyLog(dir)).ok).toBe(true);
          } finally {
            removeDir(dir);
          }
        },
      ),
      fcOptions(0xc4ec, 30),
    );
  }, 60_000);

  it('verifyLog reports one that does not parse', async () => {
    const dir = tempDir();
    await buildLog(dir, 5);
    writeFileSync(join(dir, 'recovery-point'), '0\nnot a number\n');
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([expect.objectContaining({ file: join(dir, 'recovery-point'), problem: 'not a valid offset checkpoint' })]);
  });
});

describe('a store: producer snapshots and topic metadata', () => {
  /** An idempotent batch as a client sends it. */
  const batch = (producerId: number, baseSequence: number, n: number) =>
    encodeBatch(
      Array.from({ length: n }, (_, i) => ({ value: `p${baseSequence + i}`, timestamp: 1000 + i })),
      { producerId, producerEpoch: 0, baseSequence },
    );

  let pristine: string;
  beforeAll(async () => {
    pristine = tempDir();
    const store = await Store.open(pristine);
    await store.createTopic('t');
    const part = store.partition('t', 0);
    for (let i = 0; i < 4; i++) await part.appendBatches(batch(5, 2 * i, 2));
    await store.close();
    expect(existsSync(join(pristine, 't-0', snapshotFileName(8)))).toBe(true);
    expect((await verifyStore(pristine)).ok).toBe(true);
  });

  it('a damaged snapshot is reported, discarded and rebuilt from the log: retries are still recognised', async () => {
    const snap = snapshotFileName(8);
    const size = statSync(join(pristine, 't-0', snap)).size;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: size - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const dir = copyDir(pristine);
        try {
          const file = join(dir, 't-0', snap);
          flipByte(file, at, mask);
          const report = await verifyStore(dir);
          expect(report.ok).toBe(false);
          expect(report.issues).toEqual([
            expect.objectContaining({ topic: 't', partition: 0, file, problem: expect.stringMatching(/producer snapshot/) }),
          ]);
          const store = await Store.open(dir);
          try {
            expect(existsSync(file)).toBe(false);
            const part = store.partition('t', 0);
            // The last batches of producer 5, rebuilt from the log, answer a retry with their offsets.
            for (let i = 0; i < 4; i++) {
              expect((await part.appendBatches(batch(5, 2 * i, 2))).batches[0]).toEqual({ baseOffset: 2 * i, lastOffset: 2 * i + 1, duplicate: true });
            }
            expect(store.log('t', 0).logEndOffset).toBe(8);
          } finally {
            await store.close();
          }
          expect((await verifyStore(dir)).ok).toBe(true);
        } finally {
          removeDir(dir);
        }
      }),
      fcOptions(0x5a4b, 12),
    );
  }, 60_000);

  it('damaged topic metadata: CorruptMetadataError at open, reported by verifyStore', async () => {
    const good = readFileSync(join(pristine, 'topics.json'));
    const variants: Buffer[] = [
      good.subarray(0, good.length >> 1),
      Buffer.from('[]'),
      Buffer.from('{"version":1}'),
      Buffer.from('{"version":1,"topics":{"t":{"partitions":-1}}}'),
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }), { seed: 0x70b1c, numRuns: 6 }).map((u) => Buffer.from(u)),
    ];
    for (const bytes of variants) {
      const dir = copyDir(pristine);
      writeFileSync(join(dir, 'topics.json'), bytes);
      const report = await verifyStore(dir);
      expect(report.ok, bytes.toString('hex')).toBe(false);
      expect(report.issues.some((i) => i.file === join(dir, 'topics.json'))).toBe(true);
      await expect(Store.open(dir), bytes.toString('hex')).rejects.toBeInstanceOf(CorruptMetadataError);
      removeDir(dir);
    }
    // A well-formed file of an unknown version is refused too.
    const dir = copyDir(pristine);
    writeFileSync(join(dir, 'topics.json'), '{"version":2,"topics":{}}');
    await expect(Store.open(dir)).rejects.toBeInstanceOf(CorruptMetadataError);
    removeDir(dir);
  });
});
