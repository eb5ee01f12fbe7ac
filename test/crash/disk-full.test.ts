/**
 * Disk full: a small tmpfs is mounted for this file (the tests run as root; a
 * failing mount fails them, it does not skip them). A full file system must
 * surface as DiskFullError (code DISK_FULL, retriable) on the append that hit
 * it — never SIGBUS — with the log unchanged, readable, reopenable, and
 * accepting appends again once space is freed. Also when the disk fills at a
 * segment roll (no room for the new segment's preallocated indexes), and when
 * a log is opened on a disk with only a few pages left.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  ftruncateSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiskFullError, Log, TidelogError } from '../../src/index.js';
import { BASE_TIMESTAMP } from './records.mjs';
import { DIST_ENTRY, HERE, LogModel, checkLog, ensureDist, expectVerified, recordFor } from './util.js';

const PAGE = 4096;
const MOUNT_BYTES = 4 * 1024 * 1024;
/** A fresh tmpfs of MOUNT_BYTES per test, so that one test's leftovers cannot fill the next one's disk. */
let mnt = '';
let mounted = false;
const open: Log[] = [];

beforeAll(() => ensureDist(), 120_000);

beforeEach(() => {
  mnt = mkdtempSync(join(tmpdir(), 'tidelog-diskfull-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_BYTES}`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmdirSync(mnt);
    throw new Error(
      `the disk-full tests mount a ${MOUNT_BYTES}-byte tmpfs and must run as root: ` +
        `'mount -t tmpfs -o size=${MOUNT_BYTES} tmpfs ${mnt}' failed (uid ${process.getuid?.()}): ${r.error ?? r.stderr}`,
    );
  }
  mounted = true;
});

afterEach(async () => {
  for (const log of open.splice(0)) await log.close().catch(() => undefined);
  if (!mounted) return;
  mounted = false;
  // Buffers returned by reads may still map files of the mount: detach lazily if busy.
  const r = spawnSync('umount', [mnt]);
  if (r.status !== 0) execFileSync('umount', ['-l', mnt]);
  rmdirSync(mnt);
});

async function openLog(dir: string, options: Record<string, unknown>): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

async function closeLog(log: Log): Promise<void> {
  await log.close();
  open.splice(open.indexOf(log), 1);
}

function freeBytes(): number {
  const s = statfsSync(mnt);
  return Number(s.bavail) * Number(s.bsize);
}

/** Fills the file system to the last page with `path`; returns its fd (page-aligned size). */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  const big = Buffer.alloc(64 * 1024, 0xee);
  let pos = 0;
  for (const chunk of [big, big.subarray(0, PAGE)]) {
    for (;;) {
      let n: number;
      try {
        n = writeSync(fd, chunk, 0, chunk.length, pos);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
      pos += n;
      if (n < chunk.length) break;
    }
    pos -= pos % PAGE;
    ftruncateSync(fd, pos);
  }
  expect(freeBytes(), 'the file system is full').toBe(0);
  return fd;
}

/** Frees `pages` pages of a filler made by fillDisk. */
function freePages(fd: number, pages: number): void {
  ftruncateSync(fd, fstatSync(fd).size - pages * PAGE);
  expect(freeBytes()).toBe(pages * PAGE);
}

function expectDiskFull(err: unknown, what: string): void {
  expect(err, `${what}: throws`).toBeDefined();
  expect(err, `${what}: ${String(err)}`).toBeInstanceOf(DiskFullError);
  expect((err as TidelogError).code).toBe('DISK_FULL');
  expect((err as TidelogError).retriable).toBe(true);
}

function segmentFileCount(dir: string): number {
  return readdirSync(dir).filter((n) => /^\d{20}\.(log|index|timeindex)$/.test(n)).length;
}

const MAX_VALUE = 2000;

/** Appends a batch of generated records; on success the model learns it. */
async function appendTo(log: Log, model: LogModel, tag: string, count: number, acks: 'written' | 'durable', lz4 = false) {
  const base = log.logEndOffset;
  const records = Array.from({ length: count }, (_, j) => recordFor(tag, base + j, MAX_VALUE));
  const r = await log.append(records, { acks, compression: lz4 ? 'lz4' : 'none' });
  expect(r.baseOffset).toBe(base);
  model.addBatch(base, count, tag);
}

describe('disk full', () => {
  it('an append that finds the disk full throws DiskFullError and changes nothing; reopen and freeing space work', async () => {
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
    const dir = join(mnt, 'log');
    const options = { segmentBytes: 256 * 1024, maxMessageBytes: 256 * 1024, maxIndexBytes: 4096 };
    let log = await openLog(dir, options);
    const model = new LogModel();

    let failure: unknown;
    let failedCount = 0;
    let failedTag = '';
    let failedLz4 = false;
    for (let i = 0; i < 10_000 && failure === undefined; i++) {
      const end = log.logEndOffset;
      const durable = log.durableOffset;
      failedCount = 1 + (i % 13);
      failedTag = `full${i}`;
      failedLz4 = i % 5 === 4;
      try {
        await appendTo(log, model, failedTag, failedCount, i % 3 === 0 ? 'durable' : 'written', failedLz4);
      } catch (err) {
        failure = err;
        expect(log.logEndOffset, 'the failed append changed nothing').toBe(end);
        expect(log.durableOffset).toBe(durable);
      }
    }
    expectDiskFull(failure, 'the append that filled the disk');
    expect(model.end).toBeGreaterThan(1000); // ~3 MiB of records went in first
    expect(log.segments().length, 'the log rolled on the way').toBeGreaterThan(3);
    checkLog(log, model, MAX_VALUE);

    // Still full: the same append fails the same way, again changing nothing.
    const end = log.logEndOffset;
    let again: unknown;
    try {
      await appendTo(log, model, failedTag, failedCount, 'durable', failedLz4);
    } catch (err) {
      again = err;
    }
    expectDiskFull(again, 'the retried append on the still full disk');
    expect(log.logEndOffset).toBe(end);
    checkLog(log, model, MAX_VALUE);

    // Close and reopen on the full disk: exactly the acknowledged records.
    await closeLog(log);
    log = await openLog(dir, options);
    expect(log.recovery.clean).toBe(true);
    checkLog(log, model, MAX_VALUE);

    // Free space: appends succeed again, durable ones included.
    unlinkSync(filler);
    for (let i = 0; i < 20; i++) await appendTo(log, model, `freed${i}`, 1 + (i % 7), i % 2 ? 'durable' : 'written', i % 3 === 0);
    await log.flush();
    expect(log.durableOffset).toBe(model.end);
    checkLog(log, model, MAX_VALUE);
    await closeLog(log);
    log = await openLog(dir, options);
    checkLog(log, model, MAX_VALUE);
    await closeLog(log);
    await expectVerified(dir, model.end);
  });

  it("the disk fills at a segment roll (no room for the new segment's indexes): DiskFullError, the log stays usable", async () => {
    const dir = join(mnt, 'roll');
    const segmentBytes = 64 * 1024;
    // 64 KiB indexes: a new segment needs 128 KiB of preallocated index space.
    const options = { segmentBytes, maxMessageBytes: segmentBytes, maxIndexBytes: 64 * 1024, indexIntervalBytes: 4096 };
    const log = await openLog(dir, options);
    // Record `o` is key r<o>, a value of `size` bytes all (o & 0xff), timestamp BASE + o.
    const sizes: number[] = [];
    const records = (n: number, size: number) => {
      const base = sizes.length;
      return Array.from({ length: n }, (_, j) => ({
        key: `r${base + j}`,
        value: Buffer.alloc(size, (base + j) & 0xff),
        timestamp: BASE_TIMESTAMP + base + j,
      }));
    };
    const append = async (n: number, size: number, acks: 'written' | 'durable') => {
      const r = await log.append(records(n, size), { acks });
      expect(r.baseOffset).toBe(sizes.length);
      for (let j = 0; j < n; j++) sizes.push(size);
    };
    const expectContent = (l: Log) => {
      expect(l.logEndOffset).toBe(sizes.length);
      const all = l.readRecords(0, { maxBytes: 4 << 20 });
      expect(all.length).toBe(sizes.length);
      for (const r of all) {
        const want = Buffer.alloc(sizes[r.offset], r.offset & 0xff);
        if (r.key?.toString() !== `r${r.offset}` || !Buffer.from(r.value!).equals(want)) expect.fail(`record ${r.offset} differs`);
      }
    };

    // Fill the first segment to within 2,000 bytes of segmentBytes.
    while (segmentBytes - log.segments()[0].sizeBytes >= 2000) await append(1, 900, 'durable');
    expect(log.segments().length).toBe(1);

    // One free page: room for the ~2.9 KB batch below, not for a new segment
    // (its indexes need far more than trimming the old segment's indexes frees).
    const filler = fillDisk(join(mnt, 'filler'));
    freePages(filler, 1);
    const files = segmentFileCount(dir);
    const end = log.logEndOffset;

    // 3 records of 900 bytes do not fit in the segment's room: the append must roll.
    let failure: unknown;
    try {
      await append(3, 900, 'written');
    } catch (err) {
      failure = err;
    }
    expectDiskFull(failure, 'the append whose roll found no space');
    expect(String(failure)).toMatch(/index/); // it was the new segment's index that found no space
    expect(log.logEndOffset).toBe(end);
    expect(log.segments().length, 'no half-created segment').toBe(1);
    expect(segmentFileCount(dir), 'the new segment files were removed').toBe(files);
    expectContent(log);

    // Still usable on the full disk: a batch that fits the active segment goes in.
    await append(1, 50, 'durable');
    expectContent(log);

    // The rolling append fails the same way while the disk stays full...
    let again: unknown;
    try {
      await append(3, 900, 'written');
    } catch (err) {
      again = err;
    }
    expectDiskFull(again, 'the rolling append, retried on the full disk');
    expect(log.logEndOffset).toBe(end + 1);
    expect(log.segments().length).toBe(1);

    // ...and succeeds once space is freed; durable acks work.
    closeSync(filler);
    unlinkSync(join(mnt, 'filler'));
    await append(3, 900, 'durable');
    expect(log.segments().length, 'the roll happened').toBe(2);
    await log.flush();
    expect(log.durableOffset).toBe(end + 4);
    expectContent(log);
    await closeLog(log);
    const reopened = await openLog(dir, options);
    expect(reopened.segments().length).toBe(2);
    expectContent(reopened);
    await closeLog(reopened);
    await expectVerified(dir, end + 4);
  });

  it('on a full disk, a durable append that needs no new space is acknowledged, and close works: the recovery-point checkpoint is not data', async () => {
    const dir = join(mnt, 'ckpt');
    // indexIntervalBytes 0: an index entry per batch, so closing (which trims
    // the active segment's indexes) frees no page for the checkpoint either.
    const options = { segmentBytes: 16 * 1024, maxMessageBytes: 16 * 1024, maxIndexBytes: 4096, indexIntervalBytes: 0 };
    let log = await openLog(dir, options);
    const model = new LogModel();
    // 'written' appends until the segment rolls: the next sync rewrites the recovery-point checkpoint.
    let i = 0;
    while (log.segments().length < 2) await appendTo(log, model, `c${i++}`, 1, 'written');
    const room = PAGE - (log.segments()[1].sizeBytes % PAGE);
    expect(room, 'the active segment file has room left in its last page').toBeGreaterThan(300);
    expect(room).toBeLessThan(PAGE);
    const filler = fillDisk(join(mnt, 'filler'));

    // The record fits in the already allocated last page of the active
    // segment: writing it needs no space, and nor does syncing it.
    const base = log.logEndOffset;
    let error: unknown;
    try {
      const r = await log.append([{ key: 'k', value: 'fits in the last page', timestamp: BASE_TIMESTAMP + base }], { acks: 'durable' });
      expect(r.baseOffset).toBe(base);
    } catch (err) {
      error = err;
    }
    expect(
      error,
      `the durable append was written (logEndOffset ${log.logEndOffset}, was ${base}) and synced, ` +
        `yet rejected with ${String(error)}: a caller retrying a DiskFullError duplicates the record`,
    ).toBeUndefined();
    expect(log.durableOffset).toBe(base + 1);
    await log.flush();

    // Close on the full disk: everything is synced already.
    expect(freeBytes()).toBe(0);
    await closeLog(log);
    log = await openLog(dir, options);
    expect(log.logEndOffset).toBe(base + 1);
    expect(log.get(base)?.value?.toString()).toBe('fits in the last page');
    const rest = log.readRecords(0, { maxRecords: base });
    expect(rest.map((r) => r.offset)).toEqual(Array.from({ length: base }, (_, k) => k));
    closeSync(filler);
    unlinkSync(join(mnt, 'filler'));
    // Space freed: the log goes on.
    const after = await log.append([{ value: 'after', timestamp: BASE_TIMESTAMP + base + 1 }], { acks: 'durable' });
    expect(after.baseOffset).toBe(base + 1);
    await closeLog(log);
    await expectVerified(dir, base + 2);
  });

  it('opening a log with 0..8 free pages left: a typed error or success, never a crash; then it works', () => {
    const options = { segmentBytes: 64 * 1024, maxMessageBytes: 64 * 1024, maxIndexBytes: 4096 };
    const results: string[] = [];
    for (let pages = 0; pages <= 8; pages++) {
      const dir = join(mnt, `open${pages}`);
      const filler = fillDisk(join(mnt, 'filler'));
      freePages(filler, pages);
      closeSync(filler);
      const run = () => {
        const r = spawnSync(
          process.execPath,
          [join(HERE, 'disk-child.mjs'), JSON.stringify({ dist: DIST_ENTRY, dir, options, records: 2, valueBytes: 1500 })],
          { encoding: 'utf8' },
        );
        expect(r.signal, `a fresh log opened with ${pages} free pages: the process must not die (stderr: ${r.stderr})`).toBeNull();
        expect(r.status, `stderr: ${r.stderr}`).toBe(0);
        return JSON.parse(r.stdout.trim()) as { open: string; append: string | null; close: string | null; logEndOffset: number | null; message: string | null };
      };
      const first = run();
      for (const step of [first.open, first.append, first.close]) {
        expect([null, 'ok', 'DISK_FULL'], `${pages} pages free: ${JSON.stringify(first)}`).toContain(step);
      }
      // Whatever happened, once space is freed the log opens and takes appends.
      unlinkSync(join(mnt, 'filler'));
      const second = run();
      expect(second, `${pages} pages free, then space freed: ${JSON.stringify(second)}`).toMatchObject({
        open: 'ok',
        append: 'ok',
        close: 'ok',
      });
      // A durable append that was acknowledged is there; one that failed left nothing.
      expect(second.logEndOffset).toBe(first.append === 'ok' ? 4 : 2);
      results.push(`${pages}:${first.open}/${first.append}/${first.close}`);
      rmSync(dir, { recursive: true, force: true });
    }
    // With no free page the open itself cannot create the segment's indexes.
    expect(results[0]).toMatch(/^0:DISK_FULL/);
  });
});
