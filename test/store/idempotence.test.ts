/**
 * Idempotent producers: producer ids and epochs allocated and persisted by the
 * store, sequence numbers in every batch, retries answered with their original
 * offsets and never written twice, sequence gaps and stale epochs refused, and
 * the producer state kept in Kafka's .snapshot files and rebuilt from the log
 * after a clean restart and after kill -9.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CorruptMetadataError,
  DiskFullError,
  OutOfOrderSequenceError,
  ProducerFencedError,
  Store,
  encodeBatch,
} from '../../src/index.js';
import { PRODUCER_ID_BLOCK } from '../../src/store.js';
import { native } from '../../src/native.js';
import { snapshotFileName } from '../../src/producer-state.js';
import { tempDir } from '../helpers.js';
import { Child, ensureDist } from '../log/util.js';
import { batchHeaders, values } from './util.js';

beforeAll(() => ensureDist(), 120_000);

const stores: Store[] = [];
async function openStore(dir = tempDir(), options?: Parameters<typeof Store.open>[1]): Promise<Store> {
  const s = await Store.open(dir, options);
  stores.push(s);
  return s;
}
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

/** An idempotent batch as a client would send it. */
function batch(producerId: number, epoch: number, baseSequence: number, n: number, tag = 'r'): Buffer {
  const records = Array.from({ length: n }, (_, i) => ({ value: `${tag}${baseSequence + i}`, timestamp: 1000 + i }));
  return encodeBatch(records, { producerId, producerEpoch: epoch, baseSequence, computeCrc: true });
}

