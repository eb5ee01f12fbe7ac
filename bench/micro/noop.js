// The cost of one N-API call: LogHandle::noop (native/binding/log_handle.cc)
// does nothing and returns undefined. It is not public API, so this is the one
// bench file that imports dist/native.js (the addon's only importer) instead
// of dist/index.js. Measured twice: a plain loop of 10 M calls timed as a whole,
// and tinybench (a task of 1,000 calls per sample; ns/call = sample / 1,000).
import { join } from 'node:path';
import { Bench, hrtimeNowTimestampProvider } from 'tinybench';
import { native } from '../../dist/native.js';
import { collectGarbage, nowNs } from '../lib/stats.js';
import { makeTempDir, removeDir } from '../lib/tmp.js';

const PER_SAMPLE = 1000;

export async function noop({ calls = 10_000_000 }) {
  const root = makeTempDir('noop');
  try {
    const { log } = await native.openLog({ dir: join(root, 'bench-0') });
    for (let i = 0; i < 100_000; i++) log.noop();
    collectGarbage();
    const t0 = nowNs();
    for (let i = 0; i < calls; i++) log.noop();
    const loopNs = (nowNs() - t0) / calls;

    const bench = new Bench({ time: 1000, warmupTime: 100, timestampProvider: hrtimeNowTimestampProvider });
    bench.add(`noop x${PER_SAMPLE}`, () => {
      for (let i = 0; i < PER_SAMPLE; i++) log.noop();
    });
    await bench.run();
    const r = bench.tasks[0].result;
    if (!r || !r.latency) throw new Error(`tinybench task did not complete: ${JSON.stringify(r?.state ?? r)}`);
    await log.close();
    return {
      metrics: {
        nsPerCall: loopNs,
        tbNsPerCallP50: (r.latency.p50 * 1e6) / PER_SAMPLE,
        tbNsPerCallMean: (r.latency.mean * 1e6) / PER_SAMPLE,
        tbSamples: r.latency.samplesCount,
      },
      info: { calls, perSample: PER_SAMPLE },
    };
  } finally {
    removeDir(root);
  }
}
