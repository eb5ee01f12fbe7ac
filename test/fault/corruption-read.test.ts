/**
 * The read-path contract (docs/architecture.md, "Corruption on read"):
 * corruption a CRC can detect is never returned as data. Every read fails on a
 * damaged batch with CorruptRecordError naming file, position and offset; the
 * rest of the log stays readable; a range that starts before a damaged batch
 * returns the good batches before it and the next read, starting at it,
 * throws. Also: control records are not data (get() gives null), and
 * pre-encoded batches in codecs tidelog cannot read back are refused.
 */
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CorruptRecordError,
  InvalidBatchError,
  Log,
  UnsupportedCompressionError,
  decodeBatches,
  encodeBatch,
  verifyLog,
} from '../../src/index.js';
import { native } from '../../src/native.js';
import { tempDir } from '../helpers.js';
import { parseBatches, plain, segPath, segmentBases } from '../log/util.js';
import { LOG_OPTIONS, buildLog, expectLocated, flipByte, readEverything } from './corruption-util.js';

function thrown(fn: () => unknown): CorruptRecordError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CorruptRecordError);
    return err as CorruptRecordError;
  }
  throw new Error('expected CorruptRecordError, nothing was thrown');
}

describe('a batch whose CRC fails, in a sealed segment', () => {
  it('fails every read that would return it, naming file, position and offset; the rest reads', async () => {
    const dir = tempDir();
    const model = await buildLog(dir);
    const bases = segmentBases(dir);
    expect(bases.length).toBeGreaterThanOrEqual(4);
    const file = segPath(dir, bases[1], '.log');
    const frames = parseBatches(readFileSync(file)).batches;
    expect(frames.length).toBeGreaterThanOrEqual(5);
    const first = frames[0];
    const victim = frames[3];
    flipByte(file, victim.position + 61 + 7, 0x10); // inside its records: only the CRC can tell
    const size = statSync(file).size;

    const log = await Log.open(dir, LOG_OPTIONS);
    // Point reads of its records fail, naming it; its neighbours read.
    for (let o = victim.baseOffset; o <= victim.lastOffset; o++) {
      const err = thrown(() => log.get(o));
      expect(err).toMatchObject({ code: 'CORRUPT_RECORD', file, position: victim.position, offset: victim.baseOffset });
      expectLocated(err);
      expect(err.message).toMatch(/CRC-32C mismatch/);
    }
    expect(plain(log.get(victim.baseOffset - 1)!)).toEqual(plain(model[victim.baseOffset - 1]));
    expect(plain(log.get(victim.lastOffset + 1)!)).toEqual(plain(model[victim.lastOffset + 1]));

    // A range that starts before it returns the good batches before it; the next read, at it, throws.
    const before = log.readRecords(first.baseOffset, { maxBytes: 1 << 20 });
    expect(before.map(plain)).toEqual(model.slice(first.baseOffset, victim.baseOffset).map(plain));
    expect(thrown(() => log.readRecords(victim.baseOffset))).toMatchObject({ file, position: victim.position });
    expect(thrown(() => log.readRecords(victim.baseOffset + 2))).toMatchObject({ offset: victim.baseOffset });
    const raw = log.readBatches(first.baseOffset, { maxBytes: 1 << 20 })!;
    expect(parseBatches(raw).batches.at(-1)!.lastOffset).toBe(victim.baseOffset - 1);
    expect(thrown(() => log.readBatches(victim.baseOffset))).toMatchObject({ file, position: victim.position });
    const after = log.readBatches(victim.lastOffset + 1)!;
    expect(decodeBatches(after).map(plain)).toEqual(model.slice(victim.lastOffset + 1, victim.lastOffset + 1 + decodeBatches(after).length).map(plain));

    // The iterator yields everything before it, then throws.
    const seen: number[] = [];
    let iterError: unknown = null;
    try {
      for await (const r of log.records(0, { maxBytes: 1024 })) seen.push(r.offset);
    } catch (err) {
      iterError = err;
    }
    expect(iterError).toBeInstanceOf(CorruptRecordError);
    expect(seen).toEqual(model.slice(0, victim.baseOffset).map((r) => r.offset));

    // A timestamp lookup whose answer could be in it fails (its timestamps are unknown); one
    // whose walk does not pass it reads.
    expect(thrown(() => log.offsetForTimestamp(model[victim.baseOffset + 1].timestamp)).position).toBe(victim.position);
    expect(thrown(() => log.offsetForTimestamp(model[victim.lastOffset + 1].timestamp)).position).toBe(victim.position);
    expect(log.offsetForTimestamp(model[victim.baseOffset - 1].timestamp)).toBe(victim.baseOffset - 1);
    const later = frames.at(-1)!.lastOffset + 1; // the next segment
    expect(log.offsetForTimestamp(model[later].timestamp)).toBe(later);

    // Every other offset of the log reads, through every path.
    const outcome = readEverything(log, model);
    const victims = model.slice(victim.baseOffset, victim.lastOffset + 1).map((r) => r.offset);
    expect(outcome.getFailed).toEqual(victims);
    expect(outcome.getNull).toEqual([]);
    expect(outcome.scanned.size).toBe(model.length - victims.length);
    expect(outcome.scanFailed).toEqual([victim.baseOffset]);
    await log.close();

    // Not repaired, not cut: reads fail the same way after a reopen, and verifyLog names it.
    expect(statSync(file).size).toBe(size);
    const again = await Log.open(dir, LOG_OPTIONS);
    expect(again.recovery.problems).toEqual([]);
    expect(again.logEndOffset).toBe(model.length);
    expect(thrown(() => again.get(victim.lastOffset)).position).toBe(victim.position);
    await again.close();
    const report = await verifyLog(dir);
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([
      expect.objectContaining({ file, position: victim.position, problem: expect.stringMatching(/CRC-32C mismatch/) }),
    ]);
  });

  it('checks each batch once per session: a batch read, then damaged under the open log, is not checked again', async () => {
    // This pins down the cost model (docs/architecture.md): verification is
    // remembered per session; a reopen checks again.
    const dir = tempDir();
    const model = await buildLog(dir);
    const file = segPath(dir, segmentBases(dir)[0], '.log');
    const victim = parseBatches(readFileSync(file)).batches[2];
    const log = await Log.open(dir, LOG_OPTIONS);
    expect(log.get(victim.baseOffset)).not.toBeNull();
    flipByte(file, victim.position + victim.size - 1, 0x01);
    expect(log.get(victim.baseOffset)!.offset).toBe(victim.baseOffset);
    await log.close();
    const again = await Log.open(dir, LOG_OPTIONS);
    expect(thrown(() => again.get(victim.baseOffset)).position).toBe(victim.position);
    expect(plain(again.get(victim.baseOffset - 1)!)).toEqual(plain(model[victim.baseOffset - 1]));
    await again.close();
  });

  it('batches appended in this session were checked when written: reading them does not fail', async () => {
    const dir = tempDir();
    const model = await buildLog(dir, 10);
    const log = await Log.open(dir, LOG_OPTIONS);
    expect(readEverything(log, model).errors).toEqual([]);
    await log.close();
  });
});

