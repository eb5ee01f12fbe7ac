/**
 * messageTimestampType LogAppendTime, as Kafka does it (LogValidator →
 * DefaultRecordBatch.setMaxTimestamp): the append rewrites only the batch's
 * maxTimestamp (to the append time) and sets the timestamp-type attribute bit
 * (and so the CRC); baseTimestamp and the records' timestamp deltas stay as
 * the producer wrote them, and readers give every record the batch's
 * maxTimestamp. Checked through Log.append, Log.appendBatches and a producer,
 * on the bytes in the file and through every read path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Log, Store, encodeBatch, readBatchHeader, verifyBatchCrc, verifyLog } from '../../src/index.js';
import { HEADER_SIZE, TIMESTAMP_TYPE_MASK } from '../../src/record/format.js';
import { tempDir } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close().catch(() => undefined);
});

const RECORDS = [
  { key: 'a', value: 'first', timestamp: 5_000 },
  { key: 'b', value: 'second', timestamp: 9_000 },
  { key: 'c', value: 'third', timestamp: 7_000 },
];

/** The stored batch holding `offset`, and what each read path says of its records. */
function inspect(log: Log, offset: number) {
  const bytes = log.readBatches(offset) as Buffer;
  const header = readBatchHeader(bytes);
  const batch = bytes.subarray(0, 12 + header.batchLength);
  return { header, batch };
}

/** `firstAtAppendTime`: the first offset of the log stamped appendTime or later (batches of the same millisecond share it). */
function expectStampedAsKafka(log: Log, base: number, appendTime: number, createTimeBytes: Buffer, firstAtAppendTime = base) {
  const { header, batch } = inspect(log, base);
  // Only the type bit, maxTimestamp and the CRC changed.
  expect(header.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK);
  expect(header.timestampType).toBe('LogAppendTime');
  expect(header.baseTimestamp).toBe(5_000);
  expect(header.maxTimestamp).toBe(appendTime);
  expect(verifyBatchCrc(batch)).toBe(true);
  // The records (timestamp deltas included) are the producer's bytes.
  expect(batch.subarray(HEADER_SIZE).equals(createTimeBytes.subarray(HEADER_SIZE))).toBe(true);
  // Every read path gives each record maxTimestamp.
  expect(log.readRecords(base).slice(0, 3).map((r) => r.timestamp)).toEqual([appendTime, appendTime, appendTime]);
  for (let o = base; o < base + 3; o++) expect(log.get(o)?.timestamp).toBe(appendTime);
  expect(log.offsetForTimestamp(appendTime)).toBe(firstAtAppendTime);
  expect(log.offsetForTimestamp(9_000)).toBe(0); // the producer's times are not what lookups see
}

describe('LogAppendTime', () => {
  it('Log.append and Log.appendBatches keep baseTimestamp and the deltas, stamp maxTimestamp, and survive a reopen', async () => {
    const dir = tempDir();
    const log = await Log.open(dir, { messageTimestampType: 'LogAppendTime' });
    open.push(log);
    const createTime = encodeBatch(RECORDS);
    const before = Date.now();
    const a = await log.append(RECORDS);
    const b = await log.appendBatches(createTime);
    const after = Date.now();
    for (const r of [a, b]) {
      expect(r.logAppendTime).toBeGreaterThanOrEqual(before);
      expect(r.logAppendTime).toBeLessThanOrEqual(after);
    }
    const firstAtB = b.logAppendTime === a.logAppendTime ? 0 : 3;
    expectStampedAsKafka(log, 0, a.logAppendTime, createTime);
    expectStampedAsKafka(log, 3, b.logAppendTime, createTime, firstAtB);
    await log.close();
    expect((await verifyLog(dir)).issues).toEqual([]);
    const again = await Log.open(dir, { messageTimestampType: 'LogAppendTime' });
    open.push(again);
    expectStampedAsKafka(again, 0, a.logAppendTime, createTime);
    expectStampedAsKafka(again, 3, b.logAppendTime, createTime, firstAtB);
  });

  it('under CreateTime nothing is rewritten', async () => {
    const log = await Log.open(tempDir());
    open.push(log);
    const createTime = encodeBatch(RECORDS);
    await log.appendBatches(createTime);
    const { header, batch } = inspect(log, 0);
    expect(header.timestampType).toBe('CreateTime');
    expect(batch.subarray(8 + 4 + 4 + 1 + 4).equals(createTime.subarray(21))).toBe(true); // from the attributes on: the same bytes
    expect(log.readRecords(0).map((r) => r.timestamp)).toEqual([5_000, 9_000, 7_000]);
  });

  it('a producer gets the append time per record; the stored batch keeps its create times as Kafka would', async () => {
    const store = await Store.open(tempDir());
    open.push(store);
    await store.createTopic('t', { config: { messageTimestampType: 'LogAppendTime' } });
    const before = Date.now();
    const sent = await store.producer().send(RECORDS.map((r) => ({ topic: 't', ...r })));
    const appendTime = sent[0].timestamp;
    expect(appendTime).toBeGreaterThanOrEqual(before);
    expect(sent.map((m) => [m.offset, m.timestamp])).toEqual([
      [0, appendTime],
      [1, appendTime],
      [2, appendTime],
    ]);
    const log = store.log('t', 0);
    const { header, batch } = inspect(log, 0);
    expect(header.baseTimestamp).toBe(5_000);
    expect(header.maxTimestamp).toBe(appendTime);
    expect(header.producerId).toBeGreaterThanOrEqual(0);
    expect(verifyBatchCrc(batch)).toBe(true);
    expect(log.readRecords(0).map((r) => r.timestamp)).toEqual([appendTime, appendTime, appendTime]);
  });
});
