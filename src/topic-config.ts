/**
 * Per-topic configuration: Kafka's topic configs, in camelCase with units in
 * the names, with Kafka's defaults. The effective config of a topic is
 * TOPIC_DEFAULTS, overridden by the store's `defaults`, overridden by the
 * topic's own overrides (persisted in topics.json). Resolved in steps like
 * src/config.ts: unknown names are errors with a suggestion, each value is
 * type- and range-checked, then cross-checks run. Callers' objects are never
 * mutated; results are frozen.
 *
 * Which configs take effect at once (alterTopicConfig) and which at the next
 * open of the partition logs: see RUNTIME_CONFIGS and docs/store-and-producer.md.
 */
import {
  type Check,
  type CompressionOption,
  type LogOptions,
  type TimestampType,
  checkOptionsObject,
  describe,
  optionChecks,
  rejectUnknownOptions,
} from './config.js';
import { InvalidArgumentError } from './errors.js';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
/** 'producer': keep the codec the producer chose (Kafka's default). */
export type TopicCompression = 'producer' | CompressionOption;

export interface TopicConfig {
  /** 'delete' (retention), 'compact' (keep the last record per key) or both. Kafka `cleanup.policy`. @default 'delete' */
  cleanupPolicy?: CleanupPolicy;
  /** Delete segments whose records are all older than this; -1: no limit. Kafka `retention.ms`. @default 604800000 (7 days) */
  retentionMs?: number;
  /** Delete old segments while the partition is larger than this; -1: no limit. Kafka `retention.bytes`. @default -1 */
  retentionBytes?: number;
  /** Roll to a new segment before one would exceed this size. Kafka `segment.bytes`. @default 1073741824 (1 GiB) */
  segmentBytes?: number;
  /** Roll a segment this long after its first record. Kafka `segment.ms`. @default 604800000 (7 days) */
  segmentMs?: number;
  /** Preallocated size of each index of the active segment. Kafka `segment.index.bytes`. @default 10485760 (10 MiB) */
  segmentIndexBytes?: number;
  /** Bytes of log between two index entries. Kafka `index.interval.bytes`. @default 4096 */
  indexIntervalBytes?: number;
  /** The largest batch (and so record) accepted, in bytes. Kafka `max.message.bytes`. @default 1048588 */
  maxMessageBytes?: number;
  /** 'producer' keeps the producer's codec; 'none' or 'lz4' is used for every batch. Kafka `compression.type`. @default 'producer' */
  compression?: TopicCompression;
  /** Kafka `message.timestamp.type`. @default 'CreateTime' */
  messageTimestampType?: TimestampType;
  /** How long compaction keeps tombstones. Kafka `delete.retention.ms`. @default 86400000 (1 day) */
  deleteRetentionMs?: number;
  /** A record stays uncompacted at least this long. Kafka `min.compaction.lag.ms`. @default 0 */
  minCompactionLagMs?: number;
  /** A record stays uncompacted at most this long. Kafka `max.compaction.lag.ms`. @default Number.MAX_SAFE_INTEGER (no limit) */
  maxCompactionLagMs?: number;
  /** Compact once this fraction of the log is dirty. Kafka `min.cleanable.dirty.ratio`. @default 0.5 */
  minCleanableDirtyRatio?: number;
  /** Sync at least this often while unsynced data exists; null: never on a timer. Kafka `flush.ms`. @default null */
  flushIntervalMs?: number | null;
  /** Sync once this many bytes are unsynced; null: no limit. (Kafka's `flush.messages` counts records.) @default null */
  flushBytes?: number | null;
}

export type ResolvedTopicConfig = Readonly<Required<TopicConfig>>;

export const TOPIC_DEFAULTS: ResolvedTopicConfig = Object.freeze({
  cleanupPolicy: 'delete',
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  segmentIndexBytes: 10 * 1024 * 1024,
  indexIntervalBytes: 4096,
  maxMessageBytes: 1024 * 1024 + 12,
  compression: 'producer',
  messageTimestampType: 'CreateTime',
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  minCleanableDirtyRatio: 0.5,
  flushIntervalMs: null,
  flushBytes: null,
});

/**
 * Configs that alterTopicConfig applies to open partitions at once. The others
 * are fixed when a partition log is opened (its segment, index, flush and
 * timestamp settings) and apply from the next Store.open; retention and
 * compaction settings are read by those policies when they run.
 */
export const RUNTIME_CONFIGS: ReadonlySet<keyof TopicConfig> = new Set<keyof TopicConfig>(['compression', 'maxMessageBytes']);

