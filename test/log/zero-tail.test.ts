/**
 * The zero tail (docs/architecture.md, "Zero tail"): sync jobs keep the
 * active segment's `.log` written with zeros ahead of the appends, so that
 * durable appends overwrite allocated blocks. Checked here: the tail is never
 * read as data (by the writer, a reader, verifyLog), a roll and a clean close
 * cut it off, and a writer killed with a tail in place, and the power-loss
 * states such a kill can leave, reopen with every durable record and no
 * reported problem.
 */
import { cpSync, existsSync, openSync, readFileSync, readdirSync, statSync, closeSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Log, verifyLog } from '../../src/index.js';
import { crashChild, readHead, simulatePowerLoss } from '../../src/testing/index.js';
import { ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';
import { ZERO_TAIL_CHUNK, isZero } from './util.js';
// @ts-expect-error: plain ESM helper shared with the child process
import { zeroTailRecord } from './zero-tail-writer.mjs';

const CHUNK = ZERO_TAIL_CHUNK;
const WRITER = join(import.meta.dirname, 'zero-tail-writer.mjs');
const record = zeroTailRecord as (offset: number) => { key: string; value: Buffer; timestamp: number };

const logFile = (dir: string, base: number) => join(dir, `${String(base).padStart(20, '0')}.log`);
const batchFrom = (base: number, n = 100) => Array.from({ length: n }, (_, i) => record(base + i));

/** Reads every record from `from` and checks each is the one written at its offset; returns the count. */
function checkRecords(log: Log, from = 0): number {
  let n = 0;
  for (let at = from; at < log.logEndOffset; ) {
    const recs = log.readRecords(at, { maxRecords: 10_000 });
    expect(recs.length, `records at ${at}`).toBeGreaterThan(0);
    for (const r of recs) {
      const want = record(r.offset);
      expect(r.key?.toString(), `key at ${r.offset}`).toBe(want.key);
      expect(Buffer.compare(r.value as Buffer, want.value), `value at ${r.offset}`).toBe(0);
      n++;
    }
    at = recs[recs.length - 1].offset + 1;
  }
  expect(log.readRecords(log.logEndOffset)).toEqual([]);
  return n;
}

describe('zero tail', () => {
  it('durable appends leave a zero tail that no read returns, and close cuts it off', async () => {
    const dir = join(tempDir('tidelog-zt-'), 'p');
    const log = await Log.open(dir, { acks: 'durable' });
    for (let i = 0; i < 40; i++) await log.append(batchFrom(log.logEndOffset));
    const [seg] = log.segments();
    const path = logFile(dir, 0);
    const fileSize = statSync(path).size;
    expect(fileSize).toBeGreaterThan(seg.sizeBytes);
    expect(fileSize % CHUNK).toBe(0);
    expect(isZero(readFileSync(path).subarray(seg.sizeBytes)), 'the bytes after the data are zeros').toBe(true);

    expect(checkRecords(log)).toBe(4000);
    const reader = await Log.open(dir, { readOnly: true });
    expect(reader.logEndOffset).toBe(4000);
    expect(checkRecords(reader)).toBe(4000);
    await reader.close();
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([]);
    expect(report.records).toBe(4000);

    await log.close();
    expect(statSync(path).size, 'close cuts the zero tail off').toBe(seg.sizeBytes);
    // Disk usage after close: every file of the partition against the payload (16 + 100 + 8 bytes a record).
    const bytes = readdirSync(dir).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
    expect(bytes / (4000 * 124)).toBeLessThanOrEqual(1.08);
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, bytesTruncated: 0, problems: [] });
    expect(checkRecords(again)).toBe(4000);
    await again.close();
  });

  it('a roll cuts the zero tail off the sealed segment', async () => {
    const dir = join(tempDir('tidelog-zt-roll-'), 'p');
    const log = await Log.open(dir, { acks: 'durable', segmentBytes: 1024 * 1024 });
    // ~3.4 MiB in batches of ~12.6 KiB: three rolls.
    for (let i = 0; i < 270; i++) await log.append(batchFrom(log.logEndOffset));
    const segs = log.segments();
    expect(segs.length).toBeGreaterThanOrEqual(3);
    for (const s of segs.slice(0, -1)) expect(statSync(logFile(dir, s.baseOffset)).size, `sealed ${s.baseOffset}`).toBe(s.sizeBytes);
    const active = segs[segs.length - 1];
    expect(statSync(logFile(dir, active.baseOffset)).size).toBeGreaterThan(active.sizeBytes);
    expect(checkRecords(log)).toBe(27_000);
    await log.close();
    for (const s of segs) expect(statSync(logFile(dir, s.baseOffset)).size).toBe(s.sizeBytes);
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, bytesTruncated: 0, problems: [] });
    expect(checkRecords(again)).toBe(27_000);
    await again.close();
  });
});

