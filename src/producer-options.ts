/**
 * The producer's options and the types of its API, and what it needs from its
 * store (docs/store-and-producer.md). Options have
 * defaults declared once, resolved in steps (type and range checks, then
 * cross-checks), a misspelled name is an error with a suggestion, and the
 * caller's object is never mutated.
 */
import { type Acks, type CompressionOption, checkOptionsObject, describe, rejectUnknownOptions } from './config.js';
import { InvalidArgumentError } from './errors.js';
import type { Partition } from './partition.js';
import type { Partitioner } from './partitioner.js';
import type { Producer } from './producer.js';
import type { ProducerRecord } from './record/types.js';
import type { ResolvedTopicConfig } from './topic-config.js';

export interface ProducerOptions {
  /** Acknowledgement of each send: 'none' (accepted into the buffer), 'written' (in the file), 'durable' (synced). @default 'written' */
  acks?: Acks;
  /** Codec of the batches, for topics whose compression is 'producer'. @default 'none' */
  compression?: CompressionOption;
  /** Wait up to this long for more records before a batch that is not full is appended; 0: at the end of the current event-loop turn. @default 0 */
  lingerMs?: number;
  /** A batch closes once it holds this many bytes (one send's records for one partition are never split below maxMessageBytes). @default 16384 */
  batchBytes?: number;
  /** Bytes of records accepted but not yet acknowledged; beyond it send waits. @default 33554432 (32 MiB) */
  bufferBytes?: number;
  /** How long a send may wait for buffer space (or for an auto-created topic) before BufferFullError. @default 60000 */
  maxBlockMs?: number;
  /** Producer id, epoch and sequence numbers in every batch: retries are never written twice. @default true */
  idempotent?: boolean;
  /** Chooses the partition of records without an explicit one. @default Kafka's: murmur2 of the key, sticky for unkeyed records */
  partitioner?: Partitioner;
  /** A stable name: a new producer with the same name gets the same producer id with a higher epoch and fences this one (Kafka's transactional.id fencing, without transactions). */
  name?: string;
  /** Retries of an append that failed with a retriable error (a full disk), with the same sequence numbers. @default 3 */
  retries?: number;
  /** Wait between retries. @default 100 */
  retryBackoffMs?: number;
}

export type ResolvedProducerOptions = Readonly<{
  acks: Acks;
  compression: CompressionOption;
  lingerMs: number;
  batchBytes: number;
  bufferBytes: number;
  maxBlockMs: number;
  idempotent: boolean;
  partitioner: Partitioner | null;
  name: string | null;
  retries: number;
  retryBackoffMs: number;
}>;

export const PRODUCER_DEFAULTS: ResolvedProducerOptions = Object.freeze({
  acks: 'written',
  compression: 'none',
  lingerMs: 0,
  batchBytes: 16384,
  bufferBytes: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  idempotent: true,
  partitioner: null,
  name: null,
  retries: 3,
  retryBackoffMs: 100,
});

/** A record to send: a ProducerRecord plus where it goes. */
export interface SendRecord extends ProducerRecord {
  topic: string;
  /** An explicit partition; otherwise the partitioner chooses. */
  partition?: number;
}

export interface SendOptions {
  /** Overrides the producer's acks for this send. */
  acks?: Acks;
  /** Append only if the partition's log end offset is this (every record must name the same topic and partition); else ConflictError and nothing is written. */
  expectedOffset?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks 'none' (the send resolves before the append). */
  offset: number;
  /** The record's timestamp (the LogAppendTime under LogAppendTime topics). */
  timestamp: number;
}

/** What a producer sees of a topic (the store's open topic). */
export interface TopicHandle {
  readonly name: string;
  readonly partitions: readonly (Partition | null)[];
  readonly config: ResolvedTopicConfig;
  readonly deleted: boolean;
}

/** What a producer needs from its store. */
export interface ProducerHost {
  topic(name: string): TopicHandle | undefined;
  autoCreateTopics(): boolean;
  ensureTopic(name: string): Promise<TopicHandle>;
  allocateProducerId(name: string | undefined): Promise<{ producerId: number; epoch: number }>;
  /** The newest epoch this store allocated for a named producer id (-1: none). */
  currentEpoch(producerId: number): number;
  producerClosed(producer: Producer): void;
}

const OPTION_NAMES = Object.keys(PRODUCER_DEFAULTS);
export const SEND_OPTIONS = ['acks', 'expectedOffset'] as const;

export function checkAcks(acks: unknown): Acks {
  if (acks !== 'none' && acks !== 'written' && acks !== 'durable') {
    throw new InvalidArgumentError(`option acks must be 'none', 'written' or 'durable', got ${describe(acks)}`);
  }
  return acks;
}

export function resolveProducerOptions(options: unknown): ResolvedProducerOptions {
  const given = checkOptionsObject(options, 'producer');
  rejectUnknownOptions(given, OPTION_NAMES, 'producer');
  const out: Record<string, unknown> = { ...PRODUCER_DEFAULTS };
  const int = (name: string, min: number, max: number) => {
    const v = given[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`option ${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
    }
    out[name] = v;
  };
  int('lingerMs', 0, 2 ** 31 - 1);
  int('batchBytes', 1, 2 ** 31 - 1);
  int('bufferBytes', 1, Number.MAX_SAFE_INTEGER);
  int('maxBlockMs', 0, 2 ** 31 - 1);
  int('retries', 0, 2 ** 31 - 1);
  int('retryBackoffMs', 0, 2 ** 31 - 1);
  if (given.acks !== undefined) out.acks = checkAcks(given.acks);
  if (given.compression !== undefined) {
    if (given.compression !== 'none' && given.compression !== 'lz4') {
      throw new InvalidArgumentError(`option compression must be 'none' or 'lz4', got ${describe(given.compression)}`);
    }
    out.compression = given.compression;
  }
  if (given.idempotent !== undefined) {
    if (typeof given.idempotent !== 'boolean') throw new InvalidArgumentError(`option idempotent must be a boolean, got ${describe(given.idempotent)}`);
    out.idempotent = given.idempotent;
  }
  if (given.partitioner !== undefined && given.partitioner !== null) {
    if (typeof given.partitioner !== 'function') throw new InvalidArgumentError(`option partitioner must be a function, got ${describe(given.partitioner)}`);
    out.partitioner = given.partitioner;
  }
  if (given.name !== undefined && given.name !== null) {
    if (typeof given.name !== 'string' || given.name.length === 0) {
      throw new InvalidArgumentError(`option name must be a non-empty string, got ${describe(given.name)}`);
    }
    if (given.idempotent === false) throw new InvalidArgumentError('option name needs an idempotent producer (idempotent: false was given)');
    out.name = given.name;
  }
  return Object.freeze(out) as ResolvedProducerOptions;
}
