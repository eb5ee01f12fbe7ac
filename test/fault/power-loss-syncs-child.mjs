// Child of test/fault/power-loss-syncs.test.ts, run with the LD_PRELOAD tracer
// of sync-trace/shim.c: every call whose promise means "this survives a power
// loss" is followed by a marker line written to stderr (`MARK <what>`), which
// the tracer records as a `mark` line, so the trace shows which syncs came
// before each promise resolved.
import { readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';

const [dist, root] = process.argv.slice(2);
const { Log, Store } = await import(dist);
const mark = (what) => writeSync(2, `MARK ${what}\n`);
const v = (n) => ({ value: 'x'.repeat(n) });

// A log in directories that do not exist yet: open creates them.
const log = await Log.open(`${root}/new/log`, { segmentBytes: 16384, maxIndexBytes: 4096, indexIntervalBytes: 1024 });
for (let i = 0; i < 30; i++) {
  await log.append([v(700)], { acks: 'durable' }); // rolls every ~20 appends
  mark('durable append');
}
await Promise.all(Array.from({ length: 10 }, () => log.append([v(300)], { acks: 'durable' })));
mark('group commit');
for (let i = 0; i < 30; i++) log.appendSync([v(500)]);
await log.flush();
mark('flush');
await log.truncateTo(log.logEndOffset - 3);
mark('truncateTo within the last segment');
await log.truncateTo(5);
mark('truncateTo across segments');
for (let i = 0; i < 30; i++) log.appendSync([v(600)]);
await log.flush();
mark('flush after truncateTo');
await log.close();
mark('close');

// Bulk appends to a log with the default segment size: past a chunk appended
// since the last sync, a background thread writes zeros ahead of them (the
// prefill, docs/architecture.md), and every 4 MiB one fdatasync of the file
// (the sync hint); what a sync acknowledges must cover the zeros too.
const bulk = await Log.open(`${root}/bulk`);
const big = () => Array.from({ length: 100 }, () => v(1000));
for (let round = 0; round < 3; round++) {
  // ~6 MB first: past 4 MiB of bulk appends the log asks for an fdatasync in the background (a hint).
  for (let i = 0; i < (round === 0 ? 60 : 10); i++) bulk.appendSync(big());
  await bulk.append(big(), { acks: 'durable' });
  mark('durable append after bulk appends');
  for (let i = 0; i < 10; i++) bulk.appendSync(big());
  await bulk.flush();
  mark('flush after bulk appends');
}
await bulk.close();
mark('close after bulk appends');
// The same first ~6 MB with syncHintBytes 0: no fdatasync but the flush's.
const unhinted = await Log.open(`${root}/bulk-unhinted`, { syncHintBytes: 0 });
for (let i = 0; i < 60; i++) unhinted.appendSync(big());
await unhinted.flush();
mark('flush of a bulk load without sync hints');
await unhinted.close();
mark('close of the log without sync hints');

// A store: topics, a durable producer, written sends then flushes, deletion.
const store = await Store.open(`${root}/store`);
await store.createTopic('t', { partitions: 2, config: { segmentBytes: 16384, segmentIndexBytes: 4096 } });
const producer = store.producer({ acks: 'durable' });
for (let i = 0; i < 40; i++) {
  await producer.send({ topic: 't', key: `k${i}`, value: 'y'.repeat(900) });
  mark('durable send');
}
const written = store.producer({ acks: 'written' });
for (let i = 0; i < 60; i++) await written.send({ topic: 't', key: `k${i}`, value: 'z'.repeat(900) });
await store.log('t', 0).flush();
await store.log('t', 1).flush();
mark('flush of the partitions');
await store.createTopic('u', { partitions: 1 });
await store.producer({ acks: 'durable' }).send({ topic: 'u', value: 'first' });
mark('durable send to a new topic');
await store.deleteTopic('t');
mark('deleteTopic');
await store.close();
mark('store close');

// Producer snapshots above a partition's end (left by a truncation, or by a
// power loss that took the tail they describe): opening removes them, and the
// removal must be durable before the log grows past their offsets again.
const snapStore = await Store.open(`${root}/snap`);
await snapStore.createTopic('p', { partitions: 1 });
const snapProducer = snapStore.producer({ acks: 'durable' });
for (let i = 0; i < 5; i++) await snapProducer.send({ topic: 'p', value: `s${i}` });
await snapStore.close(); // a clean close writes the partition's snapshot
const pdir = `${root}/snap/p-0`;
const newest = readdirSync(pdir).filter((n) => n.endsWith('.snapshot')).sort().at(-1);
// (read and write, not copyFileSync: its copy_file_range would bypass the tracer)
writeFileSync(`${pdir}/${'1000'.padStart(20, '0')}.snapshot`, readFileSync(`${pdir}/${newest}`));
const reopened = await Store.open(`${root}/snap`);
mark('store open removed a snapshot above the log end');
await reopened.close();
