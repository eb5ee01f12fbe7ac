/**
 * Record batches written by sarama, an independent Kafka client in Go
 * (IBM/sarama record_test.go, recordBatchTestCases()), kept as hex in
 * test/fixtures/kafka (a copy of ../shared/kafka-fixtures, so a clean checkout
 * has them). Their records, from that file: one record with
 * timestampDelta 5 ms, key 01 02 03 04, value 05 06 07 and one header
 * (key 08 09 0a, value 0b 0c), firstTimestamp 1479847795000 (time.Unix(1479847795, 0)),
 * maxTimestamp 0 (sarama leaves it unset), every other header field 0.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, UnsupportedCompressionError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import {
  decodeBatch,
  decodeBatches,
  decompressRecords,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from '../../src/record/index.js';

interface Fixture {
  name: string;
  hex: string;
}

const FIXTURES = JSON.parse(
  readFileSync(new URL('../fixtures/kafka/sarama-record-batches.json', import.meta.url), 'utf8'),
) as { batches: Fixture[] };

function fixture(name: string): Buffer {
  const f = FIXTURES.batches.find((b) => b.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return Buffer.from(f.hex, 'hex');
}

const FIRST_TIMESTAMP = 1_479_847_795_000;

const SARAMA_RECORD = {
  offset: 0,
  timestamp: FIRST_TIMESTAMP + 5,
  key: Buffer.from([1, 2, 3, 4]),
  value: Buffer.from([5, 6, 7]),
  headers: [{ key: '\x08\x09\x0a', value: Buffer.from([11, 12]) }],
};

describe('sarama record batches', () => {
  it('holds the five fixtures', () => {
    expect(FIXTURES.batches.map((b) => b.name)).toEqual([
      'empty record',
      'control batch',
      'uncompressed record',
      'gzipped record',
      'lz4 compressed record',
    ]);
  });

  it.each(FIXTURES.batches.map((b) => [b.name] as const))('%s: CRC-32C valid, header readable', (name) => {
    const bytes = fixture(name);
    expect(verifyBatchCrc(bytes)).toBe(true);
    const h = readBatchHeader(bytes);
    expect(h.magic).toBe(2);
    expect(h.baseOffset).toBe(0);
    expect(h.batchLength).toBe(bytes.length - 12);
    expect(h.partitionLeaderEpoch).toBe(0);
    expect(h.producerId).toBe(0);
    expect(h.producerEpoch).toBe(0);
    expect(h.baseSequence).toBe(0);
    expect(h.timestampType).toBe('CreateTime');
    expect(h.isTransactional).toBe(false);
    const all = [...iterateBatches(bytes)];
    expect(all).toHaveLength(1);
    expect(all[0].position).toBe(0);
    expect(all[0].bytes.equals(bytes)).toBe(true);
    expect(all[0].header).toEqual(h);
  });

  it('a flipped bit anywhere after the CRC fails verifyBatchCrc', () => {
    const bytes = fixture('uncompressed record');
    for (let i = 21; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] ^= 0x10;
      expect(verifyBatchCrc(bad)).toBe(false);
    }
  });

  it('empty record: no records', () => {
    const bytes = fixture('empty record');
    expect(readBatchHeader(bytes)).toMatchObject({ recordsCount: 0, isControl: false, compression: 0, baseTimestamp: 0 });
    expect(decodeBatch(bytes)).toEqual([]);
  });

  it('control batch: the control flag is read, and decoders skip the batch', () => {
    const bytes = fixture('control batch');
    const h = readBatchHeader(bytes);
    expect(h.isControl).toBe(true);
    expect(h.attributes).toBe(0x20);
    expect(decodeBatch(bytes)).toEqual([]);
    expect(decodeBatches(Buffer.concat([bytes, fixture('uncompressed record')]))).toEqual([SARAMA_RECORD]);
  });

  it('uncompressed record: decodes to sarama\'s record', () => {
    const bytes = fixture('uncompressed record');
    expect(readBatchHeader(bytes)).toMatchObject({
      recordsCount: 1,
      lastOffsetDelta: 0,
      baseTimestamp: FIRST_TIMESTAMP,
      maxTimestamp: 0,
      compression: 0,
    });
    expect(decodeBatch(bytes)).toEqual([SARAMA_RECORD]);
  });

  it('uncompressed record: encoding the same fields and record gives the same bytes', () => {
    const bytes = fixture('uncompressed record');
    const ours = encodeBatch(
      [
        {
          key: Buffer.from([1, 2, 3, 4]),
          value: Buffer.from([5, 6, 7]),
          headers: [{ key: '\x08\x09\x0a', value: Buffer.from([11, 12]) }],
          timestamp: FIRST_TIMESTAMP + 5,
        },
      ],
      {
        baseOffset: 0,
        baseTimestamp: FIRST_TIMESTAMP,
        partitionLeaderEpoch: 0,
        producerId: 0,
        producerEpoch: 0,
        baseSequence: 0,
      },
    );
    // Kafka's producer (and ours) sets maxTimestamp to the largest record
    // timestamp; sarama's test vector leaves it 0. Everything before it, and
    // everything after it, is byte for byte the same.
    expect(ours.length).toBe(bytes.length);
    expect(ours.subarray(21, 35).toString('hex')).toBe(bytes.subarray(21, 35).toString('hex'));
    expect(ours.subarray(43).toString('hex')).toBe(bytes.subarray(43).toString('hex'));
    expect(ours.subarray(0, 17).toString('hex')).toBe(bytes.subarray(0, 17).toString('hex'));
    expect(ours.readBigInt64BE(35)).toBe(BigInt(FIRST_TIMESTAMP + 5));
    // With sarama's maxTimestamp written in and the CRC recomputed: identical.
    const patched = Buffer.from(ours);
    patched.writeBigInt64BE(0n, 35);
    patched.writeUInt32BE(0, 17);
    const recrc = encodeBatchCrc(patched);
    expect(recrc.toString('hex')).toBe(bytes.toString('hex'));
  });

  it('gzipped record: UnsupportedCompressionError naming the codec', () => {
    const bytes = fixture('gzipped record');
    expect(readBatchHeader(bytes).compression).toBe(1);
    expect(() => decodeBatch(bytes)).toThrow(UnsupportedCompressionError);
    expect(() => decodeBatch(bytes)).toThrow(/gzip/);
    expect(() => decodeBatches(bytes)).toThrow(UnsupportedCompressionError);
  });

  it('lz4 compressed record: decodes to the same record (a frame with a content checksum)', () => {
    const bytes = fixture('lz4 compressed record');
    const h = readBatchHeader(bytes);
    expect(h.compression).toBe(3);
    const frame = bytes.subarray(61);
    expect(frame.subarray(0, 4).toString('hex')).toBe('04224d18');
    expect(frame[4] & 0x20).toBe(0x20); // independent blocks
    expect(frame[4] & 0x04).toBe(0x04); // content checksum present
    expect(decompressRecords(frame).toString('hex')).toBe(fixture('uncompressed record').subarray(61).toString('hex'));
    expect(decodeBatch(bytes)).toEqual([SARAMA_RECORD]);
  });

  it('lz4: a damaged content checksum in sarama\'s frame is CorruptRecordError', () => {
    const frame = Buffer.from(fixture('lz4 compressed record').subarray(61));
    frame[frame.length - 1] ^= 1;
    expect(() => decompressRecords(frame)).toThrow(CorruptRecordError);
  });

  it('lz4: our frame of the same record decodes, and has independent blocks and no checksums', () => {
    const ours = encodeBatch([{ key: Buffer.from([1, 2, 3, 4]), value: Buffer.from([5, 6, 7]), timestamp: FIRST_TIMESTAMP }], {
      compression: 'lz4',
    });
    const frame = ours.subarray(61);
    expect(frame.subarray(0, 4).toString('hex')).toBe('04224d18');
    expect(frame[4]).toBe(0x60); // version 01 | independent blocks
    expect(decodeBatch(ours)).toEqual([
      { offset: 0, timestamp: FIRST_TIMESTAMP, key: Buffer.from([1, 2, 3, 4]), value: Buffer.from([5, 6, 7]), headers: [] },
    ]);
  });
});

/** Fills in the CRC of a batch whose CRC field is zero (as the log's append does). */
function encodeBatchCrc(batch: Buffer): Buffer {
  const out = Buffer.from(batch);
  out.writeUInt32BE(native.crc32c(out.subarray(21)), 17);
  return out;
}
