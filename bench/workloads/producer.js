// The producer workloads (issue 3): W1 and W3 through Store → topic →
// producer, to compare with the raw log figures of the same run.
import { Store } from '../../dist/index.js';
import { check } from '../lib/check.js';
import { asSendRecords, batchesOf, makeData } from '../lib/data.js';
import { collectGarbage, nowNs } from '../lib/stats.js';
import { makeTempDir, removeDir } from '../lib/tmp.js';

const TOPIC = 'bench';

async function openTopic(tag, partitions) {
  const root = makeTempDir(tag);
  const store = await Store.open(root);
  await store.createTopic(TOPIC, { partitions, config: { retentionMs: -1 } });
  return { root, store };
}

function endOffsets(store, partitions) {
  let total = 0;
  const ends = [];
  for (let p = 0; p < partitions; p++) {
    const e = store.log(TOPIC, p).logEndOffset;
    ends.push(e);
    total += e;
  }
  return { total, ends };
}

/**
 * Producer W1: the standard records as sends of 1,000 (`await
 * producer.send(records)`, acks 'written', default producer options otherwise:
 * idempotent, lingerMs 0), then `await producer.flush()` and a flush() of every
 * partition's log, so the timed span ends with the data synced as raw W1's does.
 * Keyed records: with 8 partitions each send splits by murmur2(key).
 */
export async function p1({ n, partitions, compression = 'none', compressible = false }) {
  const { records } = makeData(n, { compressible });
  const sends = batchesOf(asSendRecords(records, TOPIC), 1000);
  const { root, store } = await openTopic('p1', partitions);
  try {
    const producer = store.producer({ acks: 'written', compression });
    collectGarbage();
    const t0 = nowNs();
    for (let i = 0; i < sends.length; i++) await producer.send(sends[i]);
    await producer.flush();
    const logs = [];
    for (let p = 0; p < partitions; p++) logs.push(store.log(TOPIC, p).flush());
    await Promise.all(logs);
    const ns = nowNs() - t0;
    const { total, ends } = endOffsets(store, partitions);
    check(total === n, `partitions hold ${total} records, expected ${n}`);
    for (let p = 0; p < partitions; p++) {
      const log = store.log(TOPIC, p);
      check(log.durableOffset === log.logEndOffset, `partition ${p} not synced`);
    }
    await store.close();
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 }, info: { partitions, compression, ends } };
  } finally {
    removeDir(root);
  }
}

/** Producer W3: 64 concurrent senders, each awaiting `producer.send(record)` with acks 'durable', one partition. */
export async function p3({ n, writers = 64 }) {
  const { records } = makeData(n);
  const sendRecords = asSendRecords(records, TOPIC);
  const { root, store } = await openTopic('p3', 1);
  try {
    const producer = store.producer({ acks: 'durable' });
    const sender = async (w) => {
      for (let i = w; i < n; i += writers) await producer.send(sendRecords[i]);
    };
    const loops = new Array(writers);
    collectGarbage();
    const t0 = nowNs();
    for (let w = 0; w < writers; w++) loops[w] = sender(w);
    await Promise.all(loops);
    const ns = nowNs() - t0;
    const log = store.log(TOPIC, 0);
    check(log.durableOffset === n, `durableOffset ${log.durableOffset}, expected ${n}`);
    await store.close();
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 }, info: { writers } };
  } finally {
    removeDir(root);
  }
}
