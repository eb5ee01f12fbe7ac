/**
 * The producer: results, batching (one batch and one native append per
 * partition per turn), partitioning, acknowledgement levels, compression,
 * backpressure, auto-created topics, and bad input.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BufferFullError,
  InvalidArgumentError,
  IoError,
  Log,
  ProducerClosedError,
  RecordTooLargeError,
  Store,
  UnknownTopicError,
  partitionForKey,
} from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { batchHeaders, deferred, nextTurn, values } from './util.js';

const stores: Store[] = [];
async function openStore(options?: Parameters<typeof Store.open>[1], dir = tempDir()): Promise<Store> {
  const s = await Store.open(dir, options);
  stores.push(s);
  return s;
}
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

describe('send', () => {
  it('resolves { topic, partition, offset, timestamp } per record, in order', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2 });
    const p = store.producer();
    const one = await p.send({ topic: 't', partition: 1, value: 'a', timestamp: 42 });
    expect(one).toEqual({ topic: 't', partition: 1, offset: 0, timestamp: 42 });
    const before = Date.now();
    const many = await p.send([
      { topic: 't', partition: 1, value: 'b' },
      { topic: 't', partition: 0, value: 'c', headers: { h: 'x' } },
      { topic: 't', partition: 1, key: 'k', value: null },
    ]);
    expect(many.map((m) => [m.partition, m.offset])).toEqual([
      [1, 1],
      [0, 0],
      [1, 2],
    ]);
    for (const m of many) expect(m.timestamp).toBeGreaterThanOrEqual(before);
    expect(values(store, 't', 1)).toEqual(['a', 'b', null]);
    const r = store.log('t', 0).get(0)!;
    expect(r.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h', 'x']]);
    expect(r.timestamp).toBe(many[1].timestamp);
  });

  it('turns many sends of one turn into ONE batch and ONE native append per partition', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 4 });
    const p = store.producer();
    await p.send({ topic: 't', partition: 0, value: 'warm-up' }); // allocates the producer id
    const appendBatches = vi.spyOn(Log.prototype, 'appendBatches');
    const append = vi.spyOn(Log.prototype, 'append');
    const sends = [];
    for (let i = 0; i < 100; i++) sends.push(p.send({ topic: 't', key: `key-${i}`, value: `v${i}` }));
    const results = await Promise.all(sends);
    const touched = new Set(results.map((r) => r.partition));
    expect(touched.size).toBe(4);
    expect(appendBatches).toHaveBeenCalledTimes(4);
    expect(append).not.toHaveBeenCalled();
    for (let part = 0; part < 4; part++) {
      const headers = batchHeaders(store.log('t', part));
      const mine = results.filter((r) => r.partition === part);
      // partition 0 also holds the warm-up batch
      expect(headers.length).toBe(part === 0 ? 2 : 1);
      expect(headers.at(-1)!.recordsCount).toBe(mine.length);
      expect(mine.map((r) => r.offset)).toEqual(mine.map((_, i) => headers.at(-1)!.baseOffset + i));
    }
  });

  it('closes batches at batchBytes but still appends each partition with one native call per turn', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ batchBytes: 1000 });
    await p.send({ topic: 't', value: 'warm-up' });
    const appendBatches = vi.spyOn(Log.prototype, 'appendBatches');
    const sends = [];
    for (let i = 0; i < 50; i++) sends.push(p.send({ topic: 't', value: 'x'.repeat(100) }));
    const results = await Promise.all(sends);
    expect(appendBatches).toHaveBeenCalledTimes(1);
    const headers = batchHeaders(store.log('t', 0)).slice(1);
    expect(headers.length).toBeGreaterThanOrEqual(5);
    for (const h of headers) expect(h.batchLength + 12).toBeLessThanOrEqual(1000 + 130);
    expect(results.map((r) => r.offset)).toEqual(results.map((_, i) => i + 1));
  });

  it("keeps one send's records for one partition in one batch, even above batchBytes", async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ batchBytes: 500 });
    await p.send([{ topic: 't', value: 'small' }]);
    await p.send(Array.from({ length: 40 }, (_, i) => ({ topic: 't', value: `record-${i}-${'y'.repeat(40)}` })));
    expect(batchHeaders(store.log('t', 0)).map((h) => h.recordsCount)).toEqual([1, 40]);
  });

  it('keeps the order of sends to a partition, across batches, turns and linger', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2 });
    const p = store.producer({ lingerMs: 5, batchBytes: 300 });
    const sends = [];
    for (let i = 0; i < 200; i++) {
      sends.push(p.send({ topic: 't', partition: i % 2, value: String(i) }));
      if (i % 37 === 0) await nextTurn();
    }
    await Promise.all(sends);
    expect(values(store, 't', 0)).toEqual(Array.from({ length: 100 }, (_, i) => String(2 * i)));
    expect(values(store, 't', 1)).toEqual(Array.from({ length: 100 }, (_, i) => String(2 * i + 1)));
  });

  it('holds batches for lingerMs, and flush() appends them at once', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ lingerMs: 60_000 });
    const sent = p.send({ topic: 't', value: 'lingering' });
    await nextTurn();
    await nextTurn();
    expect(store.log('t', 0).logEndOffset).toBe(0);
    await p.flush();
    expect((await sent).offset).toBe(0);
    expect(values(store, 't', 0)).toEqual(['lingering']);
  });
});

describe('partitioning', () => {
  it("sends keyed records to toPositive(murmur2(key)) % partitions, as Kafka's client does", async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 7 });
    const p = store.producer();
    const keys = ['21', 'foobar', 'abc', Buffer.from('a-little-bit-long-string'), new Uint8Array([0, 32]), 'ü'];
    const results = await p.send(keys.map((key) => ({ topic: 't', key, value: 'v' })));
    expect(results.map((r) => r.partition)).toEqual(keys.map((k) => partitionForKey(k, 7)));
    // murmur2("21") = -973932308; toPositive -> 1173551340; % 7 = 3 (Math.abs would give 2).
    expect(results[0].partition).toBe(1173551340 % 7);
  });

  it('sends the unkeyed records of one turn to one sticky partition, and moves on', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 8 });
    const p = store.producer();
    const seen = new Set<number>();
    for (let turn = 0; turn < 40; turn++) {
      const r = await p.send(Array.from({ length: 5 }, () => ({ topic: 't', value: 'x' })));
      expect(new Set(r.map((m) => m.partition)).size).toBe(1);
      seen.add(r[0].partition);
    }
    expect(seen.size).toBeGreaterThan(4);
  });

  it('honours an explicit partition and a custom partitioner', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 3 });
    const calls: unknown[] = [];
    const p = store.producer({
      partitioner: (record, n) => {
        calls.push([record.topic, record.key, n]);
        return 2;
      },
    });
    const r = await p.send([
      { topic: 't', key: 'a', value: '1' },
      { topic: 't', key: 'a', value: '2', partition: 0 },
      { topic: 't', value: '3' },
    ]);
    expect(r.map((m) => m.partition)).toEqual([2, 0, 2]);
    expect(calls).toEqual([
      ['t', 'a', 3],
      ['t', undefined, 3],
    ]);
    const bad = store.producer({ partitioner: () => 3 });
    await expect(bad.send({ topic: 't', value: 'x' })).rejects.toThrow(/the partitioner returned number 3, not a partition of topic "t" \(0 to 2\)/);
    expect(values(store, 't', 2)).toEqual(['1', '3']);
  });
});

describe('acknowledgement and compression', () => {
  it("acks 'none' resolves on acceptance (offset -1), 'written' once appended, 'durable' once synced", async () => {
    const store = await openStore();
    await store.createTopic('t');
    const log = store.log('t', 0);
    const p = store.producer({ acks: 'none' });
    const none = await p.send({ topic: 't', value: 'n', timestamp: 7 });
    expect(none).toEqual({ topic: 't', partition: 0, offset: -1, timestamp: 7 });
    expect(log.logEndOffset).toBe(0);
    await p.flush();
    expect(log.logEndOffset).toBe(1);
    const written = await p.send({ topic: 't', value: 'w' }, { acks: 'written' });
    expect(written.offset).toBe(1);
    expect(log.logEndOffset).toBe(2);
    const durable = await p.send({ topic: 't', value: 'd' }, { acks: 'durable' });
    expect(durable.offset).toBe(2);
    expect(log.durableOffset).toBeGreaterThanOrEqual(3);
    const flush = vi.spyOn(Log.prototype, 'flush');
    const dp = store.producer({ acks: 'durable' });
    const both = await Promise.all([dp.send({ topic: 't', value: 'e' }), dp.send({ topic: 't', value: 'f' })]);
    expect(both.map((m) => m.offset)).toEqual([3, 4]);
    expect(log.durableOffset).toBe(5);
    expect(flush).toHaveBeenCalledTimes(1); // one batch, one group-commit wait
  });

  it('flush() waits for a send still unacknowledged behind hundreds that finished after it', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const log = store.log('t', 0);
    const real = log.flush.bind(log);
    const gate = deferred();
    // The durable send's group-commit wait is held until the gate opens.
    vi.spyOn(log, 'flush').mockImplementation(() => gate.promise.then(() => real()));
    const p = store.producer({ acks: 'written' });
    let durableDone = false;
    const durable = p.send({ topic: 't', value: 'd' }, { acks: 'durable' }).then((m) => {
      durableDone = true;
      return m;
    });
    const round = (r: number) => Promise.all(Array.from({ length: 150 }, (_, i) => p.send({ topic: 't', value: `${r}-${i}` })));
    // Each round's sends finish while the durable one, accepted first, is still open: the
    // producer's list of sends then holds one live send before 150 or 300 finished ones.
    await round(1);
    await round(2);
    const last = round(3);
    let flushed = false;
    const flush = p.flush().then(() => (flushed = true));
    await last;
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(durableDone).toBe(false);
    expect(flushed).toBe(false);
    gate.resolve();
    await flush;
    expect(durableDone).toBe(true);
    expect((await durable).offset).toBe(0);
    expect(log.logEndOffset).toBe(451);
    expect(log.durableOffset).toBeGreaterThanOrEqual(1);
  });

  it("reports the failure of an acks 'none' send at the next flush()", async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ acks: 'none' });
    await p.send({ topic: 't', value: 'warm-up' });
    await p.flush();
    vi.spyOn(store.log('t', 0), 'appendBatches').mockImplementation(() => Promise.reject(new IoError('simulated I/O failure')));
    expect((await p.send({ topic: 't', value: 'lost' })).offset).toBe(-1);
    await expect(p.flush()).rejects.toBeInstanceOf(IoError);
    await p.flush(); // reported once
    expect(values(store, 't', 0)).toEqual(['warm-up']);
  });

  it("compresses with the producer's codec unless the topic sets one", async () => {
    const store = await openStore();
    await store.createTopic('p');
    await store.createTopic('lz', { config: { compression: 'lz4' } });
    await store.createTopic('plain', { config: { compression: 'none' } });
    const text = 'compressible '.repeat(50);
    const lz4 = store.producer({ compression: 'lz4' });
    const none = store.producer();
    await lz4.send([{ topic: 'p', value: text }, { topic: 'plain', value: text }]);
    await none.send({ topic: 'lz', value: text });
    expect(batchHeaders(store.log('p', 0))[0].compression).toBe(3);
    expect(batchHeaders(store.log('plain', 0))[0].compression).toBe(0);
    expect(batchHeaders(store.log('lz', 0))[0].compression).toBe(3);
    for (const t of ['p', 'plain', 'lz']) expect(values(store, t, 0)).toEqual([text]);
    // The topic's codec applies at runtime.
    await store.alterTopicConfig('plain', { compression: 'lz4' });
    await none.send({ topic: 'plain', value: text });
    expect(batchHeaders(store.log('plain', 0)).map((h) => h.compression)).toEqual([0, 3]);
  });

  it('reports the LogAppendTime of LogAppendTime topics', async () => {
    const store = await openStore();
    await store.createTopic('t', { config: { messageTimestampType: 'LogAppendTime' } });
    const before = Date.now();
    const r = await store.producer().send({ topic: 't', value: 'x', timestamp: 5 });
    expect(r.timestamp).toBeGreaterThanOrEqual(before);
    expect(store.log('t', 0).get(0)!.timestamp).toBe(r.timestamp);
  });
});

describe('backpressure', () => {
  it('makes sends wait for buffer space, in order, when a turn sends more than bufferBytes', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 3 });
    const p = store.producer({ bufferBytes: 2000 });
    const sends = [];
    for (let i = 0; i < 300; i++) sends.push(p.send({ topic: 't', partition: i % 3, value: `value-${i}-${'z'.repeat(30)}` }));
    expect(p.bufferedBytes).toBeLessThanOrEqual(2000);
    await Promise.all(sends);
    for (let part = 0; part < 3; part++) {
      expect(values(store, 't', part)).toEqual(Array.from({ length: 100 }, (_, i) => `value-${3 * i + part}-${'z'.repeat(30)}`));
    }
    expect(p.bufferedBytes).toBe(0);
  });

  it('fails a send with BufferFullError after maxBlockMs while acknowledgements are stalled', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const gate = deferred();
    const flush = Log.prototype.flush;
    vi.spyOn(Log.prototype, 'flush').mockImplementation(function (this: Log) {
      return gate.promise.then(() => flush.call(this));
    });
    const p = store.producer({ acks: 'durable', bufferBytes: 300, maxBlockMs: 50 });
    const first = p.send({ topic: 't', value: 'x'.repeat(150) });
    const second = p.send({ topic: 't', value: 'y'.repeat(150) });
    const err = await second.catch((e) => e);
    expect(err).toBeInstanceOf(BufferFullError);
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/waited 50 ms \(maxBlockMs\) for buffer space/);
    gate.resolve();
    expect((await first).offset).toBe(0);
    expect(values(store, 't', 0)).toEqual(['x'.repeat(150)]);
    // Space is free again.
    expect((await p.send({ topic: 't', value: 'z' })).offset).toBe(1);
  });

  it('refuses a send that can never fit the buffer', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ bufferBytes: 100 });
    await expect(p.send({ topic: 't', value: 'x'.repeat(200) })).rejects.toBeInstanceOf(RecordTooLargeError);
  });
});

describe('auto-created topics', () => {
  it('creates an unknown topic on first send when the store allows it, once, keeping send order', async () => {
    const store = await openStore({ autoCreateTopics: true, defaultPartitions: 3 });
    const p = store.producer();
    const sends = [];
    for (let i = 0; i < 30; i++) sends.push(p.send({ topic: 'fresh', key: `k${i % 5}`, value: String(i) }));
    const r = await Promise.all(sends);
    expect(store.describeTopic('fresh').partitions).toBe(3);
    for (let part = 0; part < 3; part++) {
      const mine = r.map((m, i) => [m, i] as const).filter(([m]) => m.partition === part);
      expect(values(store, 'fresh', part)).toEqual(mine.map(([, i]) => String(i)));
    }
  });

  it('without autoCreateTopics, an unknown topic is an UnknownTopicError naming it', async () => {
    const store = await openStore();
    const err = await store.producer().send({ topic: 'nope', value: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownTopicError);
    expect(err.message).toContain('"nope"');
    expect(store.listTopics()).toEqual([]);
  });
});

describe('bad input', () => {
  it('fails the bad send with a typed error naming the problem; nothing of it is written, other sends of the turn are', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2, config: { maxMessageBytes: 1000 } });
    const p = store.producer();
    const cases: [unknown, unknown, RegExp][] = [
      [{ topic: 't', partition: 2, value: 'x' }, InvalidArgumentError, /partition 2 of topic "t" does not exist: it has partitions 0 to 1/],
      [{ topic: 't', partition: -1, value: 'x' }, InvalidArgumentError, /partition must be a non-negative integer/],
      [{ topic: 't', value: 'x'.repeat(1000) }, RecordTooLargeError, /over maxMessageBytes 1000 of t-\d/],
      [{ topic: 't', value: 5 }, InvalidArgumentError, /value must be a Buffer, Uint8Array, string or null, got number 5/],
      [{ topic: 't', key: {}, value: 'x' }, InvalidArgumentError, /key must be a Buffer, Uint8Array, string or null, got object/],
      [{ topic: 't', value: 'x', headers: [{ key: 1, value: 'v' }] }, InvalidArgumentError, /headers\[0\]\.key must be a string, got number 1/],
      [{ topic: 't', value: 'x', headers: { h: 5 } }, InvalidArgumentError, /headers\["h"\] must be a Buffer/],
      [{ topic: 't', value: 'x', timestamp: -1 }, InvalidArgumentError, /timestamp must be a non-negative safe integer/],
      [{ topic: 5, value: 'x' }, InvalidArgumentError, /topic must be a non-empty string/],
      [{ topic: 'missing', value: 'x' }, UnknownTopicError, /topic "missing" does not exist/],
      [null, InvalidArgumentError, /must be an object \{ topic, key\?, value/],
      [[], InvalidArgumentError, /non-empty array/],
    ];
    const good = [p.send({ topic: 't', partition: 0, value: 'ok0' }), p.send({ topic: 't', partition: 1, value: 'ok1' })];
    for (const [record, type, message] of cases) {
      // The bad record goes with good ones in the same send: none of them is written.
      const input = Array.isArray(record) ? record : [{ topic: 't', partition: 0, value: 'same-send' }, record];
      const err = await p.send(input as never).catch((e) => e);
      expect(err, String(message)).toBeInstanceOf(type);
      expect(err.message).toMatch(message);
    }
    await Promise.all(good);
    expect(values(store, 't', 0)).toEqual(['ok0']);
    expect(values(store, 't', 1)).toEqual(['ok1']);
  });

  it('checks producer and send options, with suggestions', async () => {
    const store = await openStore();
    await store.createTopic('t');
    expect(() => store.producer({ linger: 5 } as never)).toThrow(/unknown producer option 'linger' \(did you mean 'lingerMs'\?\)/);
    expect(() => store.producer({ acks: 'all' as never })).toThrow(/acks must be 'none', 'written' or 'durable'/);
    expect(() => store.producer({ batchBytes: 0 })).toThrow(/batchBytes must be an integer in \[1,/);
    expect(() => store.producer({ compression: 'gzip' as never })).toThrow(/compression must be 'none' or 'lz4'/);
    expect(() => store.producer({ partitioner: 'murmur' as never })).toThrow(/partitioner must be a function/);
    const p = store.producer();
    await expect(p.send({ topic: 't', value: 'x' }, { ack: 'none' } as never)).rejects.toThrow(/did you mean 'acks'/);
    await expect(p.send({ topic: 't', value: 'x' }, { expectedOffset: -1 })).rejects.toThrow(/expectedOffset must be a non-negative integer/);
    await expect(p.send({ topic: 't', value: 'x' }, { expectedOffset: 0 })).rejects.toThrow(/explicit partition/);
    expect(store.log('t', 0).logEndOffset).toBe(0);
  });

  it('refuses sends after close (ProducerClosedError); close flushes what was sent', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ lingerMs: 60_000 });
    const sent = p.send({ topic: 't', value: 'before close' });
    await p.close();
    expect((await sent).offset).toBe(0);
    await expect(p.send({ topic: 't', value: 'after' })).rejects.toBeInstanceOf(ProducerClosedError);
    expect(values(store, 't', 0)).toEqual(['before close']);
  });

  it('a partition whose append fails fails only its own sends; the other partitions are written', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 3 });
    const p = store.producer();
    await p.send({ topic: 't', partition: 1, value: 'warm-up' });
    vi.spyOn(store.log('t', 1), 'appendBatches').mockImplementation(() => Promise.reject(new IoError('simulated I/O failure')));
    const results = await Promise.allSettled([0, 1, 2].map((part) => p.send({ topic: 't', partition: part, value: `to-${part}` })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(IoError);
    expect(values(store, 't', 0)).toEqual(['to-0']);
    expect(values(store, 't', 1)).toEqual(['warm-up']);
    expect(values(store, 't', 2)).toEqual(['to-2']);
    vi.restoreAllMocks();
    // The sequence was not consumed: the next send to partition 1 is accepted.
    expect((await p.send({ topic: 't', partition: 1, value: 'after' })).offset).toBe(1);
  });
});
