/**
 * The on-disk format as constants: Kafka RecordBatch v2 and Kafka's index
 * entries. Every integer on disk is big-endian.
 *
 * This file mirrors native/core/format.h; test/format-constants.test.ts checks
 * that every constant here equals its native counterpart (and lists the few
 * that exist only here). docs/format.md describes the same bytes.
 *
 * Each field offset is chained from the previous field, as in Kafka's
 * DefaultRecordBatch.java: X_OFFSET = PREVIOUS_OFFSET + PREVIOUS_LENGTH.
 */

export const BASE_OFFSET_OFFSET = 0;
export const BASE_OFFSET_LENGTH = 8;
export const LENGTH_OFFSET = BASE_OFFSET_OFFSET + BASE_OFFSET_LENGTH; // 8
export const LENGTH_LENGTH = 4;
/** Bytes of a batch not counted by its `batchLength` field (baseOffset and batchLength). */
export const LOG_OVERHEAD = LENGTH_OFFSET + LENGTH_LENGTH; // 12
export const LEADER_EPOCH_OFFSET = LOG_OVERHEAD; // 12
export const LEADER_EPOCH_LENGTH = 4;
export const MAGIC_OFFSET = LEADER_EPOCH_OFFSET + LEADER_EPOCH_LENGTH; // 16
export const MAGIC_LENGTH = 1;
export const CRC_OFFSET = MAGIC_OFFSET + MAGIC_LENGTH; // 17
export const CRC_LENGTH = 4;
/** The CRC-32C covers the batch from here to its end. */
export const ATTRIBUTES_OFFSET = CRC_OFFSET + CRC_LENGTH; // 21
export const ATTRIBUTES_LENGTH = 2;
export const LAST_OFFSET_DELTA_OFFSET = ATTRIBUTES_OFFSET + ATTRIBUTES_LENGTH; // 23
export const LAST_OFFSET_DELTA_LENGTH = 4;
export const BASE_TIMESTAMP_OFFSET = LAST_OFFSET_DELTA_OFFSET + LAST_OFFSET_DELTA_LENGTH; // 27
export const BASE_TIMESTAMP_LENGTH = 8;
export const MAX_TIMESTAMP_OFFSET = BASE_TIMESTAMP_OFFSET + BASE_TIMESTAMP_LENGTH; // 35
export const MAX_TIMESTAMP_LENGTH = 8;
export const PRODUCER_ID_OFFSET = MAX_TIMESTAMP_OFFSET + MAX_TIMESTAMP_LENGTH; // 43
export const PRODUCER_ID_LENGTH = 8;
export const PRODUCER_EPOCH_OFFSET = PRODUCER_ID_OFFSET + PRODUCER_ID_LENGTH; // 51
export const PRODUCER_EPOCH_LENGTH = 2;
export const BASE_SEQUENCE_OFFSET = PRODUCER_EPOCH_OFFSET + PRODUCER_EPOCH_LENGTH; // 53
export const BASE_SEQUENCE_LENGTH = 4;
export const RECORDS_COUNT_OFFSET = BASE_SEQUENCE_OFFSET + BASE_SEQUENCE_LENGTH; // 57
export const RECORDS_COUNT_LENGTH = 4;
/** The records (or, in a compressed batch, one LZ4 frame holding them) start here. */
export const RECORDS_OFFSET = RECORDS_COUNT_OFFSET + RECORDS_COUNT_LENGTH; // 61
export const HEADER_SIZE = RECORDS_OFFSET; // 61

/** The only batch format tidelog reads and writes: RecordBatch v2. */
export const MAGIC = 2;

// Attribute bits (the attributes field is an i16; only the low 7 bits are used).
export const COMPRESSION_MASK = 0x07;
export const COMPRESSION_NONE = 0;
/** Recognised so that the error can name it; tidelog does not read or write gzip. */
export const COMPRESSION_GZIP = 1;
/** Recognised so that the error can name it; tidelog does not read or write snappy. */
export const COMPRESSION_SNAPPY = 2;
export const COMPRESSION_LZ4 = 3;
/** Recognised so that the error can name it; tidelog does not read or write zstd. */
export const COMPRESSION_ZSTD = 4;
/** Set: LogAppendTime (every record's timestamp is the batch's maxTimestamp). Clear: CreateTime. */
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
/** A control batch holds transaction markers, not user records; decoders skip it as Kafka's consumer does. */
export const CONTROL_MASK = 0x20;
/** Set by compaction: baseTimestamp holds the delete horizon (KIP-534). */
export const DELETE_HORIZON_MASK = 0x40;

// Index entries.
/** .index entry: relativeOffset i32, position i32. */
export const OFFSET_INDEX_ENTRY_SIZE = 8;
/** .timeindex entry: timestamp i64, relativeOffset i32. */
export const TIME_INDEX_ENTRY_SIZE = 12;

export const NO_TIMESTAMP = -1;

// Segment file names: the base offset in 20 zero-padded digits plus a suffix.
export const FILE_NAME_DIGITS = 20;
export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';

// Files kept in a partition directory beside the segments.
export const LOCK_FILE = '.lock';
export const HEAD_FILE = '.head';
export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
export const RECOVERY_POINT_FILE = 'recovery-point';
export const LOG_START_OFFSET_FILE = 'log-start-offset';
