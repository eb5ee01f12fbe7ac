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
export { Store, MAX_TOPIC_NAME_LENGTH, MAX_PARTITIONS } from './store.js';
export type { StoreOptions, ResolvedStoreOptions, CreateTopicOptions, AlterTopicConfigOptions, TopicDescription } from './store.js';
export { Partition } from './partition.js';
export type { PartitionAppendOptions, PartitionAppendResult, BatchAppendResult } from './partition.js';
export { TOPIC_DEFAULTS, RUNTIME_CONFIGS } from './topic-config.js';
export type { TopicConfig, ResolvedTopicConfig, CleanupPolicy, TopicCompression } from './topic-config.js';
export { Producer, PRODUCER_DEFAULTS } from './producer.js';
export type { ProducerOptions, ResolvedProducerOptions, SendRecord, SendOptions, RecordMetadata } from './producer.js';
export { murmur2, toPositive, partitionForKey } from './partitioner.js';
export type { Partitioner, PartitionerRecord } from './partitioner.js';
export * from './store-errors.js';