describe('producer ids and sequence numbers', () => {
  it('allocates ids from a block reserved at open (unnamed) or from the persisted counter (named, keeping its id, next epoch)', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t');
    const a = store.producer();
    const b = store.producer();
    await a.send({ topic: 't', value: 'a' });
    await b.send({ topic: 't', value: 'b' });
    expect(a.producerId).toEqual({ producerId: 0, epoch: 0 });
    expect(b.producerId).toEqual({ producerId: 1, epoch: 0 });
    const w1 = store.producer({ name: 'writer' });
    await w1.send({ topic: 't', value: 'w1' });
    expect(w1.producerId).toEqual({ producerId: PRODUCER_ID_BLOCK, epoch: 0 });
    await store.close();
    // A reopened store reserves the next block: the rest of the old one is skipped, never reused.
    store = await openStore(dir);
    const c = store.producer();
    await c.send({ topic: 't', value: 'c' });
    expect(c.producerId).toEqual({ producerId: PRODUCER_ID_BLOCK + 1, epoch: 0 });
    const w2 = store.producer({ name: 'writer' });
    await w2.send({ topic: 't', value: 'w2' });
    expect(w2.producerId).toEqual({ producerId: PRODUCER_ID_BLOCK, epoch: 1 });
    expect(JSON.parse(readFileSync(join(dir, 'producer-ids.json'), 'utf8'))).toEqual({
      version: 1,
      nextProducerId: 2 * PRODUCER_ID_BLOCK + 1,
      names: { writer: { producerId: PRODUCER_ID_BLOCK, epoch: 1 } },
    });
    const headers = batchHeaders(store.log('t', 0));
    expect(headers.map((h) => [h.producerId, h.producerEpoch, h.baseSequence])).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [PRODUCER_ID_BLOCK, 0, 0],
      [PRODUCER_ID_BLOCK + 1, 0, 0],
      [PRODUCER_ID_BLOCK, 1, 0],
    ]);
  });

  it('reserves the next block once the reserved one is used up, one block for concurrent producers', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await store.createTopic('t');
    const first = Array.from({ length: PRODUCER_ID_BLOCK }, () => store.producer());
    await vi.waitFor(() => expect(first.every((p) => p.producerId !== null)).toBe(true));
    expect(first.map((p) => p.producerId?.producerId)).toEqual(Array.from({ length: PRODUCER_ID_BLOCK }, (_, i) => i));
    const idsFile = () => JSON.parse(readFileSync(join(dir, 'producer-ids.json'), 'utf8')).nextProducerId;
    expect(idsFile()).toBe(PRODUCER_ID_BLOCK);
    const more = [store.producer(), store.producer()];
    await vi.waitFor(() => expect(more.every((p) => p.producerId !== null)).toBe(true));
    expect(more.map((p) => p.producerId)).toEqual([
      { producerId: PRODUCER_ID_BLOCK, epoch: 0 },
      { producerId: PRODUCER_ID_BLOCK + 1, epoch: 0 },
    ]);
    expect(idsFile()).toBe(2 * PRODUCER_ID_BLOCK);
    await more[1].send({ topic: 't', value: 'x' });
    expect(batchHeaders(store.log('t', 0))[0].producerId).toBe(PRODUCER_ID_BLOCK + 1);
  });

  it('has its producer id when created, before any send; a failed allocation fails its sends', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t');
    // The block was reserved (persisted) when the store opened, before any producer.
    expect(JSON.parse(readFileSync(join(dir, 'producer-ids.json'), 'utf8')).nextProducerId).toBe(PRODUCER_ID_BLOCK);
    const p = store.producer();
    const plain = store.producer({ idempotent: false });
    await vi.waitFor(() => expect(p.producerId).toEqual({ producerId: 0, epoch: 0 }));
    expect(store.log('t', 0).logEndOffset).toBe(0);
    await p.send({ topic: 't', value: 'a' });
    await plain.send({ topic: 't', value: 'b' });
    expect(plain.producerId).toBeNull();
    expect(batchHeaders(store.log('t', 0)).map((h) => h.producerId)).toEqual([0, -1]);

    // A named producer reads producer-ids.json when created: a corrupt file fails its sends.
    writeFileSync(join(dir, 'producer-ids.json'), '{"version": 1, "nextProducerId": "x"}');
    const named = store.producer({ name: 'n' });
    await expect(named.send({ topic: 't', value: 'c' })).rejects.toBeInstanceOf(CorruptMetadataError);
    await expect(named.send({ topic: 't', value: 'd' })).rejects.toBeInstanceOf(CorruptMetadataError);
    expect(named.producerId).toBeNull();
    await store.close();
    // A store opens without a block when it cannot reserve one; its unnamed producers then fail with the reason.
    store = await openStore(dir);
    const unnamed = store.producer();
    await expect(unnamed.send({ topic: 't', value: 'e' })).rejects.toBeInstanceOf(CorruptMetadataError);
    expect(values(store, 't', 0)).toEqual(['a', 'b']);
  });

  it('numbers each partition’s batches from 0, by record count; a non-idempotent producer writes no producer id', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2 });
    const p = store.producer();
    for (const n of [3, 1, 5]) {
      await p.send(Array.from({ length: n }, (_, i) => ({ topic: 't', partition: 0, value: String(i) })));
      await p.send({ topic: 't', partition: 1, value: 'x' });
    }
    expect(batchHeaders(store.log('t', 0)).map((h) => h.baseSequence)).toEqual([0, 3, 4]);
    expect(batchHeaders(store.log('t', 1)).map((h) => h.baseSequence)).toEqual([0, 1, 2]);
    const plain = store.producer({ idempotent: false });
    await plain.send({ topic: 't', partition: 1, value: 'y' });
    expect(batchHeaders(store.log('t', 1)).at(-1)).toMatchObject({ producerId: -1, producerEpoch: -1, baseSequence: -1 });
    expect(plain.producerId).toBeNull();
  });
});

