/**
 * Helpers of the corruption and fuzz tests (test/fault/corruption*.test.ts,
 * fuzz*.test.ts): a log of known records, byte surgery on its files, and
 * checks that read every offset back and sort each answer into "the record
 * that was written" or "CorruptRecordError" — never anything else.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { expect } from 'vitest';
import { CorruptRecordError, Log, type LogRecord } from '../../src/index.js';
import { makeRecord } from '../helpers.js';
import { type ModelRecord, modelOf, plain } from '../log/util.js';

/** Small segments (several per log) and an index entry every few batches. */
export const LOG_OPTIONS = { segmentBytes: 3072, indexIntervalBytes: 600 } as const;
/** Records per batch: batch k holds offsets [k * PER, k * PER + PER). */
export const PER = 5;

export function recordsFor(batches: number): ModelRecord[] {
  return Array.from({ length: batches * PER }, (_, i) => modelOf(makeRecord(i), i));
}

/** A log of `batches` batches of PER records, closed cleanly; returns the model. */
export async function buildLog(dir: string, batches = 80): Promise<ModelRecord[]> {
  const log = await Log.open(dir, LOG_OPTIONS);
  for (let b = 0; b < batches; b++) log.appendSync(Array.from({ length: PER }, (_, i) => makeRecord(b * PER + i)));
  await log.close();
  return recordsFor(batches);
}

export function readByte(path: string, position: number): number {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, position);
  closeSync(fd);
  return b[0];
}

/** XORs the byte at `position` with `mask` (non-zero). */
export function flipByte(path: string, position: number, mask: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, position);
  b[0] ^= mask;
  writeSync(fd, b, 0, 1, position);
  closeSync(fd);
}

export function writeAt(path: string, position: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, position);
  closeSync(fd);
}

const sameBytes = (a: Buffer | null, b: Buffer | null) => (a === null ? b === null : b !== null && a.equals(b));

/** Fails (with a readable diff) unless `r` is the model's record: checked cheaply first, as this runs per record. */
export function expectRecord(r: LogRecord, m: ModelRecord | undefined): void {
  const same =
    m !== undefined &&
    r.offset === m.offset &&
    r.timestamp === m.timestamp &&
    sameBytes(r.key, m.key) &&
    sameBytes(r.value, m.value) &&
    r.headers.length === m.headers.length &&
    r.headers.every((h, i) => h.key === m.headers[i].key && sameBytes(h.value, m.headers[i].value));
  if (!same) expect(plain(r)).toEqual(m === undefined ? undefined : plain(m));
}

function expectCorrupt(err: unknown): asserts err is CorruptRecordError {
  if (!(err instanceof CorruptRecordError)) throw err;
  expect(err.code).toBe('CORRUPT_RECORD');
}

/** A native corruption error names the file, the position and (usually) the offset. */
export function expectLocated(err: CorruptRecordError): void {
  expect(err.file).toMatch(/\d{20}\.log$/);
  expect(err.position).toBeGreaterThanOrEqual(0);
  expect(err.message).toContain(err.file as string);
  expect(err.message).toContain(`position ${err.position}`);
}

export interface ReadOutcome {
  /** Offsets whose get() threw CorruptRecordError. */
  getFailed: number[];
  /** Offsets whose get() returned null. */
  getNull: number[];
  /** Offsets a sequential scan returned (each checked against the model). */
  scanned: Set<number>;
  /** Where a sequential scan hit CorruptRecordError: the offset it started at. */
  scanFailed: number[];
  errors: CorruptRecordError[];
}

/**
 * Reads every offset below `end` (default: the model's end) with get(), and
 * the whole log with readRecords from 0, skipping a batch (PER records) on each
 * CorruptRecordError. Every record returned must equal the model's; any other
 * error fails the test.
 */
export function readEverything(log: Log, model: readonly ModelRecord[], end = model.length): ReadOutcome {
  const out: ReadOutcome = { getFailed: [], getNull: [], scanned: new Set(), scanFailed: [], errors: [] };
  for (let o = 0; o < end; o++) {
    try {
      const r = log.get(o);
      if (r === null) out.getNull.push(o);
      else expectRecord(r, model[o]);
    } catch (err) {
      expectCorrupt(err);
      expectLocated(err);
      out.getFailed.push(o);
      out.errors.push(err);
    }
  }
  let pos = 0;
  while (pos < log.logEndOffset) {
    let recs;
    try {
      recs = log.readRecords(pos, { maxBytes: 2048 });
    } catch (err) {
      expectCorrupt(err);
      expectLocated(err);
      out.scanFailed.push(pos);
      out.errors.push(err);
      pos = (Math.floor(pos / PER) + 1) * PER;
      continue;
    }
    if (recs.length === 0) break;
    for (const r of recs) {
      if (r.offset < pos || out.scanned.has(r.offset)) throw new Error(`offset ${r.offset} returned out of order or twice`);
      expectRecord(r, model[r.offset]);
      out.scanned.add(r.offset);
    }
    pos = recs[recs.length - 1].offset + 1;
  }
  return out;
}

/** offsetForTimestamp of every record's timestamp (1_000_000 + offset) must be that offset, or throw CorruptRecordError. */
export function lookUpTimestamps(log: Log, model: readonly ModelRecord[], end = model.length): number[] {
  const failed: number[] = [];
  for (let o = 0; o < end; o++) {
    try {
      const got = log.offsetForTimestamp(model[o].timestamp);
      if (got !== o) expect(got).toBe(o);
    } catch (err) {
      expectCorrupt(err);
      failed.push(o);
    }
  }
  return failed;
}

/**
 * A small seeded fast-check configuration: bounded runs, reproducible.
 * TIDELOG_FUZZ_SEED / TIDELOG_FUZZ_RUNS override both for a longer hunt.
 */
export const fcOptions = (seed: number, numRuns: number) => ({
  seed: process.env.TIDELOG_FUZZ_SEED ? Number(process.env.TIDELOG_FUZZ_SEED) : seed,
  numRuns: process.env.TIDELOG_FUZZ_RUNS ? Number(process.env.TIDELOG_FUZZ_RUNS) : numRuns,
  endOnFailure: true,
});
