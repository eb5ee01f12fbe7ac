/**
 * Errors of the store and the producer. They extend TidelogError (src/errors.ts)
 * with codes of their own, STORE_ERROR_CODES, which src/errors.ts lists with
 * every other stable code (TS_ERROR_CODES); they are raised only by the
 * TypeScript layer.
 */
import { type STORE_ERROR_CODES, TidelogError, type TidelogErrorOptions } from './errors.js';

export { STORE_ERROR_CODES } from './errors.js';

export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** The topic does not exist (and the store does not create topics on use). Kafka UNKNOWN_TOPIC_OR_PARTITION. */
export class UnknownTopicError extends TidelogError {
  readonly topic: string;
  constructor(topic: string, message: string, options?: TidelogErrorOptions) {
    super('UNKNOWN_TOPIC', message, options);
    this.topic = topic;
  }
}

/** createTopic of a name that exists (or collides with one, as `a.b` and `a_b` do). Kafka TOPIC_ALREADY_EXISTS. */
export class TopicExistsError extends TidelogError {
  readonly topic: string;
  constructor(topic: string, message: string, options?: TidelogErrorOptions) {
    super('TOPIC_EXISTS', message, options);
    this.topic = topic;
  }
}

/**
 * A send with `expectedOffset` found the partition's end offset elsewhere:
 * someone else appended first. Nothing of the send was written. Re-read the
 * partition, decide again, and retry with the new end offset.
 */
export class ConflictError extends TidelogError {
  readonly topic: string;
  readonly partition: number;
  readonly expectedOffset: number;
  /** The partition's end offset when the send was checked. */
  readonly actualOffset: number;
  constructor(topic: string, partition: number, expectedOffset: number, actualOffset: number) {
    super(
      'CONFLICT',
      `${topic}-${partition}: expected the log to end at offset ${expectedOffset}, but it ends at ${actualOffset}; nothing was written`,
    );
    this.topic = topic;
    this.partition = partition;
    this.expectedOffset = expectedOffset;
    this.actualOffset = actualOffset;
  }
}

/** An idempotent batch whose sequence number does not follow the producer's last one on the partition. Kafka OUT_OF_ORDER_SEQUENCE_NUMBER. */
export class OutOfOrderSequenceError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('OUT_OF_ORDER_SEQUENCE', message, options);
  }
}

/** A newer producer with the same name (a higher epoch of the same producer id) exists: this one may no longer write. Kafka PRODUCER_FENCED. */
export class ProducerFencedError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('PRODUCER_FENCED', message, options);
  }
}

/** The producer's buffer stayed full for maxBlockMs: the send was not accepted. Retriable. */
export class BufferFullError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('BUFFER_FULL', message, { retriable: true, ...options });
  }
}

/** A send after the producer's close() began. */
export class ProducerClosedError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('PRODUCER_CLOSED', message, options);
  }
}

/** A call on a store after its close() began. */
export class StoreClosedError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('STORE_CLOSED', message, options);
  }
}

/** A metadata file (topics.json, producer-ids.json, a .snapshot) does not parse or fails its checks. */
export class CorruptMetadataError extends TidelogError {
  constructor(message: string, options?: TidelogErrorOptions) {
    super('CORRUPT_METADATA', message, options);
  }
}