describe('retries', () => {
  it('a batch retried after its acknowledgement was lost gets its original offsets and is written once', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const log = store.log('t', 0);
    const p = store.producer({ retryBackoffMs: 1 });
    await p.send({ topic: 't', value: 'first' });
    const real = log.appendBatches.bind(log);
    let calls = 0;
    vi.spyOn(log, 'appendBatches').mockImplementation((bytes, options) => {
      calls++;
      if (calls > 1) return real(bytes, options);
      // The append happens, but the producer hears a failure.
      return real(bytes, options).then(() => Promise.reject(new DiskFullError('simulated: the acknowledgement was lost')));
    });
    const r = await p.send([
      { topic: 't', value: 'a' },
      { topic: 't', value: 'b' },
    ]);
    expect(r.map((m) => m.offset)).toEqual([1, 2]);
    expect(values(store, 't', 0)).toEqual(['first', 'a', 'b']);
    expect(calls).toBe(1); // the retry was answered by the producer state, not appended
    expect((await p.send({ topic: 't', value: 'c' })).offset).toBe(3);
    expect(batchHeaders(log).map((h) => h.baseSequence)).toEqual([0, 1, 3]);
  });

  it('a batch whose append failed is retried with the same sequence and written once; later sends wait for it', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const log = store.log('t', 0);
    const p = store.producer({ retryBackoffMs: 1 });
    await p.send({ topic: 't', value: 'warm-up' }); // the producer id is allocated
    const real = log.appendBatches.bind(log);
    let failures = 2;
    vi.spyOn(log, 'appendBatches').mockImplementation((bytes, options) =>
      failures-- > 0 ? Promise.reject(new DiskFullError('simulated: disk full')) : real(bytes, options),
    );
    const first = p.send({ topic: 't', value: 'a' });
    await new Promise((r) => setImmediate(r));
    const second = p.send({ topic: 't', value: 'b' });
    expect((await first).offset).toBe(1);
    expect((await second).offset).toBe(2);
    expect(values(store, 't', 0)).toEqual(['warm-up', 'a', 'b']);
    expect(batchHeaders(log).map((h) => h.baseSequence)).toEqual([0, 1, 2]);
  });

  it('gives up after `retries` and fails the sends; the sequence is not consumed', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const log = store.log('t', 0);
    const p = store.producer({ retries: 2, retryBackoffMs: 1 });
    const real = log.appendBatches.bind(log);
    let failures = 3;
    const spy = vi
      .spyOn(log, 'appendBatches')
      .mockImplementation((bytes, options) => (failures-- > 0 ? Promise.reject(new DiskFullError('simulated: disk full')) : real(bytes, options)));
    await expect(p.send({ topic: 't', value: 'lost' })).rejects.toBeInstanceOf(DiskFullError);
    expect(spy).toHaveBeenCalledTimes(3);
    expect((await p.send({ topic: 't', value: 'next' })).offset).toBe(0);
    expect(batchHeaders(log).map((h) => h.baseSequence)).toEqual([0]);
  });
});

describe('partition.appendBatches (the broker path)', () => {
  it('answers a retry of any of the last 5 batches with its offsets; refuses gaps and stale epochs', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const part = store.partition('t', 0);
    const sent: Buffer[] = [];
    const offsets: number[][] = [];
    for (let i = 0; i < 7; i++) {
      sent.push(batch(9, 0, 2 * i, 2));
      const r = await part.appendBatches(sent[i]);
      expect(r.batches[0].duplicate).toBe(false);
      offsets.push([r.batches[0].baseOffset, r.batches[0].lastOffset]);
    }
    for (let i = 2; i < 7; i++) {
      const r = await part.appendBatches(sent[i]);
      expect(r.batches).toEqual([{ baseOffset: offsets[i][0], lastOffset: offsets[i][1], duplicate: true }]);
    }
    // Older than the last 5: no longer known, and behind the last sequence.
    await expect(part.appendBatches(sent[1])).rejects.toBeInstanceOf(OutOfOrderSequenceError);
    const gap = await part.appendBatches(batch(9, 0, 15, 1)).catch((e) => e);
    expect(gap).toBeInstanceOf(OutOfOrderSequenceError);
    expect(gap.message).toContain('t-0: producer 9 epoch 0: sequence 15 does not follow the last appended sequence 13 (expected 14)');
    // A new epoch starts at 0 and fences the old one.
    await expect(part.appendBatches(batch(9, 1, 5, 1))).rejects.toThrow(/first batch of epoch 1 must start at sequence 0/);
    expect((await part.appendBatches(batch(9, 1, 0, 1))).batches[0].baseOffset).toBe(14);
    const fenced = await part.appendBatches(batch(9, 0, 14, 1)).catch((e) => e);
    expect(fenced).toBeInstanceOf(ProducerFencedError);
    expect(fenced.message).toContain('epoch 0 is fenced: epoch 1 has written to this partition');
    expect(store.log('t', 0).logEndOffset).toBe(15);
  });

  it('accepts any first sequence from an unknown producer, wraps sequences at 2^31-1, and checks several batches of one append together', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const part = store.partition('t', 0);
    await part.appendBatches(batch(5, 0, 2147483646, 3)); // sequences 2147483646, 2147483647, 0
    const both = await part.appendBatches(Buffer.concat([batch(5, 0, 1, 2), batch(5, 0, 3, 1)]));
    expect(both.batches.map((b) => [b.baseOffset, b.duplicate])).toEqual([
      [3, false],
      [5, false],
    ]);
    // One append mixing a retry and a new batch: the retry is skipped, the new one written.
    const mixed = await part.appendBatches(Buffer.concat([batch(5, 0, 3, 1), batch(5, 0, 4, 1)]));
    expect(mixed.batches).toEqual([
      { baseOffset: 5, lastOffset: 5, duplicate: true },
      { baseOffset: 6, lastOffset: 6, duplicate: false },
    ]);
    // A gap anywhere refuses the whole append.
    await expect(part.appendBatches(Buffer.concat([batch(5, 0, 5, 1), batch(5, 0, 7, 1)]))).rejects.toBeInstanceOf(OutOfOrderSequenceError);
    expect(store.log('t', 0).logEndOffset).toBe(7);
  });

  it('fences an older instance of a named producer in the same store', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2 });
    const old = store.producer({ name: 'orders-writer' });
    await old.send({ topic: 't', partition: 0, value: 'old' });
    const current = store.producer({ name: 'orders-writer' });
    await current.send({ topic: 't', partition: 1, value: 'new' });
    // The old instance is fenced even on a partition the new one has not written to.
    const err = await old.send({ topic: 't', partition: 0, value: 'zombie' }).catch((e) => e);
    expect(err).toBeInstanceOf(ProducerFencedError);
    // Named producers take their ids from the counter, past the block reserved for unnamed ones.
    expect(err.message).toMatch(/producer "orders-writer" \(id 1000, epoch 0\) is fenced/);
    await expect(old.send({ topic: 't', partition: 0, value: 'again' })).rejects.toBeInstanceOf(ProducerFencedError);
    expect(values(store, 't', 0)).toEqual(['old']);
    expect((await current.send({ topic: 't', partition: 0, value: 'fine' })).offset).toBe(1);
  });
});

