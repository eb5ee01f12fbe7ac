/**
 * Partition choice, as Kafka's Java producer makes it, so that a key lands on
 * the same partition number here as it would in a Kafka cluster with the same
 * partition count:
 *
 * - a keyed record goes to `toPositive(murmur2(keyBytes)) % numPartitions`
 *   (Kafka `BuiltInPartitioner.partitionForKey`, `Utils.murmur2`,
 *   `Utils.toPositive`); string keys hash their UTF-8 bytes;
 * - an unkeyed record goes to the topic's sticky partition, which changes once
 *   `batchBytes` have been sent to it or its batch was sent (Kafka's
 *   BuiltInPartitioner, KIP-480 / KIP-794, without the load statistics).
 *
 * murmur2 works on a reused scratch Buffer: hashing a string key allocates
 * nothing.
 */
import type { Bytes } from './record/types.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

let scratch = Buffer.allocUnsafe(1024);

/** Kafka's `Utils.murmur2` over bytes [start, end) of `data`: a signed 32-bit hash. */
export function murmur2(data: Uint8Array, start = 0, end = data.length): number {
  const length = end - start;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  let p = start;
  for (let i = 0; i < length4; i++, p += 4) {
    let k = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = start + (length & ~3);
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2] << 16;
    // falls through
    case 2:
      h ^= data[tail + 1] << 8;
    // falls through
    case 1:
      h ^= data[tail];
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/**
 * murmur2 of an ASCII string's bytes (its char codes), or null when it has a
 * non-ASCII character: the common key needs no UTF-8 encoding pass.
 */
function murmur2Ascii(s: string): number | null {
  const length = s.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  let p = 0;
  for (let i = 0; i < length4; i++, p += 4) {
    const c0 = s.charCodeAt(p);
    const c1 = s.charCodeAt(p + 1);
    const c2 = s.charCodeAt(p + 2);
    const c3 = s.charCodeAt(p + 3);
    if ((c0 | c1 | c2 | c3) > 0x7f) return null;
    let k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    const c0 = s.charCodeAt(p);
    const c1 = rest > 1 ? s.charCodeAt(p + 1) : 0;
    const c2 = rest > 2 ? s.charCodeAt(p + 2) : 0;
    if ((c0 | c1 | c2) > 0x7f) return null;
    if (rest === 3) h ^= c2 << 16;
    if (rest >= 2) h ^= c1 << 8;
    h ^= c0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** murmur2 of a key as the producer serialises it: strings as UTF-8, bytes as they are. */
export function murmur2Key(key: string | Uint8Array): number {
  if (typeof key !== 'string') return murmur2(key);
  const ascii = murmur2Ascii(key);
  if (ascii !== null) return ascii;
  // A UTF-16 unit is at most 3 UTF-8 bytes.
  if (scratch.length < key.length * 3) scratch = Buffer.allocUnsafe(Math.max(key.length * 3, scratch.length * 2));
  const n = scratch.write(key, 0, 'utf8');
  return murmur2(scratch, 0, n);
}

/** The partition Kafka's default partitioner gives a key among `numPartitions`. */
export function partitionForKey(key: string | Uint8Array, numPartitions: number): number {
  return toPositive(murmur2Key(key)) % numPartitions;
}

/** What a custom partitioner is told about a record. */
export interface PartitionerRecord {
  topic: string;
  key: Bytes | undefined;
  value: Bytes;
}

/**
 * A custom partitioner: returns the partition of a record, an integer in
 * [0, numPartitions). Called once per record that has no explicit partition.
 */
export type Partitioner = (record: PartitionerRecord, numPartitions: number) => number;

/**
 * The sticky partition of one topic for unkeyed records: kept until
 * `stickyBytes` have been assigned to it or `next()` is called (its batch was
 * sent), then a different partition is picked at random.
 */
export class StickyPartition {
  #partition = -1;
  #bytes = 0;
  readonly #stickyBytes: number;
  readonly #random: () => number;

  constructor(stickyBytes: number, random: () => number = Math.random) {
    this.#stickyBytes = stickyBytes;
    this.#random = random;
  }

  /** The partition for an unkeyed record of `bytes` bytes, among `numPartitions`. */
  choose(numPartitions: number, bytes: number): number {
    if (this.#partition < 0 || this.#partition >= numPartitions || this.#bytes >= this.#stickyBytes) {
      this.#switch(numPartitions);
    }
    this.#bytes += bytes;
    return this.#partition;
  }

  /** The current sticky partition's batch was sent: the next unkeyed record picks a new one. */
  batchSent(partition: number): void {
    if (partition === this.#partition) this.#bytes = this.#stickyBytes;
  }

  #switch(numPartitions: number): void {
    const previous = this.#partition;
    let next = Math.floor(this.#random() * numPartitions);
    if (numPartitions > 1 && next === previous) {
      // Any other partition, uniformly: skip the previous one.
      next = (previous + 1 + Math.floor(this.#random() * (numPartitions - 1))) % numPartitions;
    }
    this.#partition = Math.min(next, numPartitions - 1);
    this.#bytes = 0;
  }
}
