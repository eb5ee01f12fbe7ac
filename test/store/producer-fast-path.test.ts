/**
 * The producer's write path (docs/store-and-producer.md, "Write path"):
 * records encoded into their partition's batch when the send is accepted,
 * the batch's CRC computed by the log's append (appendBatches computeCrc),
 * each record field read once, and nothing written for a send that fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidBatchError,
  Log,
  Store,
  decodeBatch,
  encodeBatch,
  iterateBatches,
  verifyBatchCrc,
  verifyLog,
} from '../../src/index.js';
import { CRC_OFFSET } from '../../src/record/format.js';
import { tempDir } from '../helpers.js';
import { batchHeaders, values } from './util.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close().catch(() => undefined);
});

async function openStore(dir = tempDir()): Promise<Store> {
  const s = await Store.open(dir);
  open.push(s);
  return s;
}

describe('Log.appendBatches computeCrc', () => {
  it('stores bytes encoded without a CRC under the right CRC; without the option their CRC is checked and they are refused', async () => {
    const log = await Log.open(tempDir());
    open.push(log);
    const records = [
      { key: 'k', value: 'v1', timestamp: 1 },
      { value: Buffer.from([0, 1, 2]), headers: [{ key: 'h', value: 'x' }], timestamp: 2 },
    ];
    const noCrc = encodeBatch(records, { computeCrc: false });
    expect(noCrc.readUInt32BE(CRC_OFFSET)).toBe(0);
    await expect(log.appendBatches(noCrc)).rejects.toBeInstanceOf(InvalidBatchError);
    expect(log.logEndOffset).toBe(0);
    const r = await log.appendBatches(noCrc, { computeCrc: true });
    expect(r).toMatchObject({ baseOffset: 0, lastOffset: 1 });
    const stored = log.readBatches(0) as Buffer;
    expect(verifyBatchCrc(stored)).toBe(true);
    expect(stored.readUInt32BE(CRC_OFFSET)).toBe(encodeBatch(records).readUInt32BE(CRC_OFFSET));
    expect(decodeBatch(stored).map((x) => x.value?.toString('hex'))).toEqual([Buffer.from('v1').toString('hex'), '000102']);
    // The caller's buffer is not modified.
    expect(noCrc.readUInt32BE(CRC_OFFSET)).toBe(0);
    await log.close();
    expect((await verifyLog(log.dir)).issues).toEqual([]);
  });

  it('still checks framing and sizes, and the option type', async () => {
    const log = await Log.open(tempDir(), { maxMessageBytes: 200 });
    open.push(log);
    const bad = Buffer.from(encodeBatch([{ value: 'v', timestamp: 1 }], { computeCrc: false }));
    bad.writeInt32BE(1_000_000, 8); // batchLength past the buffer's end
    await expect(log.appendBatches(bad, { computeCrc: true })).rejects.toBeInstanceOf(InvalidBatchError);
    const big = encodeBatch([{ value: Buffer.alloc(300), timestamp: 1 }], { computeCrc: false, maxRecordBytes: 0 });
    await expect(log.appendBatches(big, { computeCrc: true })).rejects.toThrow(/maxMessageBytes/);
    await expect(log.appendBatches(bad, { computeCrc: 'yes' as never })).rejects.toThrow(/option computeCrc must be a boolean, got "yes"/);
    expect(log.logEndOffset).toBe(0);
  });
});

describe('producer batches', () => {
  it('several sends (over several partitions) share batches; every stored batch has a valid CRC and the records read back', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await store.createTopic('t', { partitions: 3 });
    const p = store.producer({ lingerMs: 5 });
    const sent: Promise<unknown>[] = [];
    const expected: string[][] = [[], [], []];
    for (let s = 0; s < 30; s++) {
      const batch = Array.from({ length: 1 + (s % 7) }, (_, i) => ({ topic: 't', partition: (s + i) % 3, key: `k${s}-${i}`, value: `v${s}-${i}`.repeat(1 + (i % 5)) }));
      for (const r of batch) expected[r.partition].push(r.value);
      sent.push(p.send(batch));
    }
    await Promise.all(sent);
    for (let part = 0; part < 3; part++) {
      expect(values(store, 't', part)).toEqual(expected[part]);
      const headers = batchHeaders(store.log('t', part));
      expect(headers.length).toBeLessThan(expected[part].length); // batched, not one batch per record
      const bytes = store.log('t', part).readBatches(0, { maxBytes: 1 << 20 }) as Buffer;
      for (const { bytes: one } of iterateBatches(bytes)) expect(verifyBatchCrc(one)).toBe(true);
    }
    await store.close();
    for (let part = 0; part < 3; part++) expect((await verifyLog(`${dir}/t-${part}`)).issues).toEqual([]);
  });

  it('reads each record field once: getters run once and the batch holds what they returned', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const calls = { key: 0, value: 0, timestamp: 0, headers: 0 };
    const record = {
      topic: 't',
      get key() {
        calls.key++;
        return calls.key === 1 ? 'key-1' : 'another key';
      },
      get value() {
        calls.value++;
        return calls.value === 1 ? Buffer.from('value-1') : Buffer.from('a longer second value');
      },
      get timestamp() {
        calls.timestamp++;
        return calls.timestamp === 1 ? 123 : -5;
      },
      get headers() {
        calls.headers++;
        return calls.headers === 1 ? { h: 'hv' } : 'not headers';
      },
    };
    const meta = await store.producer().send([record]);
    expect(calls).toEqual({ key: 1, value: 1, timestamp: 1, headers: 1 });
    expect(meta[0]).toEqual({ topic: 't', partition: 0, offset: 0, timestamp: 123 });
    const [r] = store.log('t', 0).readRecords(0);
    expect([r.key?.toString(), r.value?.toString(), r.timestamp, r.headers[0].value?.toString()]).toEqual(['key-1', 'value-1', 123, 'hv']);
  });

  it('a send made from a getter of a record being sent (re-entrant) is placed on its own, before the outer one', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer();
    let inner: Promise<unknown> | null = null;
    const outer = p.send([
      { topic: 't', value: 'outer-0' },
      {
        topic: 't',
        get value() {
          inner ??= p.send([{ topic: 't', value: 'inner-0' }, { topic: 't', value: 'inner-1' }]);
          return 'outer-1';
        },
      },
    ]);
    await Promise.all([outer, inner]);
    expect(values(store, 't', 0)).toEqual(['inner-0', 'inner-1', 'outer-0', 'outer-1']);
  });

  it('single-record sends made from a getter of a single record being sent are each placed whole, inner first', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer();
    const inner: Promise<unknown>[] = [];
    const outer = p.send({
      topic: 't',
      key: 'outer',
      get value() {
        if (inner.length === 0) inner.push(p.send({ topic: 't', key: 'inner', value: 'inner-value' }));
        return 'outer-value';
      },
    });
    const after = p.send({ topic: 't', key: 'after', value: 'after-value' });
    const [o, i, a] = (await Promise.all([outer, ...inner, after])) as { offset: number }[];
    expect([i.offset, o.offset, a.offset]).toEqual([0, 1, 2]);
    const recs = store.log('t', 0).readRecords(0);
    expect(recs.map((r) => `${r.key}=${r.value}`)).toEqual(['inner=inner-value', 'outer=outer-value', 'after=after-value']);
  });

  it('a single record without a timestamp that waits for buffer space gets the time of its send, not of its acceptance', async () => {
    const store = await openStore();
    await store.createTopic('t');
    const p = store.producer({ bufferBytes: 300 });
    const realNow = Date.now;
    let clock = 1_700_000_000_000;
    Date.now = () => clock;
    try {
      const first = p.send({ topic: 't', value: Buffer.alloc(200, 1) });
      const waiting = p.send({ topic: 't', value: Buffer.alloc(200, 2) }); // does not fit: waits for `first`
      expect(p.bufferedBytes).toBeLessThan(400);
      clock += 5_000; // accepted later, once `first` is written
      const [a, b] = await Promise.all([first, waiting]);
      expect(a.timestamp).toBe(1_700_000_000_000);
      expect(b.timestamp).toBe(1_700_000_000_000);
      const recs = store.log('t', 0).readRecords(0);
      expect(recs.map((r) => [r.value?.[0], r.timestamp])).toEqual([
        [1, 1_700_000_000_000],
        [2, 1_700_000_000_000],
      ]);
    } finally {
      Date.now = realNow;
    }
  });

  it('a custom partitioner that resizes a measured value fails the send; nothing of it is written, other sends are', async () => {
    const store = await openStore();
    await store.createTopic('t', { partitions: 2 });
    const ab = new ArrayBuffer(4, { maxByteLength: 64 });
    const tracking = new Uint8Array(ab);
    const p = store.producer({
      partitioner: (r) => {
        if (r.value === tracking) ab.resize(10);
        return 0;
      },
    });
    const good = p.send({ topic: 't', value: 'before' });
    const err = await p
      .send([
        { topic: 't', value: 'same send' },
        { topic: 't', value: tracking },
      ])
      .catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe('record 1: value changed while the batch was being encoded');
    await good;
    await p.send({ topic: 't', value: 'after' });
    expect(values(store, 't', 0)).toEqual(['before', 'after']);
  });
});