describe('producer state on disk', () => {
  it("writes Kafka's snapshot format at clean close, named by the log end offset", async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await store.createTopic('t');
    const part = store.partition('t', 0);
    await part.appendBatches(batch(7, 3, 0, 4));
    await part.appendBatches(batch(2 ** 40, 0, 10, 2));
    const before = Date.now();
    await store.close();
    const pdir = join(dir, 't-0');
    expect(readdirSync(pdir).filter((n) => n.endsWith('.snapshot'))).toEqual(['00000000000000000006.snapshot']);
    const b = readFileSync(join(pdir, '00000000000000000006.snapshot'));
    // Kafka ProducerStateManager: version i16, crc u32 (CRC-32C of the rest), entries array.
    expect(b.readInt16BE(0)).toBe(1);
    expect(b.readUInt32BE(2)).toBe(native.crc32c(b.subarray(6)));
    expect(b.readInt32BE(6)).toBe(2);
    expect(b.length).toBe(10 + 2 * 46);
    const entries = [0, 1].map((i) => {
      const p = 10 + 46 * i;
      return {
        producerId: Number(b.readBigInt64BE(p)),
        epoch: b.readInt16BE(p + 8),
        lastSequence: b.readInt32BE(p + 10),
        lastOffset: Number(b.readBigInt64BE(p + 14)),
        offsetDelta: b.readInt32BE(p + 22),
        coordinatorEpoch: b.readInt32BE(p + 34),
        txnFirstOffset: Number(b.readBigInt64BE(p + 38)),
        timestamp: Number(b.readBigInt64BE(p + 26)),
      };
    });
    expect(entries.map(({ timestamp, ...e }) => e)).toEqual([
      { producerId: 7, epoch: 3, lastSequence: 3, lastOffset: 3, offsetDelta: 3, coordinatorEpoch: -1, txnFirstOffset: -1 },
      { producerId: 2 ** 40, epoch: 0, lastSequence: 11, lastOffset: 5, offsetDelta: 1, coordinatorEpoch: -1, txnFirstOffset: -1 },
    ]);
    for (const e of entries) expect(e.timestamp).toBeGreaterThanOrEqual(before - 60_000);
  });

  it('survives a clean restart: the last batch retried is a duplicate, the next sequence follows', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t');
    await store.partition('t', 0).appendBatches(batch(3, 0, 0, 2));
    await store.partition('t', 0).appendBatches(batch(3, 0, 2, 2));
    await store.close();
    store = await openStore(dir);
    const part = store.partition('t', 0);
    expect((await part.appendBatches(batch(3, 0, 2, 2))).batches[0]).toEqual({ baseOffset: 2, lastOffset: 3, duplicate: true });
    await expect(part.appendBatches(batch(3, 0, 5, 1))).rejects.toBeInstanceOf(OutOfOrderSequenceError);
    expect((await part.appendBatches(batch(3, 0, 4, 1))).batches[0].baseOffset).toBe(4);
  });

  it('rebuilds from the log when the snapshot is corrupt or beyond the log end', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    await store.createTopic('t');
    for (let i = 0; i < 3; i++) await store.partition('t', 0).appendBatches(batch(4, 0, 2 * i, 2));
    await store.close();
    const pdir = join(dir, 't-0');
    const snap = join(pdir, snapshotFileName(6));
    const bytes = readFileSync(snap);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(snap, bytes);
    writeFileSync(join(pdir, snapshotFileName(99)), bytes); // a stale one beyond the end
    store = await openStore(dir);
    expect(readdirSync(pdir).filter((n) => n.endsWith('.snapshot'))).toEqual([]);
    const part = store.partition('t', 0);
    // Rebuilt by the scan: the last 3 batches are known.
    for (let i = 0; i < 3; i++) expect((await part.appendBatches(batch(4, 0, 2 * i, 2))).batches[0].duplicate).toBe(true);
  });

  it('forgets producers idle for producerIdExpirationMs: their retries are then new batches', async () => {
    const dir = tempDir();
    let store = await openStore(dir, { producerIdExpirationMs: 1 });
    await store.createTopic('t');
    await store.partition('t', 0).appendBatches(batch(8, 0, 0, 1));
    await store.close();
    await new Promise((r) => setTimeout(r, 5));
    store = await openStore(dir, { producerIdExpirationMs: 1 });
    const part = store.partition('t', 0);
    expect(part.producerState!.size).toBe(0);
    // appendNow is the synchronous core of appendBatches: nothing can expire in between.
    const now = part.appendNow(batch(8, 0, 0, 1), -1);
    expect(now.batches[0]).toEqual({ baseOffset: 1, lastOffset: 1, duplicate: false });
    expect(part.producerState!.entry(8)).toMatchObject({ epoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, firstOffset: 1 }] });
    await now.appended;
    expect(values(store, 't', 0)).toEqual(['r0', 'r0']);
  });
});

