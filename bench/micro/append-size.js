// What small batches cost the log itself, without the encoder: the standard
// records (1 M of 124 bytes), encoded BEFORE the clock starts into batches of
// `perBatch` records, appended with Log.appendBatches (acks 'none': no promise
// to wait for; offsets assigned, CRCs computed in the call) round-robin to
// `partitions` logs. P1 with 8 partitions turns each send of 1,000 records into
// 8 batches of ~125: this case with (8, 125) against (1, 1000) shows what that
// costs below the producer, in the native append and the kernel's buffered
// write, the same bytes in 8× the calls. Reports the wall time of the appends
// and the process's user and system CPU time over them; no sync is timed.
import { join } from 'node:path';
import { BatchEncoder, Log } from '../../dist/index.js';
import { check } from '../lib/check.js';
import { batchesOf, makeData } from '../lib/data.js';
import { collectGarbage, nowNs } from '../lib/stats.js';
import { makeTempDir, removeDir } from '../lib/tmp.js';

export async function appendSize({ n, partitions, perBatch }) {
  const { records } = makeData(n);
  const encoder = new BatchEncoder();
  // encode() reuses its buffer: each batch is copied out.
  const batches = batchesOf(records, perBatch).map((b) => Buffer.from(encoder.encode(b)));
  const root = makeTempDir('append-size');
  try {
    const logs = [];
    for (let p = 0; p < partitions; p++) logs.push(await Log.open(join(root, `bench-${p}`)));
    const options = Object.freeze({ acks: 'none' });
    collectGarbage();
    const cpu0 = process.cpuUsage();
    const t0 = nowNs();
    for (let i = 0; i < batches.length; i++) logs[i % partitions].appendBatches(batches[i], options);
    const ns = nowNs() - t0;
    const cpu = process.cpuUsage(cpu0);
    let total = 0;
    for (const log of logs) {
      total += log.logEndOffset;
      await log.close();
    }
    check(total === n, `the logs hold ${total} records, expected ${n}`);
    return {
      metrics: {
        secondsPerMillion: ns / 1e9 / (n / 1e6),
        usPerCall: ns / 1e3 / batches.length,
        userMsPerMillion: cpu.user / 1e3 / (n / 1e6),
        systemMsPerMillion: cpu.system / 1e3 / (n / 1e6),
      },
      info: { partitions, perBatch, calls: batches.length },
    };
  } finally {
    removeDir(root);
  }
}
