/**
 * Store and topics: create, list, describe, delete, grow, configure; names and
 * configs checked as Kafka does; metadata persisted; read-only stores; and the
 * states a crash can leave (each simulated here directly; test/store/crash
 * kills real processes).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidStateError,
  Log,
  LogLockedError,
  ReadOnlyError,
  Store,
  StoreClosedError,
  TOPIC_DEFAULTS,
  TopicExistsError,
  UnknownTopicError,
} from '../../src/index.js';
import { tempDir } from '../helpers.js';

const open: Store[] = [];
async function openStore(dir: string, options?: Parameters<typeof Store.open>[1]): Promise<Store> {
  const s = await Store.open(dir, options);
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

const topicsJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8'));
const partitionDirs = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /-\d+$/.test(n) && !n.startsWith('.'))
    .sort();

describe('topics', () => {
  it('creates, lists, describes and deletes topics; each partition is a log in <topic>-<n>/', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    expect(store.listTopics()).toEqual([]);
    const d = await store.createTopic('orders', { partitions: 3 });
    expect(d).toMatchObject({ name: 'orders', partitions: 3, overrides: {}, internal: false });
    expect(d.config).toEqual(TOPIC_DEFAULTS);
    await store.createTopic('audit');
    expect(store.describeTopic('audit').partitions).toBe(1);
    expect(store.listTopics()).toEqual(['audit', 'orders']);
    expect(partitionDirs(dir)).toEqual(['audit-0', 'orders-0', 'orders-1', 'orders-2']);
    for (let p = 0; p < 3; p++) {
      expect(store.log('orders', p).dir).toBe(join(dir, `orders-${p}`));
      await store.log('orders', p).append({ key: 'k', value: `v${p}` });
    }
    await store.deleteTopic('orders');
    expect(store.listTopics()).toEqual(['audit']);
    expect(partitionDirs(dir)).toEqual(['audit-0']);
    expect(topicsJson(dir)).toEqual({ version: 1, topics: { audit: { partitions: 1, config: {} } }, deleting: {} });
    expect(() => store.describeTopic('orders')).toThrow(UnknownTopicError);
    await expect(store.deleteTopic('orders')).rejects.toBeInstanceOf(UnknownTopicError);
    // A deleted topic can be created again, empty.
    await store.createTopic('orders', { partitions: 2 });
    expect(store.log('orders', 0).logEndOffset).toBe(0);
  });

  it('persists topics, partition counts and overrides across reopen', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('a', { partitions: 2, config: { retentionMs: 1000, cleanupPolicy: 'delete,compact' } });
    await store.log('a', 1).append([{ value: 'x' }, { value: 'y' }]);
    await store.close();
    store = await openStore(dir);
    expect(store.describeTopic('a')).toMatchObject({
      partitions: 2,
      overrides: { retentionMs: 1000, cleanupPolicy: 'compact,delete' },
    });
    expect(store.describeTopic('a').config.retentionMs).toBe(1000);
    expect(store.log('a', 1).readRecords(0).map((r) => r.value?.toString())).toEqual(['x', 'y']);
  });

  it('refuses an existing name and a name that collides once . and _ are equated (Kafka)', async () => {
    const store = await openStore(tempDir());
    await store.createTopic('a.b');
    await expect(store.createTopic('a.b')).rejects.toBeInstanceOf(TopicExistsError);
    const err = await store.createTopic('a_b').catch((e) => e);
    expect(err).toBeInstanceOf(TopicExistsError);
    expect(err.message).toContain("collides with existing topic \"a.b\"");
  });

  it("applies Kafka's topic name rules", async () => {
    const store = await openStore(tempDir());
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'é', 'x'.repeat(250), '__internal', 7, null]) {
      await expect(store.createTopic(bad as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    const reserved = await store.createTopic('__consumer_offsets').catch((e) => e);
    expect(reserved.message).toContain("reserved for tidelog's internal topics");
    for (const good of ['a', 'A-Z_0.9', 'x'.repeat(249), '.hidden', '_x']) await store.createTopic(good);
    expect(store.listTopics()).toHaveLength(5);
  });

  it('grows the partition count, never shrinks it, and keeps the data', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t', { partitions: 2 });
    await store.log('t', 0).append({ value: 'keep' });
    expect((await store.createPartitions('t', 5)).partitions).toBe(5);
    expect(partitionDirs(dir)).toEqual(['t-0', 't-1', 't-2', 't-3', 't-4']);
    await expect(store.createPartitions('t', 5)).rejects.toThrow(/can only grow/);
    await expect(store.createPartitions('t', 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.createPartitions('nope', 3)).rejects.toBeInstanceOf(UnknownTopicError);
    await store.close();
    store = await openStore(dir);
    expect(store.describeTopic('t').partitions).toBe(5);
    expect(store.log('t', 0).get(0)?.value?.toString()).toBe('keep');
    expect(() => store.partition('t', 5)).toThrow(/partitions 0 to 4/);
  });

  it('checks createTopic options', async () => {
    const store = await openStore(tempDir());
    await expect(store.createTopic('t', { partitions: 0 })).rejects.toThrow(/partitions must be an integer in \[1, 10000\]/);
    await expect(store.createTopic('t', { partitions: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.createTopic('t', { partition: 2 } as never)).rejects.toThrow(/unknown createTopic option 'partition' \(did you mean 'partitions'\?\)/);
    expect(store.listTopics()).toEqual([]);
  });
});

describe('topic configuration', () => {
  it("has Kafka's defaults", () => {
    expect(TOPIC_DEFAULTS).toEqual({
      cleanupPolicy: 'delete',
      retentionMs: 604800000,
      retentionBytes: -1,
      segmentBytes: 1073741824,
      segmentMs: 604800000,
      segmentIndexBytes: 10485760,
      indexIntervalBytes: 4096,
      maxMessageBytes: 1048588,
      compression: 'producer',
      messageTimestampType: 'CreateTime',
      deleteRetentionMs: 86400000,
      minCompactionLagMs: 0,
      maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
      minCleanableDirtyRatio: 0.5,
      flushIntervalMs: null,
      flushBytes: null,
    });
  });

  it('layers Kafka defaults < store defaults < topic overrides, and opens the logs with them', async () => {
    const store = await openStore(tempDir(), { defaults: { segmentBytes: 1 << 20, retentionMs: 5000, maxMessageBytes: 4096 } });
    await store.createTopic('t', { config: { retentionMs: 7000, messageTimestampType: 'LogAppendTime' } });
    const { config, overrides } = store.describeTopic('t');
    expect(overrides).toEqual({ retentionMs: 7000, messageTimestampType: 'LogAppendTime' });
    expect(config).toMatchObject({ segmentBytes: 1 << 20, retentionMs: 7000, maxMessageBytes: 4096, retentionBytes: -1 });
    const log = store.log('t', 0);
    expect(log.options).toMatchObject({ segmentBytes: 1 << 20, maxMessageBytes: 4096, messageTimestampType: 'LogAppendTime' });
    const r = await log.append({ value: 'x', timestamp: 5 });
    expect(r.logAppendTime).toBeGreaterThan(5);
  });

  it('a small segmentBytes without maxMessageBytes brings the maxMessageBytes default down to it', async () => {
    const store = await openStore(tempDir());
    await store.createTopic('small', { config: { segmentBytes: 4096 } });
    expect(store.describeTopic('small').config).toMatchObject({ segmentBytes: 4096, maxMessageBytes: 4096 });
    expect(store.log('small', 0).options.maxMessageBytes).toBe(4096);
  });

  it('refuses unknown names with a suggestion, bad values and inconsistent combinations', async () => {
    const store = await openStore(tempDir());
    const cases: [unknown, RegExp][] = [
      [{ retentionMS: 1 }, /unknown topic config option 'retentionMS' \(did you mean 'retentionMs'\?\)/],
      [{ 'retention.ms': 1 }, /unknown topic config option 'retention\.ms' \(did you mean 'retentionMs'\?\)/],
      [{ cleanupPolicy: 'compacted' }, /cleanupPolicy must be one of 'delete', 'compact', 'compact,delete'/],
      [{ retentionBytes: -2 }, /retentionBytes must be -1 \(no limit\) or a non-negative integer/],
      [{ minCleanableDirtyRatio: 1.5 }, /minCleanableDirtyRatio must be a number in \[0, 1\]/],
      [{ compression: 'gzip' }, /compression must be one of 'producer', 'none', 'lz4'/],
      [{ segmentBytes: 10 }, /segmentBytes must be an integer in \[14,/],
      [{ segmentBytes: 1000, maxMessageBytes: 2000 }, /maxMessageBytes \(2000\) must not exceed segmentBytes \(1000\)/],
      [{ minCompactionLagMs: 10, maxCompactionLagMs: 5 }, /maxCompactionLagMs \(5\) must not be below minCompactionLagMs \(10\)/],
      [{ flushIntervalMs: 0 }, /flushIntervalMs must be an integer in \[1,/],
      [{ maxMessageBytes: 0 }, /topic config maxMessageBytes must be an integer in \[1,/],
      ['fast', /topic config options must be an object/],
    ];
    for (const [config, message] of cases) {
      await expect(store.createTopic('t', { config } as never)).rejects.toThrow(message);
    }
    expect(store.listTopics()).toEqual([]);
    await expect(Store.open(tempDir(), { defaults: { segmentByte: 1 } } as never)).rejects.toThrow(/did you mean 'segmentBytes'/);
    await expect(Store.open(tempDir(), { autoCreateTopic: true } as never)).rejects.toThrow(/did you mean 'autoCreateTopics'/);
    for (const syncHintBytes of [-1, 1.5, '4MiB', null]) {
      await expect(Store.open(tempDir(), { syncHintBytes } as never)).rejects.toThrow(/option syncHintBytes must be a non-negative integer/);
    }
  });

  it('gives every partition log the store-wide syncHintBytes (default 4 MiB; 0 turns the sync hints off)', async () => {
    for (const [options, want] of [
      [{}, 4 * 1024 * 1024],
      [{ syncHintBytes: 0 }, 0],
      [{ syncHintBytes: 1 << 20 }, 1 << 20],
    ] as const) {
      const store = await openStore(tempDir(), options);
      await store.createTopic('t', { partitions: 2 });
      await store.createPartitions('t', 3);
      for (let p = 0; p < 3; p++) expect(store.log('t', p).options.syncHintBytes, `partition ${p}`).toBe(want);
      await store.close();
    }
  });

  it('alters overrides at runtime, persists them, resets them, and reopens logs with the new log options', async () => {
    const dir = tempDir();
    let store = await openStore(dir, { defaults: { retentionMs: 1000 } });
    await store.createTopic('t', { config: { segmentBytes: 1 << 21 } });
    let d = await store.alterTopicConfig('t', { retentionMs: 2000, maxMessageBytes: 5000, segmentBytes: 1 << 22 });
    expect(d.overrides).toEqual({ segmentBytes: 1 << 22, retentionMs: 2000, maxMessageBytes: 5000 });
    expect(d.config.retentionMs).toBe(2000);
    // The open log keeps the options it was opened with (documented); the next open uses the new ones.
    expect(store.log('t', 0).options.segmentBytes).toBe(1 << 21);
    d = await store.alterTopicConfig('t', {}, { reset: ['retentionMs'] });
    expect(d.config.retentionMs).toBe(1000);
    expect(d.overrides).toEqual({ segmentBytes: 1 << 22, maxMessageBytes: 5000 });
    await expect(store.alterTopicConfig('t', { retentionMs: -5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.alterTopicConfig('t', {}, { reset: ['retention'] as never })).rejects.toThrow(/did you mean 'retentionMs'/);
    await expect(store.alterTopicConfig('t', { segmentBytes: 4000 })).rejects.toThrow(/must not exceed segmentBytes/);
    await expect(store.alterTopicConfig('x', { retentionMs: 5 })).rejects.toBeInstanceOf(UnknownTopicError);
    expect(store.describeTopic('t').overrides).toEqual({ segmentBytes: 1 << 22, maxMessageBytes: 5000 });
    await store.close();
    store = await openStore(dir, { defaults: { retentionMs: 1000 } });
    expect(store.log('t', 0).options).toMatchObject({ segmentBytes: 1 << 22, maxMessageBytes: 5000 });
  });
});

describe('crash states and ownership', () => {
  it('a committed topic whose directories were never created is completed at open (the new state)', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'topics.json'), JSON.stringify({ version: 1, topics: { t: { partitions: 2, config: {} } }, deleting: {} }));
    const store = await openStore(dir);
    expect(store.describeTopic('t').partitions).toBe(2);
    expect(partitionDirs(dir)).toEqual(['t-0', 't-1']);
  });

  it('a deletion that committed is finished at open: its directories go, the topic stays gone', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('gone', { partitions: 2 });
    await store.createTopic('kept');
    await store.log('gone', 0).append({ value: 'x' });
    await store.close();
    // As if killed right after committing the deletion.
    writeFileSync(
      join(dir, 'topics.json'),
      JSON.stringify({ version: 1, topics: { kept: { partitions: 1, config: {} } }, deleting: { gone: { partitions: 2 } } }),
    );
    store = await openStore(dir);
    expect(store.listTopics()).toEqual(['kept']);
    expect(partitionDirs(dir)).toEqual(['kept-0']);
    expect(topicsJson(dir).deleting).toEqual({});
  });

  it('never adopts nor deletes a directory that topics.json does not know', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'stray-0'), { recursive: true });
    writeFileSync(join(dir, 'stray-0', 'mine.txt'), 'user data');
    const store = await openStore(dir);
    expect(store.listTopics()).toEqual([]);
    const err = await store.createTopic('stray').catch((e) => e);
    expect(err).toBeInstanceOf(InvalidStateError);
    expect(err.message).toContain(join(dir, 'stray-0'));
    expect(store.listTopics()).toEqual([]);
    expect(readFileSync(join(dir, 'stray-0', 'mine.txt'), 'utf8')).toBe('user data');
  });

  it('a second writer fails with LogLockedError naming the partition; a read-only store works alongside', async () => {
    const dir = tempDir();
    const writer = await openStore(dir);
    await writer.createTopic('t', { partitions: 3 });
    await writer.log('t', 2).append({ value: 'hello' });
    const err = await Store.open(dir).catch((e) => e);
    expect(err).toBeInstanceOf(LogLockedError);
    expect(err.message).toMatch(/partition t-\d of store/);
    const reader = await openStore(dir, { readOnly: true });
    expect(reader.listTopics()).toEqual(['t']);
    expect(reader.log('t', 2).readRecords(0).map((r) => r.value?.toString())).toEqual(['hello']);
    await writer.log('t', 2).append({ value: 'again' });
    expect(reader.log('t', 2).logEndOffset).toBe(2);
    await expect(reader.createTopic('u')).rejects.toBeInstanceOf(ReadOnlyError);
    await expect(reader.deleteTopic('t')).rejects.toBeInstanceOf(ReadOnlyError);
    expect(() => reader.producer()).toThrow(ReadOnlyError);
  });

  it('names the locked partition when another holder has just that one', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t', { partitions: 3 });
    await store.close();
    const holder = await Log.open(join(dir, 't-1'));
    try {
      const err = await Store.open(dir).catch((e) => e);
      expect(err).toBeInstanceOf(LogLockedError);
      expect(err.message).toContain('partition t-1 of store');
      // The partitions the failed open took were released: once t-1 is free, the store opens.
    } finally {
      await holder.close();
    }
    store = await openStore(dir);
    expect(store.describeTopic('t').partitions).toBe(3);
  });

  it('refuses calls after close and corrupt metadata', async () => {
    const dir = tempDir();
    const store = await Store.open(dir);
    await store.close();
    expect(() => store.listTopics()).toThrow(StoreClosedError);
    await expect(store.createTopic('t')).rejects.toBeInstanceOf(StoreClosedError);
    writeFileSync(join(dir, 'topics.json'), '{"version": 1, "topics": {"bad name": {"partitions": 1}}}');
    await expect(Store.open(dir)).rejects.toThrow(/topics\.json: topic name "bad name"/);
    writeFileSync(join(dir, 'topics.json'), '{ not json');
    await expect(Store.open(dir)).rejects.toThrow(/is not valid JSON/);
    expect(existsSync(join(dir, 'topics.json'))).toBe(true);
  });
});
