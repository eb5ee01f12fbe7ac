/**
 * Fuzzing the decoders: random bytes, and valid batches and LZ4 frames with
 * bytes flipped, cut or added. Every decoder either returns or throws a
 * TidelogError (never a RangeError, TypeError or an lz4-napi error), never
 * hangs, and never returns a view that reaches outside the bytes it was given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, TidelogError } from '../../src/errors.js';
import { Log } from '../../src/log.js';
import { native } from '../../src/native.js';
import { readVarint, readVarlong, varintCursor } from '../../src/record/varint.js';
import {
  checkBatchCodecs,
  compressRecords,
  decodeBatch,
  decodeBatches,
  decodeRecordBody,
  decompressRecords,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from '../../src/record/index.js';
import type { LogRecord } from '../../src/record/types.js';
import { tempDir } from '../helpers.js';

function survives(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof TidelogError)) throw err;
  }
}

/** Views of uncompressed input must lie inside it. */
function checkViews(input: Buffer, records: LogRecord[]): void {
  const lo = input.byteOffset;
  const hi = input.byteOffset + input.length;
  for (const r of records) {
    for (const b of [r.key, r.value, ...r.headers.map((h) => h.value)]) {
      if (b === null) continue;
      expect(Buffer.isBuffer(b)).toBe(true);
      if (b.buffer !== input.buffer) continue; // decompressed: a buffer of its own
      expect(b.byteOffset).toBeGreaterThanOrEqual(lo);
      expect(b.byteOffset + b.length).toBeLessThanOrEqual(hi);
    }
    expect(Number.isFinite(r.offset)).toBe(true);
    expect(Number.isFinite(r.timestamp)).toBe(true);
  }
}

function decodeAll(bytes: Buffer): void {
  survives(() => readBatchHeader(bytes));
  survives(() => verifyBatchCrc(bytes));
  survives(() => checkViews(bytes, decodeBatch(bytes)));
  survives(() => checkViews(bytes, decodeBatches(bytes)));
  survives(() => checkViews(bytes, decodeBatches(bytes, [], 3, 2)));
  survives(() => {
    for (const b of iterateBatches(bytes)) expect(b.bytes.length).toBeGreaterThanOrEqual(61);
  });
  survives(() => decompressRecords(bytes));
  survives(() => checkBatchCodecs(bytes));
  if (bytes.length > 61) survives(() => decodeRecordBody(Buffer.concat([bytes, Buffer.alloc(8)]), bytes.length - 61));
}

const SAMPLE = [
  { key: 'k1', value: 'v1', headers: [{ key: 'h', value: 'x' }], timestamp: 1_700_000_000_000 },
  { key: null, value: Buffer.from([0xde, 0xad]), timestamp: 1_699_999_999_999 },
  { key: 'key-3', value: null, headers: { a: null, b: Buffer.alloc(3, 7) }, timestamp: 1_700_000_000_123 },
  { key: Buffer.alloc(20, 1), value: 'x'.repeat(300), timestamp: 1_700_000_100_000 },
];
const VALID = [
  encodeBatch(SAMPLE),
  encodeBatch(SAMPLE, { compression: 'lz4', baseOffset: 10 }),
  encodeBatch(Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: 'abc'.repeat(i % 50), timestamp: i })), {
    compression: 'lz4',
  }),
  Buffer.concat([encodeBatch(SAMPLE.slice(0, 2)), encodeBatch(SAMPLE.slice(2), { baseOffset: 2 })]),
];

/** One mutation: flip, set, cut, extend or splice; then, sometimes, fix the CRC so it looks valid. */
const mutation = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'extend', 'splice', 'length'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  extra: fc.uint8Array({ maxLength: 16 }),
});

function mutate(input: Buffer, ms: { kind: string; at: number; value: number; extra: Uint8Array }[], fixCrc: boolean): Buffer {
  let b = Buffer.from(input);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 'flip':
        if (b.length > 0) b[at] ^= 1 << (m.value & 7);
        break;
      case 'set':
        if (b.length > 0) b[at] = m.value;
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
      case 'extend':
        b = Buffer.concat([b, m.extra]);
        break;
      case 'splice':
        b = Buffer.concat([b.subarray(0, at), m.extra, b.subarray(at)]);
        break;
      case 'length': // a plausible but wrong batchLength
        // wraps like an int32 field would: the decoder sees any 32-bit value
        if (b.length >= 12) b.writeInt32BE((b.readInt32BE(8) + (m.value - 128)) | 0, 8);
        break;
    }
  }
  if (fixCrc && b.length >= 61) {
    const end = Math.min(b.length, 12 + Math.max(49, b.readInt32BE(8)));
    b.writeUInt32BE(native.crc32c(b.subarray(21, end)), 17);
  }
  return b;
}

