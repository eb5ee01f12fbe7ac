/**
 * verifyStore (tidelog/testing): verifyLog of every partition of a store, one
 * report: totals, issues naming topic, partition, file, position and offset;
 * partitions not created yet are listed, not failed; a broken topics.json is
 * an issue.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Store } from '../../src/index.js';
import { verifyLog, verifyStore } from '../../src/testing/index.js';
import { tempDir } from '../helpers.js';

async function storeWithData(): Promise<string> {
  const dir = tempDir('tidelog-vstore-');
  const store = await Store.open(dir);
  await store.createTopic('orders', { partitions: 2 });
  await store.createTopic('audit', { partitions: 1 });
  const producer = store.producer({ acks: 'durable' });
  for (let i = 0; i < 30; i++) await producer.send([{ topic: 'orders', key: `o${i}`, value: `order ${i}` }, { topic: 'audit', value: `audit ${i}` }]);
  await store.close();
  return dir;
}

describe('verifyStore', () => {
  it('reports every partition of a sound store as ok, with totals', async () => {
    const dir = await storeWithData();
    const r = await verifyStore(dir);
    expect(r.issues).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.topics).toEqual(['audit', 'orders']);
    expect(r.partitions.map((p) => `${p.topic}-${p.partition}`)).toEqual(['audit-0', 'orders-0', 'orders-1']);
    expect(r.missing).toEqual([]);
    expect(r.records).toBe(60);
    for (const p of r.partitions) {
      const alone = await verifyLog(p.dir);
      expect(p.report).toEqual(alone);
    }
    expect(r.batches).toBe(r.partitions.reduce((n, p) => n + p.report!.batches, 0));
  });

  it('names the partition, file, position and offset of damage', async () => {
    const dir = await storeWithData();
    const pdir = join(dir, 'orders-1');
    const log = readdirSync(pdir).find((n) => n.endsWith('.log'))!;
    const bytes = readFileSync(join(pdir, log));
    expect(bytes.length).toBeGreaterThan(200);
    bytes[150] ^= 0xff; // inside the records of a batch: its CRC no longer matches
    writeFileSync(join(pdir, log), bytes);
    const r = await verifyStore(dir);
    expect(r.ok).toBe(false);
    expect(r.issues.length).toBeGreaterThan(0);
    for (const i of r.issues) {
      expect(i.topic).toBe('orders');
      expect(i.partition).toBe(1);
      expect(i.file).toBe(join(pdir, log));
    }
    expect(r.issues[0].position).toBeGreaterThanOrEqual(0);
    expect(r.issues[0].position).toBeLessThanOrEqual(150);
    expect(r.partitions.find((p) => p.topic === 'orders' && p.partition === 0)!.report!.ok).toBe(true);
  });

  it('lists a partition whose directory does not exist yet without failing it', async () => {
    const dir = await storeWithData();
    const topics = JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8'));
    topics.topics.orders.partitions = 3; // committed, directory not created yet (a crash in createPartitions)
    writeFileSync(join(dir, 'topics.json'), JSON.stringify(topics));
    const r = await verifyStore(dir);
    expect(r.ok).toBe(true);
    expect(r.missing).toEqual(['orders-2']);
    expect(r.partitions.find((p) => p.partition === 2)!.report).toBeNull();
  });

  it('reports a topics.json that does not parse', async () => {
    const dir = await storeWithData();
    writeFileSync(join(dir, 'topics.json'), '{"version": 1, "topics": ');
    const r = await verifyStore(dir);
    expect(r.ok).toBe(false);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ topic: null, partition: null, file: join(dir, 'topics.json') });
    expect(r.issues[0].problem).toMatch(/not valid JSON/);
  });

  it('an empty store is ok; a missing directory or a bad argument is refused', async () => {
    const empty = tempDir('tidelog-vstore-empty-');
    const store = await Store.open(empty);
    await store.close();
    const r = await verifyStore(empty);
    expect(r).toMatchObject({ ok: true, topics: [], partitions: [], issues: [], records: 0 });
    const gone = tempDir('tidelog-vstore-gone-');
    rmSync(gone, { recursive: true });
    await expect(verifyStore(gone)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(verifyStore(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