describe('producer state after kill -9', () => {
  const CHILD = `
const { Store, encodeBatch } = tidelog;
const batch = (pid, seq, n) => encodeBatch(Array.from({ length: n }, (_, i) => ({ value: 'r' + (seq + i), timestamp: 1 })), { producerId: pid, producerEpoch: 0, baseSequence: seq, computeCrc: true });
let store = await Store.open(arg.dir);
if (!store.listTopics().includes('t')) await store.createTopic('t');
// Phase 1 ends with a clean close: a snapshot at its end offset.
for (let i = 0; i < arg.before; i++) await store.partition('t', 0).appendBatches(batch(1, 3 * i, 3));
await store.close();
store = await Store.open(arg.dir);
// Phase 2: acknowledged appends after the snapshot, then the kill.
let seq = { 1: 3 * arg.before, 2: 0 };
for (let i = 0; i < arg.after; i++) {
  for (const pid of [1, 2]) {
    const r = await store.partition('t', 0).appendBatches(batch(pid, seq[pid], 2));
    process.stdout.write(JSON.stringify({ pid, seq: seq[pid], base: r.batches[0].baseOffset }) + '\\n');
    seq[pid] += 2;
  }
}
process.stdout.write(JSON.stringify({ done: true }) + '\\n');
await new Promise(() => {});
`;

  it('is rebuilt from the snapshot and the log tail after it', async () => {
    const dir = tempDir();
    const child = new Child(CHILD, { dir, before: 4, after: 6 });
    const acks: { pid: number; seq: number; base: number }[] = [];
    for (;;) {
      const m = await child.next<{ pid: number; seq: number; base: number; done?: boolean }>();
      if (m.done) break;
      acks.push(m);
    }
    child.kill();
    expect((await child.exited).signal).toBe('SIGKILL');
    const store = await openStore(dir);
    const part = store.partition('t', 0);
    expect(part.log.recovery.clean).toBe(false);
    expect(part.producerState!.snapshotOffset).toBe(12);
    // Every acknowledged batch of the tail is still recognised (at most the last 5 per producer).
    for (const pid of [1, 2]) {
      const mine = acks.filter((a) => a.pid === pid).slice(-5);
      for (const a of mine) {
        const r = await part.appendBatches(batch(pid, 0, a.seq, 2));
        expect(r.batches[0]).toEqual({ baseOffset: a.base, lastOffset: a.base + 1, duplicate: true });
      }
      const last = mine.at(-1)!;
      await expect(part.appendBatches(batch(pid, 0, last.seq + 3, 1))).rejects.toBeInstanceOf(OutOfOrderSequenceError);
      expect((await part.appendBatches(batch(pid, 0, last.seq + 2, 1))).batches[0].duplicate).toBe(false);
    }
    expect(part.log.logEndOffset).toBe(12 + 6 * 4 + 2);
  });
});
