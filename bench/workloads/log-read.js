// W4 (sequential read of every record), W5 (random read by offset), W6
// (lookup by timestamp). Each child first writes the standard data
// (appendSync, batches of 1,000), closes the log and opens it again; the
// segment is then in the page cache, as it is for a reader following a writer.
// Nothing of that preparation is timed.
import { join } from 'node:path';
import { Bench, hrtimeNowTimestampProvider } from 'tinybench';
import { Log } from '../../dist/index.js';
import { check, sampleMatches } from '../lib/check.js';
import { batchesOf, makeData, rng, below } from '../lib/data.js';
import { collectGarbage, hrtimeOverheadNs, nowNs, percentile } from '../lib/stats.js';
import { makeTempDir, removeDir } from '../lib/tmp.js';

async function prepared(n, tag) {
  const data = makeData(n);
  const root = makeTempDir(tag);
  const dir = join(root, 'bench-0');
  const writer = await Log.open(dir);
  for (const b of batchesOf(data.records, 1000)) writer.appendSync(b);
  await writer.close();
  const log = await Log.open(dir);
  check(log.logEndOffset === n, `prepared log ends at ${log.logEndOffset}, expected ${n}`);
  return { ...data, root, log };
}

/** What W4 adds up per record: one byte of the key, one of the value, the low bits of the timestamp. */
const touch = (key, value, timestamp) => (key[15] + value[99] + (timestamp & 0xffff)) | 0;

function expectedTouch(records) {
  let acc = 0;
  for (const r of records) acc = (acc + touch(r.key, r.value, r.timestamp)) | 0;
  return acc;
}

/**
 * W4. variant 'readRecords': the synchronous path, log.readRecords(offset)
 * in chunks of the default maxBytes (1 MiB: 9 batches of 1,000 records), until
 * the log end. 'records': `for await (const r of log.records(0))`. Both touch
 * every record's key, value and timestamp; the sum is checked against the input.
 */
export async function w4({ n, variant }) {
  const { records, root, log } = await prepared(n, 'w4');
  try {
    const want = expectedTouch(records);
    const end = log.logEndOffset;
    let count = 0;
    let acc = 0;
    collectGarbage();
    const t0 = nowNs();
    if (variant === 'readRecords') {
      let offset = log.logStartOffset;
      while (offset < end) {
        const recs = log.readRecords(offset);
        if (recs.length === 0) break;
        for (let i = 0; i < recs.length; i++) {
          const r = recs[i];
          acc = (acc + touch(r.key, r.value, r.timestamp)) | 0;
        }
        count += recs.length;
        offset = recs[recs.length - 1].offset + 1;
      }
    } else if (variant === 'records') {
      for await (const r of log.records(0)) {
        acc = (acc + touch(r.key, r.value, r.timestamp)) | 0;
        count++;
      }
    } else throw new Error(`w4: unknown variant ${variant}`);
    const ns = nowNs() - t0;
    check(count === n, `read ${count} records, expected ${n}`);
    check(acc === want, `checksum of key/value/timestamp bytes read ${acc}, expected ${want}`);
    await log.close();
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 } };
  } finally {
    removeDir(root);
  }
}

/**
 * Runs `op(i)` for i in [0, ops): once plainly (throughput), once with a
 * process.hrtime.bigint() pair around each call (latency), then a tinybench
 * cross-check (one sample per call, hrtime timestamps). `op` returns a number
 * folded into a checksum that the caller checks.
 */