describe('zero tail of a sealed segment after a power loss', () => {
  // A sync sees segment 0 active, with its zero tail, and checkpoints a
  // recovery point at its end; the append that rolls trims the tail, but a
  // power loss comes before a sync makes the trim durable: segment 0, below the
  // recovery point (trusted, not scanned), comes back with its zeros.
  const SEGMENT_BYTES = 1024 * 1024;
  /** `zerosTo`: where the zeros after segment 0's batches end (default: its zero tail's cap, segmentBytes). */
  async function rolledState(zerosTo?: (sizeBytes: number) => number): Promise<{ dir: string; sizeBytes: number; end: number }> {
    const dir = join(tempDir('tidelog-zt-sealed-'), 'p');
    // A full time index (5 entries of 12 bytes) rolls the segment after a few batches, far below segmentBytes.
    const log = await Log.open(dir, { acks: 'durable', segmentBytes: SEGMENT_BYTES, maxIndexBytes: 64 });
    while (log.segments().length < 2) await log.append(batchFrom(log.logEndOffset));
    await log.append(batchFrom(log.logEndOffset));
    const sealed = log.segments()[0];
    expect(sealed.sizeBytes).toBeLessThan(SEGMENT_BYTES / 4);
    const end = log.logEndOffset;
    await log.close();
    // What the disk held before the roll's trim was synced: the zeros of the tail, up to its cap.
    const path = logFile(dir, 0);
    const tailEnd = zerosTo ? zerosTo(sealed.sizeBytes) : SEGMENT_BYTES;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(tailEnd - sealed.sizeBytes), 0, tailEnd - sealed.sizeBytes, sealed.sizeBytes);
    closeSync(fd);
    unlinkSync(join(dir, '.clean-shutdown'));
    return { dir, sizeBytes: sealed.sizeBytes, end };
  }

  it('verifyLog reports nothing, and reopening cuts the zeros off without a problem', async () => {
    const { dir, sizeBytes, end } = await rolledState();
    expect(statSync(logFile(dir, 0)).size % CHUNK).toBe(0);
    const before = await verifyLog(dir);
    expect(before.issues).toEqual([]);
    expect(before.endOffset).toBe(end);
    const log = await Log.open(dir);
    expect(log.recovery).toMatchObject({ clean: false, bytesTruncated: 0, problems: [] });
    expect(log.segments()[0].sizeBytes).toBe(sizeBytes);
    expect(statSync(logFile(dir, 0)).size, 'the zeros are cut off').toBe(sizeBytes);
    expect(log.logEndOffset).toBe(end);
    expect(checkRecords(log)).toBe(end);
    await log.append(batchFrom(end), { acks: 'durable' });
    await log.close();
    expect(statSync(logFile(dir, 0)).size).toBe(sizeBytes);
    expect((await verifyLog(dir)).issues).toEqual([]);
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, problems: [] });
    expect(checkRecords(again)).toBe(end + 100);
    await again.close();
  });

  it('zeros that do not reach a chunk multiple stay damage, reported and not cut', async () => {
    const { dir, sizeBytes } = await rolledState((size) => size + 1000);
    const path = logFile(dir, 0);
    expect(statSync(path).size % CHUNK).not.toBe(0);
    expect((await verifyLog(dir)).issues).toHaveLength(1);
    const log = await Log.open(dir);
    expect(log.recovery.problems.join('\n')).toContain(path);
    expect(statSync(path).size).toBeGreaterThan(sizeBytes);
    await log.close();
  });
});

