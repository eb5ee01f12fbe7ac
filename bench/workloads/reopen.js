// W7: reopen after kill -9. Three kinds of child, each a fresh process:
//   w7Write  writes a log of `baseBytes` (a flush() every 64 MiB and at the
//            end), then `tailBytes` more with appendSync (acks 'written', no
//            flush: the unsynced tail), writes what it reached to `stateFile`
//            and SIGKILLs itself.
//   w7Tail   (later runs) opens that log, appends another unsynced tail the
//            same way and SIGKILLs itself: every run recovers from a fresh kill.
//   w7Open   times Log.open (the recovery of the tail), checks the end offset
//            against stateFile, closes, then times verifyLog over the log.
import { readFileSync, writeFileSync } from 'node:fs';
import { Log, verifyLog } from '../../dist/index.js';
import { check } from '../lib/check.js';
import { RECORDS_PER_MS, batchesOf, makeData } from '../lib/data.js';
import { collectGarbage, nowNs } from '../lib/stats.js';

const MiB = 1024 * 1024;

const logBytes = (log) => log.segments().reduce((s, x) => s + x.sizeBytes, 0);

/**
 * Appends batches of 1,000 standard records (cycling through them, with
 * timestamps moved forward on each pass so they keep increasing) until the log
 * holds `target` bytes; flushes every `flushEvery` bytes when flushEvery > 0.
 */
async function appendUntil(log, data, batches, target, flushEvery) {
  let size = logBytes(log);
  let sinceFlush = 0;
  let b = 0;
  const span = Math.ceil(data.records.length / RECORDS_PER_MS) + 1;
  const segs = log.segments();
  const lastTs = segs.length ? Math.max(...segs.map((s) => s.maxTimestamp)) : -1;
  let shift = lastTs >= data.t0 ? lastTs + 1 - data.t0 : 0;
  const setShift = (d) => {
    for (const r of data.records) r.timestamp += d;
  };
  if (shift) setShift(shift);
  while (size < target) {
    const before = size;
    log.appendSync(batches[b]);
    b++;
    if (b === batches.length) {
      b = 0;
      setShift(span);
    }
    size = logBytes(log);
    sinceFlush += size - before;
    if (flushEvery > 0 && sinceFlush >= flushEvery) {
      await log.flush();
      sinceFlush = 0;
    }
  }
  return size;
}

function killSelf(stateFile, log, extra) {
  writeFileSync(stateFile, JSON.stringify({ endOffset: log.logEndOffset, durableOffset: log.durableOffset, ...extra }));
  process.kill(process.pid, 'SIGKILL');
  // not reached
  return new Promise(() => {});
}

export async function w7Write({ dir, n, baseBytes, tailBytes, stateFile }) {
  const data = makeData(n);
  const batches = batchesOf(data.records, 1000);
  const log = await Log.open(dir);
  const base = await appendUntil(log, data, batches, baseBytes, 64 * MiB);
  await log.flush();
  const durable = log.durableOffset;
  const end = await appendUntil(log, data, batches, base + tailBytes, 0);
  check(log.durableOffset === durable, 'the tail was synced');
  return killSelf(stateFile, log, { baseBytes: base, tailBytes: end - base, totalBytes: end });
}

export async function w7Tail({ dir, n, tailBytes, stateFile }) {
  const data = makeData(n);
  const batches = batchesOf(data.records, 1000);
  const log = await Log.open(dir);
  const base = logBytes(log);
  const durable = log.durableOffset;
  const end = await appendUntil(log, data, batches, base + tailBytes, 0);
  check(log.durableOffset === durable, 'the tail was synced');
  return killSelf(stateFile, log, { baseBytes: base, tailBytes: end - base, totalBytes: end });
}

export async function w7Open({ dir, stateFile }) {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  collectGarbage();
  const t0 = nowNs();
  const log = await Log.open(dir);
  const openNs = nowNs() - t0;
  const recovery = { ...log.recovery };
  check(!recovery.clean, 'the log was closed cleanly: the writer was not killed');
  check(log.logEndOffset === state.endOffset, `recovered logEndOffset ${log.logEndOffset}, the killed writer had written up to ${state.endOffset}`);
  check(recovery.bytesScanned >= state.tailBytes, `recovery scanned ${recovery.bytesScanned} bytes, less than the ${state.tailBytes}-byte unsynced tail`);
  await log.close();
  const t1 = nowNs();
  const report = await verifyLog(dir);
  const verifyNs = nowNs() - t1;
  check(report.ok, `verifyLog found issues: ${JSON.stringify(report.issues.slice(0, 3))}`);
  check(report.endOffset === state.endOffset, `verifyLog endOffset ${report.endOffset}, expected ${state.endOffset}`);
  return {
    metrics: {
      openSec: openNs / 1e9,
      verifySec: verifyNs / 1e9,
      verifyMBps: report.bytes / 1e6 / (verifyNs / 1e9),
      bytesScanned: recovery.bytesScanned,
      bytesTruncated: recovery.bytesTruncated,
      logBytes: report.bytes,
    },
    info: { recovery, state, segments: report.segments },
  };
}
