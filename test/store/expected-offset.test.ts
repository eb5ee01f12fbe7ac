/**
 * expectedOffset: optimistic concurrency for event sourcing. A send appends
 * only if its partition ends at expectedOffset when the append happens;
 * otherwise ConflictError and nothing of it is written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, Store } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { batchHeaders, nextTurn, values } from './util.js';

const stores: Store[] = [];
async function openStore(): Promise<Store> {
  const s = await Store.open(tempDir());
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

describe('expectedOffset', () => {
  it('appends at the expected offset, or fails with ConflictError and writes nothing', async () => {
    const store = await openStore();
    await store.createTopic('events', { partitions: 2 });
    const p = store.producer();
    const events = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ topic: 'events', partition: 1, value: `${tag}${i}` }));
    const first = await p.send(events(3, 'a'), { expectedOffset: 0 });
    expect(first.map((m) => m.offset)).toEqual([0, 1, 2]);
    const err = await p.send(events(2, 'b'), { expectedOffset: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ code: 'CONFLICT', topic: 'events', partition: 1, expectedOffset: 1, actualOffset: 3 });
    expect(err.message).toContain('events-1: expected the log to end at offset 1, but it ends at 3');
    expect(values(store, 'events', 1)).toEqual(['a0', 'a1', 'a2']);
    // The conflict consumed no sequence number: the producer goes on.
    expect((await p.send(events(1, 'c'), { expectedOffset: 3 }))[0].offset).toBe(3);
    // A send with expectedOffset is one batch: all or nothing.
    expect(batchHeaders(store.log('events', 1)).map((h) => h.recordsCount)).toEqual([3, 1]);
  });

  it('is checked when the batch is appended: sends queued before it by the same producer count', async () => {
    const store = await openStore();
    await store.createTopic('e');
    const p = store.producer();
    const a = p.send({ topic: 'e', partition: 0, value: 'a' });
    const stale = p.send({ topic: 'e', partition: 0, value: 'b' }, { expectedOffset: 0 });
    const fresh = p.send({ topic: 'e', partition: 0, value: 'c' }, { expectedOffset: 1 });
    expect((await a).offset).toBe(0);
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    expect((await fresh).offset).toBe(1);
    expect(values(store, 'e', 0)).toEqual(['a', 'c']);
  });

  it('lets exactly one of several writers that read the same end offset append (no lost update)', async () => {
    const store = await openStore();
    await store.createTopic('account', { partitions: 1 });
    const log = store.log('account', 0);
    // Each event's value is the balance it computed from every event before it:
    // event n says "balance n + 1". A lost update would repeat a balance.
    const producers = [store.producer(), store.producer(), store.producer({ idempotent: false })];
    let conflicts = 0;
    const writer = async (id: number) => {
      const producer = producers[id % producers.length];
      for (let done = 0; done < 15; ) {
        const end = log.logEndOffset; // read the state...
        const balance = end === 0 ? 0 : Number(log.get(end - 1)!.value!.toString().split(' ')[0]);
        try {
          // ...decide, and append only if nobody appended in between
          await producer.send({ topic: 'account', partition: 0, value: `${balance + 1} by ${id}` }, { expectedOffset: end });
          done++;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          conflicts++;
          if (conflicts % 3 === 0) await nextTurn();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, id) => writer(id)));
    const balances = values(store, 'account', 0).map((v) => Number(v!.split(' ')[0]));
    expect(balances).toEqual(Array.from({ length: 8 * 15 }, (_, i) => i + 1));
    expect(conflicts).toBeGreaterThan(0);
  });

  it('is refused for a send whose records do not all go to one explicit partition', async () => {
    const store = await openStore();
    await store.createTopic('a', { partitions: 2 });
    await store.createTopic('b');
    const p = store.producer();
    await expect(p.send({ topic: 'a', key: 'k', value: 'x' }, { expectedOffset: 0 })).rejects.toThrow(/explicit partition/);
    await expect(
      p.send(
        [
          { topic: 'a', partition: 0, value: 'x' },
          { topic: 'a', partition: 1, value: 'y' },
        ],
        { expectedOffset: 0 },
      ),
    ).rejects.toThrow(/same topic and partition/);
    await expect(
      p.send(
        [
          { topic: 'a', partition: 0, value: 'x' },
          { topic: 'b', partition: 0, value: 'y' },
        ],
        { expectedOffset: 0 },
      ),
    ).rejects.toThrow(/same topic and partition/);
    await expect(p.send({ topic: 'a', partition: 0, value: 'x' }, { expectedOffset: 0, acks: 'none' })).rejects.toThrow(/needs acks 'written' or 'durable'/);
    expect(values(store, 'a', 0)).toEqual([]);
  });

  it("works with acks 'durable': the conflict check and the append happen before the sync", async () => {
    const store = await openStore();
    await store.createTopic('e');
    const p = store.producer({ acks: 'durable' });
    const [ok, conflict] = await Promise.allSettled([
      p.send({ topic: 'e', partition: 0, value: 'first' }, { expectedOffset: 0 }),
      p.send({ topic: 'e', partition: 0, value: 'second' }, { expectedOffset: 0 }),
    ]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { offset: 0 } });
    expect(conflict.status === 'rejected' && conflict.reason).toBeInstanceOf(ConflictError);
    expect(store.log('e', 0).durableOffset).toBe(1);
  });
});
