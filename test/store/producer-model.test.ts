/**
 * The log's record-level guarantees, through the store and the producer, with
 * compression off and on, for each acknowledgement level: random sends
 * (keyed, unkeyed and explicit partitions; null keys and values; headers;
 * explicit and default timestamps), spread over event-loop turns, must read
 * back per partition exactly as sent, in send order, at the offsets the sends
 * resolved to, in batches of the chosen codec, also after a reopen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Acks, type SendRecord, Store, partitionForKey } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ModelRecord, expectRecords, modelOf } from '../log/util.js';
import { batchHeaders, nextTurn } from './util.js';

const PARTITIONS = 3;

const bytes = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((a) => a),
  fc.constant('compressible '.repeat(20)),
);
const record = fc.record(
  {
    key: fc.oneof(fc.constant(undefined), bytes),
    value: bytes,
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: bytes }), { maxLength: 2 }),
    timestamp: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 2 ** 42 })),
    partition: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: PARTITIONS - 1 })),
  },
  { requiredKeys: ['value'] },
);
const send = fc.record({ records: fc.array(record, { minLength: 1, maxLength: 6 }), newTurn: fc.boolean() });

async function check(dir: string, model: ModelRecord[][], codec: number): Promise<void> {
  const store = await Store.open(dir);
  try {
    for (let p = 0; p < PARTITIONS; p++) {
      const log = store.log('t', p);
      expectRecords(log.readRecords(0, { maxBytes: 64 << 20 }), model[p]);
      for (const h of batchHeaders(log)) expect(h.compression).toBe(codec);
    }
  } finally {
    await store.close();
  }
}

describe.each([
  ['none', 'none'],
  ['none', 'written'],
  ['none', 'durable'],
  ['lz4', 'none'],
  ['lz4', 'written'],
  ['lz4', 'durable'],
] as const)('compression %s, acks %s', (compression, acks) => {
  it('reads back what was sent, per partition, in order, at the resolved offsets', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(send, { minLength: 1, maxLength: 25 }), fc.integer({ min: 100, max: 4000 }), async (sends, batchBytes) => {
        const dir = tempDir();
        const store = await Store.open(dir);
        const model: ModelRecord[][] = Array.from({ length: PARTITIONS }, () => []);
        try {
          await store.createTopic('t', { partitions: PARTITIONS });
          const producer = store.producer({ acks: acks as Acks, compression, batchBytes });
          const pending: Promise<unknown>[] = [];
          const sent: { records: SendRecord[]; result: Promise<{ partition: number; offset: number; timestamp: number }[]> }[] = [];
          for (const s of sends) {
            if (s.newTurn) await nextTurn();
            const records = s.records.map((r) => ({ ...r, topic: 't' }) as SendRecord);
            const result = producer.send(records);
            pending.push(result);
            sent.push({ records, result });
          }
          await Promise.all(pending);
          await producer.flush();
          for (const { records, result } of sent) {
            const metas = await result;
            records.forEach((r, i) => {
              const m = metas[i];
              if (r.partition !== undefined) expect(m.partition).toBe(r.partition);
              else if (r.key !== undefined && r.key !== null) expect(m.partition).toBe(partitionForKey(r.key, PARTITIONS));
              const offset = model[m.partition].length;
              if (acks !== 'none') expect(m.offset).toBe(offset);
              if (r.timestamp !== undefined) expect(m.timestamp).toBe(r.timestamp);
              model[m.partition].push(modelOf(r, offset, m.timestamp));
            });
          }
          if (acks === 'durable') for (let p = 0; p < PARTITIONS; p++) expect(store.log('t', p).durableOffset).toBe(model[p].length);
        } finally {
          await store.close();
        }
        await check(dir, model, compression === 'lz4' ? 3 : 0);
      }),
      { numRuns: 12 },
    );
  });
});