const MAX = Number.MAX_SAFE_INTEGER;
const INT32_MAX = 2 ** 31 - 1;
const { int, nullable, oneOf } = optionChecks('topic config');

const ratio: Check = (name, value) => {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidArgumentError(`topic config ${name} must be a number in [0, 1], got ${describe(value)}`);
  }
};

/** -1 (no limit) or a non-negative integer. */
const limit: Check = (name, value) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) {
    throw new InvalidArgumentError(`topic config ${name} must be -1 (no limit) or a non-negative integer, got ${describe(value)}`);
  }
};

const CHECKS: Record<keyof TopicConfig, Check> = {
  cleanupPolicy: oneOf('delete', 'compact', 'compact,delete', 'delete,compact'),
  retentionMs: limit,
  retentionBytes: limit,
  segmentBytes: int(14, INT32_MAX),
  segmentMs: int(1, MAX),
  segmentIndexBytes: int(64, INT32_MAX),
  indexIntervalBytes: int(0, INT32_MAX),
  maxMessageBytes: int(1, INT32_MAX),
  compression: oneOf('producer', 'none', 'lz4'),
  messageTimestampType: oneOf('CreateTime', 'LogAppendTime'),
  deleteRetentionMs: int(0, MAX),
  minCompactionLagMs: int(0, MAX),
  maxCompactionLagMs: int(1, MAX),
  minCleanableDirtyRatio: ratio,
  flushIntervalMs: nullable(int(1, INT32_MAX)),
  flushBytes: nullable(int(1, MAX)),
};

export const TOPIC_CONFIG_NAMES: readonly (keyof TopicConfig)[] = Object.freeze(Object.keys(CHECKS) as (keyof TopicConfig)[]);

/**
 * Checks a set of topic configs (overrides or store defaults): known names,
 * valid values. Returns a frozen copy with only the given names (undefined
 * values dropped), with 'delete,compact' normalised to 'compact,delete'.
 */
export function checkTopicConfig(config: unknown, what = 'topic config'): Readonly<TopicConfig> {
  const given = checkOptionsObject(config, what);
  rejectUnknownOptions(given, TOPIC_CONFIG_NAMES, what);
  const out: Record<string, unknown> = {};
  for (const name of TOPIC_CONFIG_NAMES) {
    if (!Object.hasOwn(given, name)) continue;
    let value = given[name];
    if (value === undefined) continue;
    CHECKS[name](name, value);
    if (name === 'cleanupPolicy' && value === 'delete,compact') value = 'compact,delete';
    out[name] = value;
  }
  return Object.freeze(out) as Readonly<TopicConfig>;
}

/** The effective config: defaults, then each layer of overrides in order. Cross-checked. */
export function resolveTopicConfig(...layers: readonly Readonly<TopicConfig>[]): ResolvedTopicConfig {
  const out: Record<string, unknown> = { ...TOPIC_DEFAULTS };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  // As for a log: when no layer names maxMessageBytes, the default follows a
  // smaller segmentBytes down (a batch must fit in a segment).
  if (!layers.some((l) => l.maxMessageBytes !== undefined) && (out.maxMessageBytes as number) > (out.segmentBytes as number)) {
    out.maxMessageBytes = out.segmentBytes;
  }
  const resolved = out as Required<TopicConfig>;
  if (resolved.maxMessageBytes > resolved.segmentBytes) {
    throw new InvalidArgumentError(
      `topic config maxMessageBytes (${resolved.maxMessageBytes}) must not exceed segmentBytes (${resolved.segmentBytes})`,
    );
  }
  if (resolved.maxCompactionLagMs < resolved.minCompactionLagMs) {
    throw new InvalidArgumentError(
      `topic config maxCompactionLagMs (${resolved.maxCompactionLagMs}) must not be below minCompactionLagMs (${resolved.minCompactionLagMs})`,
    );
  }
  return Object.freeze(resolved);
}

/** The options of a partition log of a topic with this config. */
export function logOptionsFor(config: ResolvedTopicConfig, readOnly: boolean): LogOptions {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    maxIndexBytes: config.segmentIndexBytes,
    indexIntervalBytes: config.indexIntervalBytes,
    maxMessageBytes: config.maxMessageBytes,
    flushIntervalMs: config.flushIntervalMs,
    flushBytes: config.flushBytes,
    messageTimestampType: config.messageTimestampType,
    compression: config.compression === 'producer' ? 'none' : config.compression,
    readOnly,
  };
}
