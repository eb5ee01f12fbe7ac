/** The record codec: JS records <-> Kafka RecordBatch v2 bytes (docs/format.md). */
export { BatchEncoder, encodeBatch } from './encode.js';
export type { EncodeOptions } from './encode.js';
export {
  checkBatchCodecs,
  decodeBatch,
  decodeBatches,
  decodeRecordBody,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from './decode.js';
export { compressRecords, decompressRecords } from './compression.js';
export type { BatchHeader, Bytes, Compression, LogRecord, ProducerRecord, RecordHeader } from './types.js';
