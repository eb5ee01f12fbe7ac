/** The record codec's types: what callers hand to the encoder and get back from the decoder. */

/** Bytes as a caller may give them: strings are encoded as UTF-8; null is Kafka's null (length -1). */
export type Bytes = Buffer | Uint8Array | string | null;

/** A record header. Kafka allows duplicate keys; order is kept. */
export interface RecordHeader {
  key: string;
  value: Bytes;
}

/** A record to append. */
export interface ProducerRecord {
  /** undefined and null both mean a null key. */
  key?: Bytes;
  /** null is a tombstone. */
  value: Bytes;
  /** An array (order and duplicates kept) or an object (its own enumerable keys, in order). */
  headers?: readonly RecordHeader[] | Readonly<Record<string, Bytes>>;
  /** Milliseconds since the epoch, a non-negative safe integer. @default the encoder's `now` */
  timestamp?: number;
}

/**
 * A decoded record. From decodeBatch / decodeBatches, `key`, `value` and header
 * values are zero-copy views of the buffer that was decoded (for a log read:
 * the segment's mapped bytes): they share its memory. Copy them
 * (`Buffer.from(view)`) to keep them past the life of that buffer.
 */
export interface LogRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** In order, duplicates kept. Read-only: a record without headers gets one shared, frozen empty array. */
  headers: readonly { key: string; value: Buffer | null }[];
}

/** Compression of a batch's records: none, or one Kafka-compatible LZ4 frame. */
export type Compression = 'none' | 'lz4';

/**
 * The 61-byte header of a RecordBatch v2 (docs/format.md), plus the attributes
 * decoded. 64-bit fields are numbers: offsets are checked to be safe integers;
 * timestamps and producer ids beyond 2^53 lose precision (none occur in
 * practice: -1 means "none" for both).
 */
export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field: the batch is 12 + batchLength bytes long. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Unsigned. */
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  /** -1: none. */
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
  /** attributes & 7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  compression: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  isTransactional: boolean;
  isControl: boolean;
}