describe('fuzzing the decoders', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (u) => decodeAll(Buffer.from(u))),
      { numRuns: 3000 },
    );
  });

  it('random bytes behind a plausible header (magic 2, length fitting)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 61, maxLength: 400 }), fc.integer({ min: 0, max: 7 }), (u, codec) => {
        const b = Buffer.from(u);
        b.writeBigInt64BE(BigInt(b.readUInt32BE(0)), 0);
        b.writeInt32BE(b.length - 12, 8);
        b[16] = 2;
        b.writeInt16BE(codec | (b[22] & 0x38), 21);
        b.writeInt32BE(b[60] % 40, 57); // a small records count
        decodeAll(b);
      }),
      { numRuns: 3000 },
    );
  });

  it('valid batches with bytes flipped, set, cut, added or spliced (CRC fixed or not)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: VALID.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (which, ms, fixCrc) => decodeAll(mutate(VALID[which], ms, fixCrc)),
      ),
      { numRuns: 6000 },
    );
  });

  it('LZ4 frames (ours, lz4_flex\'s, sarama\'s) with bytes flipped, cut or added', () => {
    const raw = VALID[0].subarray(61);
    const frames = [
      compressRecords(raw),
      compressRecords(Buffer.concat(Array.from({ length: 3000 }, (_, i) => Buffer.from(`record-${i % 97};`)))),
      Buffer.from('04224d186470b91500008028000a00080102030406050607020608090a040b0c000000000c3bef92', 'hex'),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (which, ms) => {
          const frame = mutate(frames[which], ms, false);
          survives(() => {
            const out = decompressRecords(frame);
            expect(Buffer.isBuffer(out)).toBe(true);
          });
        },
      ),
      { numRuns: 4000 },
    );
  });

  it('a header declaring huge counts and lengths fails fast', () => {
    const b = Buffer.from(VALID[0]);
    b.writeInt32BE(0x7fffffff, 57); // recordsCount
    expect(() => decodeBatch(b)).toThrow(TidelogError);
    const c = Buffer.from(VALID[0]);
    c.writeInt32BE(0x7fffffff, 8); // batchLength
    expect(() => decodeBatch(c)).toThrow(/bytes long but only/);
    const z = Buffer.from(VALID[1]);
    z.writeInt32BE(0x7fffffff, 57);
    expect(() => decodeBatch(z)).toThrow(TidelogError);
  });
});

describe('fuzzing the varint decoders', () => {
  it('random bytes, positions and ends: a safe integer and a cursor inside [pos, end], or CorruptRecordError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.nat(), fc.nat(), (u, a, b) => {
        const buf = Buffer.from(u);
        const pos = a % (buf.length + 2);
        const end = Math.min(buf.length, pos + (b % 12));
        for (const read of [readVarint, readVarlong]) {
          try {
            const v = read(buf, pos, end);
            expect(Number.isSafeInteger(v) || (read === readVarlong && Number.isFinite(v))).toBe(true);
            expect(varintCursor.pos).toBeGreaterThan(pos);
            expect(varintCursor.pos).toBeLessThanOrEqual(end);
          } catch (err) {
            expect(err).toBeInstanceOf(CorruptRecordError);
          }
        }
      }),
      { seed: 0x5a5a, numRuns: 5000 },
    );
  });
});

describe('fuzzing the native batch and record checks (append)', () => {
  it('mutated batches with their CRC fixed: appended whole and read back as decoded, or refused with a typed error and nothing written', async () => {
    const log = await Log.open(tempDir());
    await log.append({ value: 'first', timestamp: 1 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: VALID.length - 1 }),
          fc.array(mutation, { minLength: 1, maxLength: 3 }),
          async (which, ms) => {
            const bytes = mutate(VALID[which], ms, true);
            const end = log.logEndOffset;
            let base: number;
            try {
              base = (await log.appendBatches(bytes)).baseOffset;
            } catch (err) {
              if (!(err instanceof TidelogError)) throw err;
              expect(log.logEndOffset).toBe(end);
              return;
            }
            expect(base).toBe(end);
            // What the log holds is what the bytes say, decoded the same way (or failing the same way).
            let expected: LogRecord[] | null = null;
            try {
              const copy = Buffer.from(bytes);
              let pos = 0;
              let next = base;
              while (pos < copy.length) {
                copy.writeBigInt64BE(BigInt(next), pos);
                next += copy.readInt32BE(pos + 23) + 1;
                pos += 12 + copy.readInt32BE(pos + 8);
              }
              expected = decodeBatches(copy, [], base);
            } catch (err) {
              if (!(err instanceof TidelogError)) throw err;
            }
            let actual: LogRecord[] | null = null;
            try {
              actual = log.readRecords(base, { maxBytes: bytes.length });
            } catch (err) {
              if (!(err instanceof TidelogError)) throw err;
            }
            if (expected === null) expect(actual).toBeNull();
            else if (actual !== null) expect(actual.map((r) => [r.offset, r.key, r.value])).toEqual(expected.map((r) => [r.offset, r.key, r.value]));
          },
        ),
        { seed: 0xa77e, numRuns: 1500 },
      );
    } finally {
      await log.close();
    }
  }, 60_000);
});
