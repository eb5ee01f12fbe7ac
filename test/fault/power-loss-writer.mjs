// Child of test/fault/power-loss-kill.test.ts, run by crashChild (tidelog/testing).
//
// Appends `durable` batches, reaches a sync point (flush() resolved, nothing
// in flight) and copies the directory right then, synchronously, to
// <arg.snapshot>/old (via a temp name: only a whole copy is ever there); then
// marks the crash point 'synced' and appends `written` batches, rolling
// segments (at most arg.writtenBatches, then idling), until the parent kills it. Every batch is reported before its
// append (the native append runs inside log.append's synchronous part), so
// only the last reported batch may be missing from the log.
import { cpSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Log } from 'tidelog';
import { recordFor, rng } from '../crash/records.mjs';

export async function write(arg, { report, crashPoint }) {
  const rand = rng(arg.seed);
  const log = await Log.open(arg.dir, arg.options);
  let n = 0;
  const append = async (acks) => {
    const count = 1 + Math.floor(rand() * 10);
    const base = log.logEndOffset;
    const tag = `k${arg.seed}b${n++}`;
    const records = [];
    for (let i = 0; i < count; i++) records.push(recordFor(tag, base + i, arg.maxValueBytes));
    report({ base, count, tag });
    const r = await log.append(records, { acks, compression: rand() < 0.3 ? 'lz4' : 'none' });
    if (r.baseOffset !== base) throw new Error(`appended at ${r.baseOffset}, expected ${base}`);
  };
  for (let i = 0; i < arg.durableBatches; i++) await append('durable');
  await log.flush();
  if (log.durableOffset !== log.logEndOffset) throw new Error('flush() left records unsynced');
  cpSync(arg.dir, join(arg.snapshot, 'tmp'), { recursive: true });
  renameSync(join(arg.snapshot, 'tmp'), join(arg.snapshot, 'old'));
  crashPoint('synced', { durableEnd: log.durableOffset });
  for (let i = 0; ; i++) {
    if (i < arg.writtenBatches) await append('written');
    await new Promise((r) => setTimeout(r, i < arg.writtenBatches ? 0 : 5));
  }
}

/**
 * A follower (offsets kept, appendBatches with assignOffsets: false) whose
 * batches jump `arg.gap` offsets ahead each time, so that gaps fall where the
 * segment rolls. Reports each acknowledged batch, then dies at 'done'.
 */
export async function follower(arg, { report, crashPoint }) {
  const { Log, encodeBatch } = await import('tidelog');
  const log = await Log.open(arg.dir, arg.options);
  let base = 0;
  for (let i = 0; i < arg.batches; i++) {
    const tag = `f${i}`;
    const records = [];
    for (let j = 0; j < 5; j++) records.push(recordFor(tag, base + j, arg.maxValueBytes));
    const bytes = encodeBatch(records, { baseOffset: base });
    const r = await log.appendBatches(bytes, { assignOffsets: false, acks: 'written' });
    if (r.baseOffset !== base) throw new Error(`kept offset ${base}, got ${r.baseOffset}`);
    report({ base, count: 5, tag, segments: log.segments().map((s) => s.baseOffset) });
    base += 5 + arg.gap;
  }
  crashPoint('done');
}