async function pointOps(ops, warmup, op) {
  for (let i = 0; i < warmup; i++) op(i % ops);
  collectGarbage();
  let acc = 0;
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) acc = (acc + op(i)) | 0;
  const ns = nowNs() - t0;

  const lat = new Float64Array(ops);
  let acc2 = 0;
  collectGarbage();
  for (let i = 0; i < ops; i++) {
    const a = process.hrtime.bigint();
    acc2 = (acc2 + op(i)) | 0;
    lat[i] = Number(process.hrtime.bigint() - a);
  }
  lat.sort();

  let j = 0;
  let sink = 0;
  const bench = new Bench({ time: 1000, warmupTime: 100, timestampProvider: hrtimeNowTimestampProvider });
  bench.add('op', () => {
    sink ^= op(j);
    j = j + 1 === ops ? 0 : j + 1;
  });
  await bench.run();
  const t = bench.tasks[0].result;
  if (!t || !t.latency) throw new Error(`tinybench task did not complete: ${JSON.stringify(t?.state ?? t)}`);

  return {
    acc,
    acc2,
    sink,
    metrics: {
      opsPerSec: ops / (ns / 1e9),
      p50us: percentile(lat, 50) / 1e3,
      p99us: percentile(lat, 99) / 1e3,
      p999us: percentile(lat, 99.9) / 1e3,
      maxUs: lat[lat.length - 1] / 1e3,
      hrtimePairNs: hrtimeOverheadNs(),
      // 1000 / mean latency (samples over their total time); tinybench's throughput.mean
      // averages 1/latency per sample, which overweights fast samples.
      tbOpsPerSec: 1000 / t.period,
      tbP50us: t.latency.p50 * 1e3,
      tbP99us: t.latency.p99 * 1e3,
      tbSamples: t.latency.samplesCount,
    },
  };
}

/**
 * W5. log.get(offset) of `ops` offsets drawn uniformly (seeded) from the log,
 * one at a time; touches the value; the checksum of what was read is checked.
 */
export async function w5({ n, ops = n, warmup = 10_000 }) {
  const { records, root, log } = await prepared(n, 'w5');
  try {
    sampleMatches(log, records);
    const next = rng(0x5e5e);
    const offsets = new Uint32Array(ops);
    for (let i = 0; i < ops; i++) offsets[i] = below(next, n);
    let want = 0;
    for (let i = 0; i < ops; i++) want = (want + records[offsets[i]].value[99] + records[offsets[i]].key[15]) | 0;
    const op = (i) => {
      const r = log.get(offsets[i]);
      return r.value[99] + r.key[15];
    };
    const res = await pointOps(ops, warmup, op);
    check(res.acc === want, `checksum of values read ${res.acc}, expected ${want}`);
    check(res.acc2 === want, `checksum of values read (latency pass) ${res.acc2}, expected ${want}`);
    await log.close();
    return { metrics: res.metrics, info: { ops, warmup } };
  } finally {
    removeDir(root);
  }
}

/**
 * W6. log.offsetForTimestamp(t) of `ops` timestamps drawn uniformly (seeded)
 * from [first timestamp, last timestamp]. The input's timestamps are
 * t0 + floor(i / 10), so the answer is (t - t0) * 10: every answer is checked.
 */
export async function w6({ n, ops = n, warmup = 10_000 }) {
  const { t0, tLast, root, log } = await prepared(n, 'w6');
  try {
    const next = rng(0x7177);
    const span = tLast - t0 + 1;
    const ts = new Float64Array(ops);
    let want = 0;
    for (let i = 0; i < ops; i++) {
      ts[i] = t0 + below(next, span);
      want = (want + (ts[i] - t0) * 10) | 0;
    }
    const op = (i) => log.offsetForTimestamp(ts[i]);
    const res = await pointOps(ops, warmup, op);
    check(res.acc === want, `sum of offsets found ${res.acc}, expected ${want}`);
    check(res.acc2 === want, `sum of offsets found (latency pass) ${res.acc2}, expected ${want}`);
    for (let i = 0; i < 1000; i++) {
      const o = log.offsetForTimestamp(ts[i]);
      check(o === (ts[i] - t0) * 10, `offsetForTimestamp(${ts[i]}) = ${o}, expected ${(ts[i] - t0) * 10}`);
    }
    await log.close();
    return { metrics: res.metrics, info: { ops, warmup } };
  } finally {
    removeDir(root);
  }
}
