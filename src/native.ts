/**
 * The only importer of the compiled addon, with its types. Everything that
 * crosses N-API is listed here; every call is per batch, never per record.
 */
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { errorFromNative } from './errors.js';

export interface NativeLogOptions {
  dir: string;
  segmentBytes?: number;
  indexIntervalBytes?: number;
  maxIndexBytes?: number;
  segmentMs?: number;
  maxMessageBytes?: number;
  checkpointIntervalBytes?: number;
  syncHintBytes?: number;
  readOnly?: boolean;
}

export interface NativeRecoveryInfo {
  clean: boolean;
  segments: number;
  segmentsRecovered: number;
  bytesScanned: number;
  bytesTruncated: number;
  recoveryPoint: number;
  /** What opening found wrong and what it did (index rebuilt, torn tail cut, segment damaged), one sentence each. */
  problems: string[];
}

export interface NativeSegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  active: boolean;
}

/** Flags of NativeLog.append (native/core/log.h AppendFlags). */
export const AppendFlag = {
  AssignOffsets: 1,
  ComputeCrc: 2,
  VerifyCrc: 4,
  LogAppendTime: 8,
  ValidateRecords: 16,
} as const;

/** Slots of NativeLog.state (native/binding/log_handle.cc StateSlot). */
export const StateSlot = {
  LogStartOffset: 0,
  LogEndOffset: 1,
  DurableOffset: 2,
  RecoveryPoint: 3,
  UnsyncedBytes: 4,
  /** append: last offset written; read: offset after the last batch returned */
  Aux1: 5,
  /** append: the LogAppendTime used, or -1 */
  Aux2: 6,
} as const;

/** Results below zero of getRecord / offsetForTimestamp. */
export const LookupResult = { None: -1, Compressed: -2, TooLargeForScratch: -3, InArena: -4 } as const;

export interface NativeLog {
  /** The log's offsets, refreshed by every call that changes them (see StateSlot). */
  readonly state: Float64Array;
  /** getRecord() copies the batch header (61 bytes) then the record body here. */
  readonly scratch: Buffer;
  /** Appends one or more encoded batches (all or nothing); returns the first base offset. */
  append(batches: Uint8Array, flags: number): number;
  /** Whole batches from the one holding `offset`, up to maxBytes (at least one), ending below `upper`. Zero-copy. */
  read(offset: number, maxBytes: number, upper: number): Buffer | null;
  /** The batch holding `offset`, zero-copy, or null. */
  batchAt(offset: number): Buffer | null;
  /**
   * >= 0: body length of the record at `offset`, in scratch; InArena: its key
   * and value were copied into the record arena (src/record/arena.ts); else a LookupResult.
   */
  getRecord(offset: number): number;
  /** Where getRecord puts records without headers from now on: key and value bytes, and the other fields (RecordOut slots). */
  setRecordArena(arena: Uint8Array, out: Float64Array): void;
  /** >= 0: first offset with timestamp >= ts; else a LookupResult. */
  offsetForTimestamp(ts: number): number;
  /** The first batch with maxTimestamp >= ts, zero-copy, or null. */
  batchForTimestamp(ts: number): Buffer | null;
  /** fdatasync everything appended so far on a worker thread; false when there was nothing to do. */
  sync(forceCheckpoint: boolean): Promise<boolean>;
  truncateTo(offset: number): number;
  segments(): NativeSegmentInfo[];
  refresh(): void;
  close(): Promise<void>;
  /** Does nothing: the baseline cost of one N-API call. */
  noop(): void;
}

export interface NativeVerifyIssue {
  file: string;
  /** Byte position in the file, or -1. */
  position: number;
  /** The record offset concerned, or -1. */
  offset: number;
  problem: string;
}

export interface NativeVerifyReport {
  segments: number;
  bytes: number;
  batches: number;
  records: number;
  startOffset: number;
  endOffset: number;
  issues: NativeVerifyIssue[];
}

export interface NativeAddon {
  crc32c(bytes: Uint8Array, init?: number): number;
  crc32cPortable(bytes: Uint8Array, init?: number): number;
  crc32cHardware(bytes: Uint8Array, init?: number): number | null;
  errorCodes(): string[];
  formatConstants(): Record<string, number>;
  setErrorFactory(factory: (code: string, message: string, where?: { file: string; position: number; offset: number }) => Error): void;
  verifyLog(dir: string): Promise<NativeVerifyReport>;
  /** Pages the SIGBUS guard replaced by zeros because a mapped file shrank under a read (native/core/mapped_file.h). */
  sigbusPagesZeroed(): number;
  openLog(options: NativeLogOptions): Promise<{ log: NativeLog; recovery: NativeRecoveryInfo }>;
}

const require = createRequire(import.meta.url);

/**
 * TIDELOG_ADDON=<path> loads that build of the addon instead, and only it (no
 * fallback): `npm run test:asan` points it at the sanitizer build in
 * build-asan/; child processes inherit it.
 */
function load(): NativeAddon {
  const override = process.env.TIDELOG_ADDON;
  if (override) return require(resolvePath(override)) as NativeAddon;
  const candidates = ['../build/Release/tidelog.node', '../build/Debug/tidelog.node'];
  let lastError: unknown;
  for (const c of candidates) {
    try {
      return require(c) as NativeAddon;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`tidelog: the native addon is not built (run npm install): ${String(lastError)}`);
}

export const native: NativeAddon = load();
native.setErrorFactory(errorFromNative);
