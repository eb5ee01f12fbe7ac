// Child of test/log/zero-tail.test.ts, run by crashChild (tidelog/testing).
//
// Opens a log with the default segment size (so its active segment gets a
// zero tail), appends `durable` batches of 100 records, flushes and marks the
// crash point 'synced'; then appends `written` batches (each reported before
// its append) until the parent kills it.
import { Log } from 'tidelog';

/** Record `offset`: key `k<offset>` padded to 16 bytes, a 100-byte value derived from it. */
export function zeroTailRecord(offset) {
  return { key: `k${offset}`.padEnd(16, '.'), value: Buffer.alloc(100, 1 + (offset % 251)), timestamp: 1_000_000 + offset };
}

export async function write(arg, { report, crashPoint }) {
  const log = await Log.open(arg.dir);
  const batch = () => Array.from({ length: 100 }, (_, i) => zeroTailRecord(log.logEndOffset + i));
  for (let i = 0; i < arg.durableBatches; i++) await log.append(batch(), { acks: 'durable' });
  await log.flush();
  crashPoint('synced', { durableEnd: log.durableOffset });
  for (;;) {
    report({ base: log.logEndOffset, count: 100 });
    await log.append(batch(), { acks: 'written' });
    await new Promise((r) => setTimeout(r, 1));
  }
}
