/**
 * Options of a log, resolved in steps (as better-sqlite3 does): unknown names
 * are errors (with a suggestion), then each value is type- and range-checked,
 * then defaults fill the gaps, then cross-checks run. The caller's object is
 * never mutated; the result is frozen.
 */
import { InvalidArgumentError } from './errors.js';

export type Acks = 'none' | 'written' | 'durable';
export type CompressionOption = 'none' | 'lz4';
export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface LogOptions {
  /** Roll to a new segment before a segment would exceed this many bytes. @default 1073741824 (1 GiB) */
  segmentBytes?: number;
  /** Roll when the newest batch is this much newer than the segment's first batch. @default 604800000 (7 days) */
  segmentMs?: number;
  /** Bytes of log between two index entries. @default 4096 */
  indexIntervalBytes?: number;
  /** Preallocated size of each index file of the active segment; a full index rolls the segment. @default 10485760 (10 MiB) */
  maxIndexBytes?: number;
  /** The largest batch (and so the largest record) accepted, in bytes. @default 1048576 (1 MiB) */
  maxMessageBytes?: number;
  /** Sync at least this often while unsynced data exists; null: only when asked. @default null */
  flushIntervalMs?: number | null;
  /** Sync once this many bytes are unsynced; null: no limit. @default null */
  flushBytes?: number | null;
  /** Default acknowledgement of append(): 'none' | 'written' | 'durable'. @default 'written' */
  acks?: Acks;
  /** Compression of batches appended from records. @default 'none' */
  compression?: CompressionOption;
  /** CreateTime keeps the records' timestamps; LogAppendTime stamps batches at append. @default 'CreateTime' */
  messageTimestampType?: TimestampType;
  /** Open without the writer's lock, following the writer in another process. @default false */
  readOnly?: boolean;
  /** Rewrite the recovery-point checkpoint after this many synced bytes (it bounds the scan after a crash). @default 16777216 (16 MiB) */
  checkpointIntervalBytes?: number;
  /**
   * During bulk appends (more than 256 KiB since the last sync), ask a background
   * thread for an fdatasync every this many bytes appended past the last sync:
   * a hint that acknowledges nothing, so that the next sync (a flush at the end
   * of a load) finds little left to persist. 0: never (each hint is a device
   * cache flush no append asked for). @default 4194304 (4 MiB)
   */
  syncHintBytes?: number;
}

export type ResolvedLogOptions = Readonly<{
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  maxIndexBytes: number;
  maxMessageBytes: number;
  flushIntervalMs: number | null;
  flushBytes: number | null;
  acks: Acks;
  compression: CompressionOption;
  messageTimestampType: TimestampType;
  readOnly: boolean;
  checkpointIntervalBytes: number;
  syncHintBytes: number;
}>;

export const LOG_DEFAULTS: ResolvedLogOptions = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  maxIndexBytes: 10 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  flushIntervalMs: null,
  flushBytes: null,
  acks: 'written',
  compression: 'none',
  messageTimestampType: 'CreateTime',
  readOnly: false,
  checkpointIntervalBytes: 16 * 1024 * 1024,
  syncHintBytes: 4 * 1024 * 1024,
});

export type Check = (name: string, value: unknown) => void;

/**
 * Value checks for an options object. `what` starts each message ('option',
 * 'topic config'), so that an error names the kind of setting that was wrong.
 */
export function optionChecks(what: string) {
  const int =
    (min: number, max: number): Check =>
    (name, value) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        throw new InvalidArgumentError(`${what} ${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
      }
    };
  const nullable =
    (check: Check): Check =>
    (name, value) => {
      if (value !== null) check(name, value);
    };
  const oneOf =
    (...allowed: readonly string[]): Check =>
    (name, value) => {
      if (typeof value !== 'string' || !allowed.includes(value)) {
        throw new InvalidArgumentError(
          `${what} ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
        );
      }
    };
  const bool: Check = (name, value) => {
    if (typeof value !== 'boolean') throw new InvalidArgumentError(`${what} ${name} must be a boolean, got ${describe(value)}`);
  };
  return { int, nullable, oneOf, bool };
}

const { int, nullable, oneOf, bool } = optionChecks('option');

const INT32_MAX = 2 ** 31 - 1;

const LOG_CHECKS: Record<keyof ResolvedLogOptions, Check> = {
  segmentBytes: int(14, INT32_MAX),
  segmentMs: int(1, Number.MAX_SAFE_INTEGER),
  indexIntervalBytes: int(0, INT32_MAX),
  maxIndexBytes: int(64, INT32_MAX),
  maxMessageBytes: int(1, INT32_MAX),
  flushIntervalMs: nullable(int(1, INT32_MAX)),
  flushBytes: nullable(int(1, Number.MAX_SAFE_INTEGER)),
  acks: oneOf('none', 'written', 'durable'),
  compression: oneOf('none', 'lz4'),
  messageTimestampType: oneOf('CreateTime', 'LogAppendTime'),
  readOnly: bool,
  checkpointIntervalBytes: int(0, Number.MAX_SAFE_INTEGER),
  syncHintBytes: int(0, Number.MAX_SAFE_INTEGER),
};

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** Throws for any key of `given` that is not in `known`, suggesting the nearest known name. */
export function rejectUnknownOptions(given: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    let best = '';
    let bestDistance = Infinity;
    for (const k of known) {
      const dist = editDistance(key, k);
      if (dist < bestDistance) {
        best = k;
        bestDistance = dist;
      }
    }
    const hint = bestDistance <= 3 ? ` (did you mean '${best}'?)` : '';
    throw new InvalidArgumentError(`unknown ${what} option '${key}'${hint}`);
  }
}

export function checkOptionsObject(options: unknown, what: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} options must be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

export function resolveLogOptions(options: unknown): ResolvedLogOptions {
  const given = checkOptionsObject(options, 'log');
  rejectUnknownOptions(given, Object.keys(LOG_CHECKS), 'log');
  const out: Record<string, unknown> = { ...LOG_DEFAULTS };
  for (const [name, check] of Object.entries(LOG_CHECKS)) {
    const value = given[name];
    if (value === undefined) continue;
    check(name, value);
    out[name] = value;
  }
  // A batch must fit in one segment. When the caller shrinks segmentBytes below the
  // default maxMessageBytes without naming maxMessageBytes, follow segmentBytes down
  // rather than refusing a configuration the caller never wrote.
  if (given.maxMessageBytes === undefined && (out.maxMessageBytes as number) > (out.segmentBytes as number)) {
    out.maxMessageBytes = out.segmentBytes;
  }
  const resolved = out as ResolvedLogOptions;
  if (resolved.maxMessageBytes > resolved.segmentBytes) {
    throw new InvalidArgumentError(
      `maxMessageBytes (${resolved.maxMessageBytes}) must not exceed segmentBytes (${resolved.segmentBytes})`,
    );
  }
  return Object.freeze(resolved);
}
