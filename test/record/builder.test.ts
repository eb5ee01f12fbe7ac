/**
 * BatchBuilder (a producer's open batch): records added call by call, from
 * several measures, in runs or by index list, give exactly the bytes
 * encodeBatch gives for the same records in one call — with or without LZ4,
 * from a buffer too small to start with.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/record/index.js';
import { BatchBuilder } from '../../src/record/builder.js';
import { RecordsMeasure, measureRecords } from '../../src/record/measure.js';
import type { ProducerRecord } from '../../src/record/types.js';

const NOW = 1_700_000_000_000;
const bytes = fc.oneof(fc.constant(null), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }));
const record = fc.record(
  {
    key: fc.oneof(fc.constant(undefined), bytes),
    value: bytes,
    headers: fc.oneof(fc.constant(undefined), fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: bytes }), { maxLength: 2 })),
    timestamp: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 2 ** 45 })),
  },
  { requiredKeys: ['value'] },
) as fc.Arbitrary<ProducerRecord>;
const OPTS = { now: NOW, baseTimestamp: -1, maxRecordBytes: 0, single: false };
const FINISH = { lz4: false, producerId: 7, producerEpoch: 2, baseSequence: 40 };

describe('BatchBuilder', () => {
  it('runs of records from several calls give encodeBatch\'s bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.array(record, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (sends, lz4) => {
        const b = new BatchBuilder(Buffer.alloc(61));
        const m = new RecordsMeasure();
        for (const s of sends) {
          measureRecords(m, s, OPTS);
          b.add(m, null, 0, s.length, false);
          m.release();
        }
        const all = sends.flat();
        const expected = encodeBatch(all, { now: NOW, computeCrc: false, maxRecordBytes: 0, producerId: 7, producerEpoch: 2, baseSequence: 40, compression: lz4 ? 'lz4' : 'none' });
        expect(b.count).toBe(all.length);
        expect(b.finish({ ...FINISH, lz4 }).equals(expected)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('records picked by index lists (a send split over partitions) give encodeBatch\'s bytes for each pick', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }), (records, side) => {
        const m = new RecordsMeasure();
        measureRecords(m, records, OPTS);
        const picks = [0, 1].map((p) => records.map((_, i) => i).filter((i) => (side[i] ? 1 : 0) === p));
        for (const idx of picks) {
          if (idx.length === 0) continue;
          const b = new BatchBuilder(Buffer.alloc(100));
          // In two calls, to check the offset deltas and the base timestamp carry over.
          const half = idx.length >> 1;
          b.add(m, idx, 0, half, false);
          b.add(m, idx, half, idx.length, false);
          const expected = encodeBatch(idx.map((i) => records[i]), { now: NOW, computeCrc: false, maxRecordBytes: 0, producerId: 7, producerEpoch: 2, baseSequence: 40 });
          expect(b.finish(FINISH).equals(expected)).toBe(true);
        }
        m.release();
      }),
      { numRuns: 150 },
    );
  });
});
