// W1 (append, batches of 1,000, one flush at the end), W2 (durable append,
// batches of 100, each awaited), W3 (64 concurrent durable writers, one record
// per append), and the disk ratio (measured after W1's close).
import { join } from 'node:path';
import { Log } from '../../dist/index.js';
import { check, sampleMatches } from '../lib/check.js';
import { PAYLOAD_BYTES, batchesOf, makeData } from '../lib/data.js';
import { collectGarbage, nowNs } from '../lib/stats.js';
import { dirBytes, makeTempDir, removeDir } from '../lib/tmp.js';

/**
 * W1. variant 'appendSync': log.appendSync(batch) per batch; 'append':
 * `await log.append(batch)` with the log's acks 'written' (for a Log, 'none'
 * and 'written' are the same path: the append is in the file when the call
 * returns). Then one `await log.flush()` (fdatasync). Timed: the appends and
 * the flush. After close: bytes of every file in the partition directory.
 */
export async function w1({ n, variant, compression = 'none', compressible = false }) {
  const { records } = makeData(n, { compressible });
  const batches = batchesOf(records, 1000);
  const root = makeTempDir('w1');
  const dir = join(root, 'bench-0');
  try {
    const log = await Log.open(dir, { acks: 'written', compression });
    collectGarbage();
    const t0 = nowNs();
    if (variant === 'appendSync') {
      for (let i = 0; i < batches.length; i++) log.appendSync(batches[i]);
    } else if (variant === 'append') {
      for (let i = 0; i < batches.length; i++) await log.append(batches[i]);
    } else throw new Error(`w1: unknown variant ${variant}`);
    await log.flush();
    const ns = nowNs() - t0;
    check(log.logEndOffset === n, `logEndOffset ${log.logEndOffset}, expected ${n}`);
    check(log.durableOffset === n, `durableOffset ${log.durableOffset}, expected ${n}`);
    await log.close();
    const disk = dirBytes(dir);
    const reader = await Log.open(dir, { readOnly: true });
    sampleMatches(reader, records);
    await reader.close();
    return {
      metrics: {
        recPerSec: n / (ns / 1e9),
        seconds: ns / 1e9,
        diskRatio: disk.bytes / (n * PAYLOAD_BYTES),
        diskBytes: disk.bytes,
      },
      info: { files: disk.files, batches: batches.length },
    };
  } finally {
    removeDir(root);
  }
}

/** W2. `await log.append(batch, { acks: 'durable' })` for batches of 100, one after the other. */
export async function w2({ n }) {
  const { records } = makeData(n);
  const batches = batchesOf(records, 100);
  const root = makeTempDir('w2');
  const dir = join(root, 'bench-0');
  try {
    const log = await Log.open(dir, { acks: 'durable' });
    collectGarbage();
    const t0 = nowNs();
    for (let i = 0; i < batches.length; i++) await log.append(batches[i]);
    const ns = nowNs() - t0;
    check(log.durableOffset === n, `durableOffset ${log.durableOffset}, expected ${n}`);
    await log.close();
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 }, info: { batches: batches.length } };
  } finally {
    removeDir(root);
  }
}

/**
 * W3. `writers` (64) concurrent loops; writer w appends records w, w + 64, ...
 * one record per `await log.append(record, { acks: 'durable' })`. Group commit
 * makes one fdatasync cover every append waiting for it.
 */
export async function w3({ n, writers = 64 }) {
  const { records } = makeData(n);
  const root = makeTempDir('w3');
  const dir = join(root, 'bench-0');
  try {
    const log = await Log.open(dir, { acks: 'durable' });
    const writer = async (w) => {
      for (let i = w; i < n; i += writers) await log.append(records[i]);
    };
    const loops = new Array(writers);
    collectGarbage();
    const t0 = nowNs();
    for (let w = 0; w < writers; w++) loops[w] = writer(w);
    await Promise.all(loops);
    const ns = nowNs() - t0;
    check(log.durableOffset === n, `durableOffset ${log.durableOffset}, expected ${n}`);
    await log.close();
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 }, info: { writers } };
  } finally {
    removeDir(root);
  }
}