describe('control records', () => {
  it('get() of a control record gives null; readRecords and records() skip control batches', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    await log.append([{ key: 'a', value: '1', timestamp: 10 }]);
    const marker = encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]), timestamp: 11 }], {
      control: true,
      transactional: true,
      producerId: 7,
      producerEpoch: 0,
    });
    const r = await log.appendBatches(marker);
    expect(r.baseOffset).toBe(1);
    await log.append([{ key: 'b', value: '2', timestamp: 12 }]);
    expect(log.get(1)).toBeNull();
    expect(log.get(0)!.value!.toString()).toBe('1');
    expect(log.get(2)!.value!.toString()).toBe('2');
    expect(log.readRecords(0).map((x) => x.offset)).toEqual([0, 2]);
    expect(log.readRecords(1).map((x) => x.offset)).toEqual([2]);
    const seen: number[] = [];
    for await (const x of log.records(0)) seen.push(x.offset);
    expect(seen).toEqual([0, 2]);
    // The raw read still returns the marker: a broker serves it to its consumers.
    expect(parseBatches(log.readBatches(1)!).batches[0].attributes & 0x20).toBe(0x20);
    await log.close();
  });
});

describe('appendBatches refuses codecs tidelog cannot read back', () => {
  /** A valid uncompressed batch recoded as `codec` (attributes patched, CRC recomputed): only the codec is wrong. */
  function withCodec(codec: number, baseOffset = 0): Buffer {
    const b = encodeBatch([{ value: `v${codec}`, timestamp: 5 }], { baseOffset });
    b.writeInt16BE((b.readInt16BE(21) & ~7) | codec, 21);
    b.writeUInt32BE(native.crc32c(b.subarray(21)), 17);
    return b;
  }

  it('gzip, snappy and zstd: UnsupportedCompressionError, nothing written; codecs 5-7: InvalidBatchError', async () => {
    const dir = tempDir();
    const log = await Log.open(dir);
    await log.append([{ value: 'first', timestamp: 1 }]);
    const file = segPath(dir, 0, '.log');
    const size = statSync(file).size;
    for (const [codec, name] of [
      [1, 'gzip'],
      [2, 'snappy'],
      [4, 'zstd'],
    ] as const) {
      await expect(log.appendBatches(withCodec(codec))).rejects.toThrow(UnsupportedCompressionError);
      await expect(log.appendBatches(withCodec(codec))).rejects.toThrow(new RegExp(`${name} \\(codec ${codec}\\)`));
      // Behind a good batch: all or nothing.
      const both = Buffer.concat([encodeBatch([{ value: 'ok', timestamp: 2 }]), withCodec(codec, 1)]);
      await expect(log.appendBatches(both)).rejects.toThrow(/batch 1 at byte/);
    }
    for (const codec of [5, 6, 7]) {
      await expect(log.appendBatches(withCodec(codec))).rejects.toThrow(InvalidBatchError);
    }
    expect(log.logEndOffset).toBe(1);
    expect(statSync(file).size).toBe(size);
    // none and lz4 are accepted, and read back.
    await log.appendBatches(withCodec(0));
    await log.appendBatches(encodeBatch([{ value: 'z', timestamp: 3 }], { compression: 'lz4' }));
    expect(log.readRecords(0).map((x) => x.value!.toString())).toEqual(['first', 'v0', 'z']);
    await log.close();
  });
});
