/**
 * How one send of mixed records is split among a topic's partitions
 * (Accumulator.place): every keyed record goes to partitionForKey(key),
 * Buffer, Uint8Array and string keys alike, unkeyed ones to one sticky
 * partition, and each partition keeps its records in send order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Store, partitionForKey } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

describe('producer routing of a mixed send', () => {
  it('keyed records go to partitionForKey(key), unkeyed ones to one sticky partition, in order', async () => {
    const store = await Store.open(tempDir());
    open.push(store);
    const partitions = 5;
    await store.createTopic('t', { partitions });
    const p = store.producer({ acks: 'written' });
    const keyOf = (i: number): Buffer | Uint8Array | string | null | undefined => {
      switch (i % 5) {
        case 0:
          return Buffer.from(`key-${i % 37}`);
        case 1:
          return new Uint8Array(Buffer.from(`u-${i % 41}-\u00e9`));
        case 2:
          return `s-${i % 29}`;
        case 3:
          return null;
        default:
          return i % 2 === 0 ? undefined : new Uint8Array(0);
      }
    };
    const records = Array.from({ length: 400 }, (_, i) => ({ topic: 't', key: keyOf(i), value: `v${i}`, timestamp: 1000 + i }));
    const meta = await p.send(records);
    const sticky = new Set<number>();
    const perPartition: number[][] = Array.from({ length: partitions }, () => []);
    for (let i = 0; i < records.length; i++) {
      const key = records[i].key;
      const m = meta[i];
      if (key === null || key === undefined) sticky.add(m.partition);
      else expect(m.partition, `record ${i}`).toBe(partitionForKey(key, partitions));
      perPartition[m.partition].push(i);
    }
    // 80 small unkeyed records stay well under stickyBytes: one partition.
    expect(sticky.size).toBe(1);
    for (let q = 0; q < partitions; q++) {
      const log = store.log('t', q);
      const got = log.readRecords(0, { maxBytes: 1 << 20 }).map((r) => r.value?.toString());
      expect(got, `partition ${q}`).toEqual(perPartition[q].map((i) => `v${i}`));
      expect(perPartition[q].map((i) => meta[i].offset)).toEqual(perPartition[q].map((_, k) => k));
    }
    await p.close();
  });
});
