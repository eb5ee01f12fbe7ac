/**
 * Prefill (docs/architecture.md, "Prefill during bulk appends"): once more
 * than a chunk (256 KiB) has been appended since the last sync, a background
 * thread keeps the active segment's zero tail a little ahead of the appends,
 * so that they overwrite pages already in the page cache. Checked here: the
 * tail appears behind bulk appends and holds only zeros that no read returns;
 * it stays short; a roll and a clean close cut it off; the records read back,
 * before and after a reopen. (Its syncs are checked with the others by
 * test/fault/power-loss-syncs.test.ts; a kill during bulk appends by the
 * `written` cycles of test/crash/kill.test.ts.)
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Log, verifyLog } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { ZERO_TAIL_CHUNK, isZero } from './util.js';

const CHUNK = ZERO_TAIL_CHUNK;
const AHEAD = 4 * CHUNK; // kPrefillAhead (native/core/segment.cc)

const logFile = (dir: string, base: number) => join(dir, `${String(base).padStart(20, '0')}.log`);

/** 100 records of ~1 KiB whose bytes are a function of their offset. */
function batch(base: number) {
  return Array.from({ length: 100 }, (_, i) => ({
    key: `k${base + i}`,
    value: Buffer.alloc(1000, 1 + ((base + i) % 251)),
    timestamp: 1_700_000_000_000 + base + i,
  }));
}

function checkAll(log: Log): number {
  let n = 0;
  for (let at = log.logStartOffset; at < log.logEndOffset; ) {
    const recs = log.readRecords(at);
    expect(recs.length, `records at ${at}`).toBeGreaterThan(0);
    for (const r of recs) {
      expect(r.offset).toBe(at);
      expect(r.key?.toString()).toBe(`k${at}`);
      expect(r.value?.length).toBe(1000);
      expect(r.value?.[0]).toBe(1 + (at % 251));
      expect(r.value?.[999]).toBe(1 + (at % 251));
      at++;
      n++;
    }
  }
  return n;
}

describe('prefill during bulk appends', () => {
  it('keeps a short zero tail ahead of written appends that no read returns; close cuts it off', async () => {
    const dir = join(tempDir('tidelog-prefill-'), 'p');
    const log = await Log.open(dir);
    const path = logFile(dir, 0);
    // Under a chunk since the last sync: nothing is prefilled.
    log.appendSync(batch(0));
    expect(statSync(path).size).toBe(log.segments()[0].sizeBytes);
    // ~3 MiB of written appends: the background thread extends the tail as they go.
    for (let i = 0; i < 30; i++) log.appendSync(batch(log.logEndOffset));
    const data = log.segments()[0].sizeBytes;
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(data), { timeout: 10_000, interval: 5 });
    const fileSize = statSync(path).size;
    expect(fileSize % CHUNK, 'the tail ends on a chunk boundary').toBe(0);
    expect(fileSize, 'the tail stays short').toBeLessThanOrEqual(Math.ceil((data + AHEAD) / CHUNK) * CHUNK);
    expect(isZero(readFileSync(path).subarray(data)), 'the bytes after the data are zeros').toBe(true);
    expect(log.readRecords(log.logEndOffset)).toEqual([]);
    expect(checkAll(log)).toBe(3100);
    const reader = await Log.open(dir, { readOnly: true });
    expect(reader.logEndOffset).toBe(3100);
    expect(checkAll(reader)).toBe(3100);
    await reader.close();
    // verifyLog over the open log: the tail is not damage.
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([]);
    expect(report.endOffset).toBe(3100);

    await log.flush();
    expect(log.durableOffset).toBe(3100);
    await log.close();
    expect(statSync(path).size, 'close cuts the tail off').toBe(data);
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, bytesTruncated: 0, problems: [] });
    expect(checkAll(again)).toBe(3100);
    await again.close();
  });

  it('stops at a roll: sealed segments keep exactly their bytes, and appends go on in the new one', async () => {
    const dir = join(tempDir('tidelog-prefill-roll-'), 'p');
    const SEGMENT = 2 * 1024 * 1024;
    const log = await Log.open(dir, { segmentBytes: SEGMENT });
    for (let i = 0; i < 90; i++) log.appendSync(batch(log.logEndOffset));
    const segs = log.segments();
    expect(segs.length).toBeGreaterThanOrEqual(4);
    const active = segs[segs.length - 1];
    await vi.waitFor(() => expect(statSync(logFile(dir, active.baseOffset)).size).toBeGreaterThan(active.sizeBytes), {
      timeout: 10_000,
      interval: 5,
    });
    for (const s of segs.slice(0, -1)) {
      expect(statSync(logFile(dir, s.baseOffset)).size, `sealed ${s.baseOffset}`).toBe(s.sizeBytes);
      expect(s.sizeBytes).toBeLessThanOrEqual(SEGMENT);
    }
    expect(checkAll(log)).toBe(9000);
    await log.close();
    for (const s of segs) expect(statSync(logFile(dir, s.baseOffset)).size, `after close ${s.baseOffset}`).toBe(s.sizeBytes);
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, problems: [] });
    expect(checkAll(again)).toBe(9000);
    await again.close();
  });

  it('goes on after a durable append and a truncateTo, and the data read back is what was appended', async () => {
    const dir = join(tempDir('tidelog-prefill-mixed-'), 'p');
    const log = await Log.open(dir);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 8; i++) log.appendSync(batch(log.logEndOffset));
      await log.append(batch(log.logEndOffset), { acks: 'durable' });
      expect(log.durableOffset).toBe(log.logEndOffset);
      for (let i = 0; i < 8; i++) log.appendSync(batch(log.logEndOffset));
      await log.truncateTo(log.logEndOffset - 200); // two whole batches
    }
    expect(log.logEndOffset).toBe(4 * (1700 - 200));
    expect(checkAll(log)).toBe(log.logEndOffset);
    const end = log.logEndOffset;
    await log.close();
    const again = await Log.open(dir);
    expect(again.recovery).toMatchObject({ clean: true, problems: [] });
    expect(again.logEndOffset).toBe(end);
    expect(checkAll(again)).toBe(end);
    await again.close();
  });
});
