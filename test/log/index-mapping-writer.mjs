// Child of test/log/index-mapping.test.ts, run by crashChild (tidelog/testing).
//
// Opens a log whose every batch earns index entries (small indexIntervalBytes)
// and whose segments roll often, marks the crash point 'opened', then appends
// batches, reporting each acknowledged one, until the parent kills it.
import { Log } from 'tidelog';
import { indexRecord } from './index-mapping-records.mjs';

export async function write(arg, { report, crashPoint }) {
  const log = await Log.open(arg.dir, arg.options);
  crashPoint('opened', { end: log.logEndOffset });
  for (let b = 0; ; b++) {
    const base = log.logEndOffset;
    const n = 1 + (b % 5);
    const r = await log.append(Array.from({ length: n }, (_, i) => indexRecord(base + i)), { acks: 'written' });
    report({ end: r.lastOffset + 1 });
    if (b % 8 === 7) await new Promise((res) => setTimeout(res, 1));
  }
}