describe('zero tail after kill -9', () => {
  beforeAll(() => ensureDist(), 120_000);

  let killed: string;
  let durableEnd: number;
  let reported: { base: number; count: number }[];

  beforeAll(async () => {
    killed = join(tempDir('tidelog-zt-kill-'), 'p');
    const r = await crashChild({
      module: WRITER,
      export: 'write',
      arg: { dir: killed, durableBatches: 20 },
      after: 'synced',
      killAfterMs: [20, 80],
      seed: 3,
    });
    expect(r.stderr).toBe('');
    expect(r.killed && r.by === 'timer', 'the writer dies by SIGKILL').toBe(true);
    durableEnd = (r.events.find((e) => e.type === 'point')!.data as { durableEnd: number }).durableEnd;
    reported = r.reports as { base: number; count: number }[];
    expect(durableEnd).toBe(2000);
  }, 120_000);

  function copy(): string {
    const d = join(tempDir('tidelog-zt-copy-'), 'p');
    cpSync(killed, d, { recursive: true });
    return d;
  }

  it('the killed log has a zero tail; verifyLog reports nothing, and reopening cuts it without a problem', async () => {
    const dir = copy();
    const head = readHead(dir)!;
    const path = logFile(dir, 0);
    const fileSize = statSync(path).size;
    expect(fileSize % CHUNK).toBe(0);
    expect(fileSize).toBeGreaterThan(head.activeSize);
    // After the published end: zeros, or first the one batch whose write the
    // kill caught before its publication in .head (whole: pwritev had returned).
    const bytes = readFileSync(path);
    let dataEnd = head.activeSize;
    let endOffset = head.logEndOffset;
    if (!isZero(bytes.subarray(dataEnd))) {
      expect(Number(bytes.readBigInt64BE(dataEnd)), 'an unpublished batch follows the published end').toBe(endOffset);
      endOffset += bytes.readInt32BE(dataEnd + 23) + 1; // lastOffsetDelta + 1
      dataEnd += 12 + bytes.readInt32BE(dataEnd + 8); // LOG_OVERHEAD + batchLength
    }
    expect(isZero(bytes.subarray(dataEnd)), 'zeros after the data').toBe(true);
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([]);
    expect(report.endOffset).toBe(endOffset);

    const log = await Log.open(dir);
    expect(log.recovery).toMatchObject({ clean: false, bytesTruncated: 0, problems: [] });
    expect(statSync(path).size, 'the tail is cut off').toBe(log.segments()[0].sizeBytes);
    // Every batch reported before its append is there, but maybe the last one.
    const appended = reported.filter((b) => b.base + b.count <= log.logEndOffset);
    expect(appended.length).toBeGreaterThanOrEqual(reported.length - 1);
    expect(log.logEndOffset).toBe(endOffset);
    expect(checkRecords(log)).toBe(log.logEndOffset);
    const end = log.logEndOffset;
    await log.append(batchFrom(end), { acks: 'durable' });
    expect(checkRecords(log)).toBe(end + 100);
    await log.close();
  });

  for (const [seed, kind] of [
    [1, 'cut the file at the synced size'],
    [0, 'kept the synced zero tail, the appends over it back to zeros'],
  ] as const) {
    it(`power loss that ${kind} (simulatePowerLoss, seed ${seed})`, async () => {
      const dir = copy();
      const head = readHead(dir)!;
      const p = (await simulatePowerLoss(dir, { seed })).partitions[0];
      expect(seed === 1 ? p.truncated : p.zeroed).toHaveLength(1);
      const log = await Log.open(dir);
      expect(log.logEndOffset).toBe(head.durableOffset);
      expect(log.recovery.problems).toEqual([]);
      expect(checkRecords(log)).toBe(log.logEndOffset);
      await log.close();
    });
  }

  it('power loss that kept the zero tail but lost the unsynced appends', async () => {
    const dir = copy();
    const head = readHead(dir)!;
    expect(head.durableSegmentBase).toBe(0);
    const path = logFile(dir, 0);
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(size - head.durableSegmentSize), 0, size - head.durableSegmentSize, head.durableSegmentSize);
    closeSync(fd);
    expect(statSync(path).size).toBe(size);
    const log = await Log.open(dir);
    expect(log.recovery).toMatchObject({ clean: false, bytesTruncated: 0, problems: [] });
    expect(log.logEndOffset).toBe(head.durableOffset);
    expect(checkRecords(log)).toBe(head.durableOffset);
    await log.close();
  });

  it('power loss that tore the first unsynced batch inside the zero tail', async () => {
    const dir = copy();
    const head = readHead(dir)!;
    const path = logFile(dir, 0);
    const bytes = readFileSync(path);
    expect(head.activeSize).toBeGreaterThan(head.durableSegmentSize + 200);
    // 150 bytes of the first unsynced batch reached the disk, zeros after them.
    const fd = openSync(path, 'r+');
    const from = head.durableSegmentSize + 150;
    writeSync(fd, Buffer.alloc(bytes.length - from), 0, bytes.length - from, from);
    closeSync(fd);
    const log = await Log.open(dir);
    expect(log.logEndOffset).toBe(head.durableOffset);
    expect(log.recovery.bytesTruncated).toBeGreaterThan(0);
    expect(log.recovery.bytesTruncated).toBeLessThanOrEqual(150);
    expect(log.recovery.problems.join('\n')).toMatch(/cut off/);
    expect(statSync(path).size).toBe(head.durableSegmentSize);
    expect(checkRecords(log)).toBe(head.durableOffset);
    await log.close();
    expect(existsSync(path)).toBe(true);
  });
});
