/** tidelog: a Kafka-format, append-only log storage engine for Node.js. Public exports only. */
export { Log } from './log.js';
export type {
  AppendBatchesOptions,
  AppendOptions,
  AppendResult,
  Isolation,
  LogOptions,
  ReadOptions,
  RecoveryInfo,
  ResolvedLogOptions,
  SegmentInfo,
} from './log.js';
export { LOG_DEFAULTS } from './config.js';
export type { Acks, CompressionOption, TimestampType } from './config.js';
export * from './errors.js';
export {
  BatchEncoder,
  decodeBatch,
  decodeBatches,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from './record/index.js';
export type { BatchHeader, Bytes, Compression, LogRecord, ProducerRecord, RecordHeader } from './record/types.js';
export { verifyLog } from './verify.js';
export type { VerifyIssue, VerifyReport } from './verify.js';
