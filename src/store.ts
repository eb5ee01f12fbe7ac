/**
 * Store: a data directory of topics; each topic has N partitions, each a
 * partition log in `<dataDir>/<topic>-<partition>/` (DESIGN §2).
 *
 * Files at the top of the data directory:
 *   topics.json         the topics, their partition counts and config overrides
 *                       (and topics whose deletion has begun); atomic writes
 *   producer-ids.json   the producer id counter (past the blocks reserved for
 *                       unnamed producers) and named producers' epochs
 *   .meta-lock/         the metadata lock (src/metadata-file.ts)
 *
 * Crash consistency of topic changes. topics.json is the only truth, and each
 * change has one commit point, its atomic rewrite:
 *   - createTopic / createPartitions: commit the new entry, then create the
 *     partition directories. A crash before the commit leaves the old state and
 *     no directory; after it, the next open creates the missing (empty)
 *     partitions: the new state. Directories are never created before the
 *     commit, so a directory of a topic that is not in topics.json is never
 *     ours: createTopic refuses to adopt one (it names it) and nothing deletes it.
 *   - deleteTopic: close the partitions, commit the topic moved to `deleting`
 *     (invisible from then on), remove its directories, commit again without
 *     it. A crash before the first commit leaves the topic whole; after it, the
 *     next writer to open the store (or to change its metadata) finishes the
 *     removal before anything else.
 *
 * Ownership. A writer store opens every partition of every topic for writing,
 * taking each partition's lock: if another process holds one, open fails with
 * LogLockedError naming that partition. Metadata changes take the store's
 * metadata lock for their duration only and re-read topics.json under it, so
 * processes may own different topics of one store (DESIGN §5). A read-only
 * store takes no lock and follows writers.
 */
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { LOG_DEFAULTS, checkOptionsObject, describe, rejectUnknownOptions } from './config.js';
import { InvalidArgumentError, InvalidStateError, LogLockedError, ReadOnlyError } from './errors.js';
import type { Log } from './log.js';
import { readJsonFile, syncDir, withMetadataLock, writeJsonAtomic } from './metadata-file.js';
import { Partition, partitionDirName } from './partition.js';
import { Producer, type ProducerHost, type ProducerOptions, type TopicHandle } from './producer.js';
import { CorruptMetadataError, StoreClosedError, TopicExistsError, UnknownTopicError } from './store-errors.js';
import {
  type ResolvedTopicConfig,
  TOPIC_CONFIG_NAMES,
  type TopicConfig,
  checkTopicConfig,
  resolveTopicConfig,
} from './topic-config.js';

export const TOPICS_FILE = 'topics.json';
export const PRODUCER_IDS_FILE = 'producer-ids.json';
const METADATA_VERSION = 1;
/** Kafka's limit on topic name length. */
export const MAX_TOPIC_NAME_LENGTH = 249;
export const MAX_PARTITIONS = 10_000;
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
const INTERNAL_PREFIX = '__';
const EPOCH_MAX = 0x7fff;
/**
 * Unnamed producers take their ids from a block reserved in producer-ids.json
 * (its counter moved past the block before any id of it is used), as Kafka's
 * ProducerIdManager reserves blocks of 1,000: a writer store reserves one
 * when it opens, so creating a producer costs no durable write. Ids of a
 * block left unused are skipped, never reused.
 */
export const PRODUCER_ID_BLOCK = 1000;
/** Producer-state snapshots are written after this many appended bytes (or segmentBytes, if smaller). */
const SNAPSHOT_INTERVAL_BYTES = 64 * 1024 * 1024;
/** How often idle producer ids are expired (Kafka's producer.id.expiration.check.interval.ms). */
const EXPIRATION_CHECK_MS = 10 * 60 * 1000;

export interface StoreOptions {
  /** Open without any lock, following the writers of other processes; every change is refused. @default false */
  readOnly?: boolean;
  /** A producer's send to an unknown topic creates it (defaultPartitions, store defaults). @default false */
  autoCreateTopics?: boolean;
  /** Store-wide topic config defaults, below each topic's overrides (Kafka's broker-level topic defaults). @default {} */
  defaults?: TopicConfig;
  /** Partitions of a topic created without a count (and of auto-created topics). Kafka `num.partitions`. @default 1 */
  defaultPartitions?: number;
  /** Forget an idempotent producer id after this long without an append. Kafka `producer.id.expiration.ms`. @default 86400000 (1 day) */
  producerIdExpirationMs?: number;
  /** Every partition log's syncHintBytes (LogOptions): 0 turns the background fdatasync of bulk appends off. @default 4194304 (4 MiB) */
  syncHintBytes?: number;
}

export type ResolvedStoreOptions = Readonly<{
  readOnly: boolean;
  autoCreateTopics: boolean;
  defaults: Readonly<TopicConfig>;
  defaultPartitions: number;
  producerIdExpirationMs: number;
  syncHintBytes: number;
}>;

const STORE_OPTIONS = ['readOnly', 'autoCreateTopics', 'defaults', 'defaultPartitions', 'producerIdExpirationMs', 'syncHintBytes'] as const;

export interface CreateTopicOptions {
  /** @default the store's defaultPartitions (1) */
  partitions?: number;
  /** Overrides of the store's defaults for this topic. @default {} */
  config?: TopicConfig;
}

export interface AlterTopicConfigOptions {
  /** Overrides to remove: the topic falls back to the store's default for these. */
  reset?: readonly (keyof TopicConfig)[];
}

export interface TopicDescription {
  name: string;
  partitions: number;
  /** The effective config: Kafka's defaults < the store's defaults < the topic's overrides. */
  config: ResolvedTopicConfig;
  /** The topic's own overrides (what topics.json holds). */
  overrides: Readonly<TopicConfig>;
  internal: boolean;
}

interface TopicEntry {
  partitions: number;
  config: TopicConfig;
  internal?: boolean;
}

interface TopicsFile {
  version: number;
  topics: Record<string, TopicEntry>;
  /** Topics whose deletion committed but whose directories may remain. */
  deleting: Record<string, { partitions: number }>;
}

interface ProducerIdsFile {
  version: number;
  nextProducerId: number;
  names: Record<string, { producerId: number; epoch: number }>;
}

/** An open topic. */
class TopicState implements TopicHandle {
  readonly name: string;
  partitions: (Partition | null)[];
  overrides: Readonly<TopicConfig>;
  config: ResolvedTopicConfig;
  readonly internal: boolean;
  deleted = false;

  constructor(name: string, partitions: (Partition | null)[], overrides: Readonly<TopicConfig>, config: ResolvedTopicConfig, internal: boolean) {
    this.name = name;
    this.partitions = partitions;
    this.overrides = overrides;
    this.config = config;
    this.internal = internal;
  }
}

/** Lets tidelog's own modules create `__`-prefixed topics; not exported from the package. */
export const CREATE_INTERNAL_TOPIC = Symbol('createInternalTopic');

/** Checks a topic name against Kafka's rules; `__` names are reserved unless `internal`. */
export function checkTopicName(name: unknown, internal = false): asserts name is string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`topic name must be a string, got ${describe(name)}`);
  if (name.length === 0 || name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new InvalidArgumentError(`topic name must be 1 to ${MAX_TOPIC_NAME_LENGTH} characters long, got ${name.length}`);
  }
  if (name === '.' || name === '..') throw new InvalidArgumentError(`topic name cannot be '${name}'`);
  if (!TOPIC_NAME.test(name)) {
    throw new InvalidArgumentError(`topic name ${describe(name)} may contain only ASCII letters, digits, '.', '_' and '-'`);
  }
  if (!internal && name.startsWith(INTERNAL_PREFIX)) {
    throw new InvalidArgumentError(`topic name ${describe(name)}: names starting with '${INTERNAL_PREFIX}' are reserved for tidelog's internal topics`);
  }
}

/** Kafka refuses topics that differ only by '.' vs '_' (their metric names collide). */
function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

function checkPartitionCount(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > MAX_PARTITIONS) {
    throw new InvalidArgumentError(`${what} must be an integer in [1, ${MAX_PARTITIONS}], got ${describe(n)}`);
  }
}

function resolveStoreOptions(options: unknown): ResolvedStoreOptions {
  const given = checkOptionsObject(options, 'store');
  rejectUnknownOptions(given, STORE_OPTIONS, 'store');
  const bool = (name: string, fallback: boolean) => {
    const v = given[name] ?? fallback;
    if (typeof v !== 'boolean') throw new InvalidArgumentError(`option ${name} must be a boolean, got ${describe(v)}`);
    return v;
  };
  const defaultPartitions = given.defaultPartitions ?? 1;
  checkPartitionCount(defaultPartitions, 'option defaultPartitions');
  const expiration = given.producerIdExpirationMs ?? 24 * 60 * 60 * 1000;
  if (typeof expiration !== 'number' || !Number.isSafeInteger(expiration) || expiration < 1) {
    throw new InvalidArgumentError(`option producerIdExpirationMs must be a positive integer, got ${describe(expiration)}`);
  }
  const syncHintBytes = given.syncHintBytes === undefined ? LOG_DEFAULTS.syncHintBytes : given.syncHintBytes;
  if (typeof syncHintBytes !== 'number' || !Number.isSafeInteger(syncHintBytes) || syncHintBytes < 0) {
    throw new InvalidArgumentError(`option syncHintBytes must be a non-negative integer, got ${describe(syncHintBytes)}`);
  }
  const defaults = checkTopicConfig(given.defaults ?? {}, 'store defaults');
  resolveTopicConfig(defaults); // cross-checks
  return Object.freeze({
    readOnly: bool('readOnly', false),
    autoCreateTopics: bool('autoCreateTopics', false),
    defaults,
    defaultPartitions,
    producerIdExpirationMs: expiration,
    syncHintBytes,
  });
}

function emptyTopicsFile(): TopicsFile {
  return { version: METADATA_VERSION, topics: {}, deleting: {} };
}

async function readTopicsFile(dir: string): Promise<TopicsFile> {
  const path = join(dir, TOPICS_FILE);
  const raw = await readJsonFile(path);
  if (raw === null) return emptyTopicsFile();
  const bad = (why: string) => new CorruptMetadataError(`${path}: ${why}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a JSON object');
  const f = raw as Partial<TopicsFile>;
  if (f.version !== METADATA_VERSION) throw bad(`unknown version ${describe(f.version)}`);
  if (typeof f.topics !== 'object' || f.topics === null) throw bad('no "topics" object');
  const deleting = f.deleting ?? {};
  if (typeof deleting !== 'object' || deleting === null) throw bad('"deleting" is not an object');
  const out: TopicsFile = { version: METADATA_VERSION, topics: {}, deleting: {} };
  try {
    for (const [name, e] of Object.entries(f.topics)) {
      checkTopicName(name, true);
      checkPartitionCount(e?.partitions, `partitions of topic ${name}`);
      out.topics[name] = { partitions: e.partitions, config: checkTopicConfig(e.config ?? {}, `config of topic ${name}`), internal: e.internal === true };
    }
    for (const [name, e] of Object.entries(deleting)) {
      checkTopicName(name, true);
      checkPartitionCount(e?.partitions, `partitions of deleted topic ${name}`);
      out.deleting[name] = { partitions: e.partitions };
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw bad((err as Error).message);
    throw err;
  }
  return out;
}

function writeTopicsFile(dir: string, f: TopicsFile): Promise<void> {
  const topics: Record<string, TopicEntry> = {};
  for (const name of Object.keys(f.topics).sort()) {
    const e = f.topics[name];
    topics[name] = e.internal ? { partitions: e.partitions, config: e.config, internal: true } : { partitions: e.partitions, config: e.config };
  }
  return writeJsonAtomic(join(dir, TOPICS_FILE), { version: METADATA_VERSION, topics, deleting: f.deleting });
}

/** Removes the directories of topics whose deletion committed, then forgets them. */
async function finishDeletes(dir: string, f: TopicsFile): Promise<TopicsFile> {
  const names = Object.keys(f.deleting);
  if (names.length === 0) return f;
  for (const name of names) {
    for (let i = 0; i < f.deleting[name].partitions; i++) {
      await rm(join(dir, partitionDirName(name, i)), { recursive: true, force: true });
    }
  }
  await syncDir(dir);
  const next: TopicsFile = { ...f, deleting: {} };
  await writeTopicsFile(dir, next);
  return next;
}

export class Store {
  /** Absolute path of the data directory. */
  readonly dir: string;
  readonly options: ResolvedStoreOptions;
  readonly #topics = new Map<string, TopicState>();
  readonly #producers = new Set<Producer>();
  /** Epoch of each named producer id allocated by this store (in-process fencing). */
  readonly #epochs = new Map<number, number>();
  readonly #creating = new Map<string, Promise<TopicState>>();
  /** Ids [next, end) reserved for unnamed producers (see PRODUCER_ID_BLOCK). */
  #idBlock = { next: 0, end: 0 };
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  private constructor(dir: string, options: ResolvedStoreOptions) {
    this.dir = dir;
    this.options = options;
  }

  /**
   * Opens (creating if needed) the store in `dataDir`: every partition of
   * every topic, for writing unless `readOnly`. A partition another process
   * writes to makes the open fail with LogLockedError naming it.
   */
  static async open(dataDir: string, options?: StoreOptions): Promise<Store> {
    if (typeof dataDir !== 'string' || dataDir.length === 0) {
      throw new InvalidArgumentError(`store directory must be a non-empty string, got ${describe(dataDir)}`);
    }
    const resolved = resolveStoreOptions(options);
    const store = new Store(resolvePath(dataDir), resolved);
    if (resolved.readOnly) {
      await store.#openTopics(await readTopicsFile(store.dir));
      return store;
    }
    // A directory created here must be durable in its parent, or a power loss
    // can take the whole store: fsync the parent of each one created.
    const first = await mkdir(store.dir, { recursive: true });
    if (first !== undefined) {
      for (let d = store.dir; ; d = dirname(d)) {
        await syncDir(dirname(d));
        if (d === first || dirname(d) === d) break;
      }
    }
    await withMetadataLock(store.dir, async () => {
      const meta = await finishDeletes(store.dir, await readTopicsFile(store.dir));
      await store.#openTopics(meta);
      // Best effort: without a block (a corrupt producer-ids.json, a full disk) the
      // first producer reserves one, and fails with the reason if it cannot.
      await store.#reserveIdBlock().catch(() => undefined);
    });
    const every = Math.min(resolved.producerIdExpirationMs, EXPIRATION_CHECK_MS);
    store.#timer = setInterval(() => store.#expireProducers(), every);
    store.#timer.unref();
    return store;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Names of the topics, sorted; internal (`__`) topics only with `includeInternal`. */
  listTopics(options?: { includeInternal?: boolean }): string[] {
    this.#checkOpen();
    const given = checkOptionsObject(options, 'listTopics');
    rejectUnknownOptions(given, ['includeInternal'], 'listTopics');
    const all = given.includeInternal === true;
    return [...this.#topics.values()].filter((t) => all || !t.internal).map((t) => t.name).sort();
  }

  hasTopic(name: string): boolean {
    this.#checkOpen();
    return this.#topics.has(name);
  }

  describeTopic(name: string): TopicDescription {
    const t = this.#topic(name);
    return { name: t.name, partitions: t.partitions.length, config: t.config, overrides: t.overrides, internal: t.internal };
  }

  /** Partition `index` of `topic`. */
  partition(topic: string, index: number): Partition {
    const t = this.#topic(topic);
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= t.partitions.length) {
      throw new InvalidArgumentError(`partition ${describe(index)} of topic ${describe(topic)} does not exist: it has partitions 0 to ${t.partitions.length - 1}`);
    }
    const p = t.partitions[index];
    if (p === null) throw new InvalidStateError(`partition ${partitionDirName(topic, index)} has not been created by a writer yet`);
    return p;
  }

  /** The log of partition `index` of `topic` (read it freely; write through a producer to keep idempotence). */
  log(topic: string, index: number): Log {
    return this.partition(topic, index).log;
  }

  /** Creates a topic. TopicExistsError if it exists (or collides with one, as `a.b` and `a_b` do). */
  createTopic(name: string, options?: CreateTopicOptions): Promise<TopicDescription> {
    return this.#createTopic(name, options, false).then(() => this.describeTopic(name));
  }

  [CREATE_INTERNAL_TOPIC](name: string, options?: CreateTopicOptions): Promise<TopicDescription> {
    return this.#createTopic(name, options, true).then(() => this.describeTopic(name));
  }

  /** Deletes a topic and its data. Pending sends to it fail. */
  deleteTopic(name: string): Promise<void> {
    return this.#mutate(async (meta) => {
      const entry = meta.topics[name];
      if (entry === undefined) throw new UnknownTopicError(name, `topic ${describe(name)} does not exist`);
      if (entry.internal) throw new InvalidArgumentError(`topic ${describe(name)} is internal to tidelog and cannot be deleted`);
      const t = this.#topics.get(name) ?? (await this.#adopt(name, entry));
      t.deleted = true;
      this.#topics.delete(name);
      await Promise.all(t.partitions.map((p) => p?.close()));
      delete meta.topics[name];
      meta.deleting[name] = { partitions: entry.partitions };
      await writeTopicsFile(this.dir, meta); // commit: the topic is gone from here on
      await finishDeletes(this.dir, meta);
    });
  }

  /** Raises a topic's partition count to `count` (never lowers it). Keys then map to different partitions, as in Kafka. */
  createPartitions(name: string, count: number): Promise<TopicDescription> {
    return this.#mutate(async (meta) => {
      checkPartitionCount(count, 'partition count');
      const entry = meta.topics[name];
      if (entry === undefined) throw new UnknownTopicError(name, `topic ${describe(name)} does not exist`);
      if (count <= entry.partitions) {
        throw new InvalidArgumentError(`topic ${describe(name)} has ${entry.partitions} partitions: the count can only grow, got ${count}`);
      }
      const t = this.#topics.get(name) ?? (await this.#adopt(name, entry));
      this.#refuseLeftovers(name, entry.partitions, count);
      const old = entry.partitions;
      entry.partitions = count;
      await writeTopicsFile(this.dir, meta); // commit
      const opened = await this.#openPartitions(name, t.config, old, count).catch(async (err) => {
        entry.partitions = old;
        await this.#rollbackDirs(name, old, count);
        await writeTopicsFile(this.dir, meta);
        throw err;
      });
      t.partitions = [...t.partitions, ...opened];
    }).then(() => this.describeTopic(name));
  }

  /**
   * Changes a topic's config overrides: `changes` sets them, `reset` removes
   * them. Persisted at once. compression and maxMessageBytes apply at once to
   * the open partitions; the rest (the partition log's own options: segment,
   * index, flush and timestamp settings) apply when the store is next opened;
   * retention and compaction settings are read by those policies when they run.
   */
  alterTopicConfig(name: string, changes: TopicConfig, options?: AlterTopicConfigOptions): Promise<TopicDescription> {
    return this.#mutate(async (meta) => {
      const set = checkTopicConfig(changes, 'topic config');
      const given = checkOptionsObject(options, 'alterTopicConfig');
      rejectUnknownOptions(given, ['reset'], 'alterTopicConfig');
      const reset = (given.reset ?? []) as unknown[];
      if (!Array.isArray(reset)) throw new InvalidArgumentError(`option reset must be an array of config names, got ${describe(reset)}`);
      for (const r of reset) {
        if (typeof r !== 'string') throw new InvalidArgumentError(`option reset must hold config names, got ${describe(r)}`);
        rejectUnknownOptions({ [r]: true }, TOPIC_CONFIG_NAMES, 'topic config');
      }
      const entry = meta.topics[name];
      if (entry === undefined) throw new UnknownTopicError(name, `topic ${describe(name)} does not exist`);
      const overrides: Record<string, unknown> = { ...entry.config, ...set };
      for (const r of reset as string[]) delete overrides[r];
      const config = resolveTopicConfig(this.options.defaults, overrides as TopicConfig);
      entry.config = overrides as TopicConfig;
      await writeTopicsFile(this.dir, meta);
      const t = this.#topics.get(name);
      if (t) {
        t.overrides = Object.freeze({ ...overrides }) as TopicConfig;
        t.config = config;
      }
    }).then(() => this.describeTopic(name));
  }

  /** A producer writing to this store's topics (src/producer.ts). */
  producer(options?: ProducerOptions): Producer {
    this.#checkOpen();
    if (this.options.readOnly) throw new ReadOnlyError(`store ${this.dir} was opened read-only: it has no producers`);
    const p = new Producer(this.#host, options);
    this.#producers.add(p);
    return p;
  }

  /** Closes every producer (flushing it), then every partition (producer-state snapshot, sync, clean-shutdown marker). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      const errors: unknown[] = [];
      await Promise.all([...this.#producers].map((p) => p.close().catch((e) => errors.push(e))));
      await this.#queue.catch(() => undefined);
      const parts = [...this.#topics.values()].flatMap((t) => t.partitions);
      await Promise.all(parts.map((p) => p?.close().catch((e) => errors.push(e))));
      this.#topics.clear();
      if (errors.length > 0) throw errors[0];
    })();
    return this.#closing;
  }

  // ---- internals -------------------------------------------------------------

  readonly #host: ProducerHost = {
    topic: (name) => this.#topics.get(name),
    autoCreateTopics: () => this.options.autoCreateTopics,
    ensureTopic: (name) => this.#ensureTopic(name),
    allocateProducerId: (name) => this.#allocateProducerId(name),
    currentEpoch: (producerId) => this.#epochs.get(producerId) ?? -1,
    producerClosed: (p) => {
      this.#producers.delete(p);
    },
  };

  #checkOpen(): void {
    if (this.#closing) throw new StoreClosedError(`store ${this.dir} is closed`);
  }

  #topic(name: string): TopicState {
    this.#checkOpen();
    const t = this.#topics.get(name);
    if (t === undefined) throw new UnknownTopicError(String(name), `topic ${describe(name)} does not exist in store ${this.dir}`);
    return t;
  }

  /** Runs a metadata change: one at a time in this process, under the metadata lock, on a fresh read of topics.json. */
  #mutate<T>(fn: (meta: TopicsFile) => Promise<T>): Promise<T> {
    try {
      this.#checkOpen();
      if (this.options.readOnly) throw new ReadOnlyError(`store ${this.dir} was opened read-only`);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.#queue.then(() =>
      withMetadataLock(this.dir, async () => fn(await finishDeletes(this.dir, await readTopicsFile(this.dir)))),
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #createTopic(name: string, options: CreateTopicOptions | undefined, internal: boolean): Promise<TopicState> {
    let partitions: number;
    let overrides: Readonly<TopicConfig>;
    let config: ResolvedTopicConfig;
    try {
      checkTopicName(name, internal);
      const given = checkOptionsObject(options, 'createTopic');
      rejectUnknownOptions(given, ['partitions', 'config'], 'createTopic');
      partitions = (given.partitions as number | undefined) ?? this.options.defaultPartitions;
      checkPartitionCount(partitions, 'option partitions');
      overrides = checkTopicConfig(given.config ?? {}, 'topic config');
      config = resolveTopicConfig(this.options.defaults, overrides);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#mutate(async (meta) => {
      if (meta.topics[name] !== undefined || this.#topics.has(name)) {
        throw new TopicExistsError(name, `topic ${describe(name)} already exists`);
      }
      const key = collisionKey(name);
      const other = Object.keys(meta.topics).find((n) => collisionKey(n) === key);
      if (other !== undefined) {
        throw new TopicExistsError(name, `topic ${describe(name)} collides with existing topic ${describe(other)} ('.' and '_' are interchangeable in Kafka's metric names)`);
      }
      this.#refuseLeftovers(name, 0, partitions);
      meta.topics[name] = { partitions, config: { ...overrides }, internal };
      await writeTopicsFile(this.dir, meta); // commit
      try {
        const opened = await this.#openPartitions(name, config, 0, partitions);
        const t = new TopicState(name, opened, overrides, config, internal);
        this.#topics.set(name, t);
        return t;
      } catch (err) {
        delete meta.topics[name];
        await this.#rollbackDirs(name, 0, partitions);
        await writeTopicsFile(this.dir, meta);
        throw err;
      }
    });
  }

  /** The topic, created with the defaults when missing (autoCreateTopics); concurrent calls share one creation. */
  #ensureTopic(name: string): Promise<TopicState> {
    const t = this.#topics.get(name);
    if (t) return Promise.resolve(t);
    let pending = this.#creating.get(name);
    if (pending === undefined) {
      pending = this.#createTopic(name, undefined, false)
        .catch((err) => {
          const now = this.#topics.get(name);
          if (err instanceof TopicExistsError && now) return now;
          throw err;
        })
        .finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    return pending;
  }

  /** Directories that would become partitions [from, to) of `name` must not exist: they are not ours. */
  #refuseLeftovers(name: string, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const dir = join(this.dir, partitionDirName(name, i));
      if (existsSync(dir)) {
        throw new InvalidStateError(`${dir} exists but is not a partition of store ${this.dir}: move or remove it before creating ${partitionDirName(name, i)}`);
      }
    }
  }

  async #rollbackDirs(name: string, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) await rm(join(this.dir, partitionDirName(name, i)), { recursive: true, force: true });
  }

  async #openTopics(meta: TopicsFile): Promise<void> {
    const opened: TopicState[] = [];
    try {
      for (const [name, entry] of Object.entries(meta.topics)) {
        const overrides = Object.freeze({ ...entry.config });
        const config = resolveTopicConfig(this.options.defaults, overrides);
        const partitions = await this.#openPartitions(name, config, 0, entry.partitions);
        const t = new TopicState(name, partitions, overrides, config, entry.internal === true);
        opened.push(t);
        this.#topics.set(name, t);
      }
    } catch (err) {
      await Promise.all(opened.flatMap((t) => t.partitions).map((p) => p?.close().catch(() => undefined)));
      this.#topics.clear();
      throw err;
    }
  }

  /** Opens partitions [from, to) of a topic in parallel; on any failure closes the others and throws (a lock error names the partition). */
  async #openPartitions(name: string, config: ResolvedTopicConfig, from: number, to: number): Promise<(Partition | null)[]> {
    const options = {
      readOnly: this.options.readOnly,
      producerIdExpirationMs: this.options.producerIdExpirationMs,
      syncHintBytes: this.options.syncHintBytes,
      snapshotIntervalBytes: Math.min(SNAPSHOT_INTERVAL_BYTES, config.segmentBytes),
    };
    const results = await Promise.allSettled(
      Array.from({ length: to - from }, (_, k) => Partition.open(this.dir, name, from + k, config, options)),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed === undefined) return results.map((r) => (r as PromiseFulfilledResult<Partition | null>).value);
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value?.close().catch(() => undefined) : undefined)));
    const i = results.indexOf(failed);
    const err = (failed as PromiseRejectedResult).reason;
    if (err instanceof LogLockedError) {
      throw new LogLockedError(`partition ${partitionDirName(name, from + i)} of store ${this.dir} is open for writing in another process (${err.message})`, { cause: err });
    }
    throw err;
  }

  /** Opens, for writing, a topic that is in topics.json but not open here (another process created it). */
  async #adopt(name: string, entry: TopicEntry): Promise<TopicState> {
    const overrides = Object.freeze({ ...entry.config });
    const config = resolveTopicConfig(this.options.defaults, overrides);
    const partitions = await this.#openPartitions(name, config, 0, entry.partitions);
    const t = new TopicState(name, partitions, overrides, config, entry.internal === true);
    this.#topics.set(name, t);
    return t;
  }

  /**
   * A producer id (and epoch): for an unnamed producer the next id of the
   * reserved block (reserving a new block when it is used up); for a named
   * one, under the metadata lock, its id with the next epoch (or a fresh id),
   * persisted in producer-ids.json before it is returned.
   */
  #allocateProducerId(name: string | undefined): Promise<{ producerId: number; epoch: number }> {
    if (name === undefined && this.#idBlock.next < this.#idBlock.end) {
      return Promise.resolve({ producerId: this.#idBlock.next++, epoch: 0 });
    }
    const run = this.#queue.then(() =>
      withMetadataLock(this.dir, async () => {
        if (name === undefined) {
          // Another allocation queued before this one may have reserved a block.
          if (this.#idBlock.next >= this.#idBlock.end) await this.#reserveIdBlock();
          return { producerId: this.#idBlock.next++, epoch: 0 };
        }
        const { path, f } = await this.#readProducerIds();
        let id: { producerId: number; epoch: number };
        const known = f.names[name];
        if (known !== undefined && known.epoch < EPOCH_MAX) id = { producerId: known.producerId, epoch: known.epoch + 1 };
        else id = { producerId: f.nextProducerId++, epoch: 0 };
        f.names[name] = id;
        await writeJsonAtomic(path, f);
        this.#epochs.set(id.producerId, id.epoch);
        return id;
      }),
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #readProducerIds(): Promise<{ path: string; f: ProducerIdsFile }> {
    const path = join(this.dir, PRODUCER_IDS_FILE);
    const raw = (await readJsonFile(path)) as ProducerIdsFile | null;
    const f: ProducerIdsFile = raw ?? { version: METADATA_VERSION, nextProducerId: 0, names: {} };
    if (f.version !== METADATA_VERSION || !Number.isSafeInteger(f.nextProducerId) || f.nextProducerId < 0 || typeof f.names !== 'object' || f.names === null) {
      throw new CorruptMetadataError(`${path}: not a producer-ids file of version ${METADATA_VERSION}`);
    }
    return { path, f };
  }

  /** Under the metadata lock: moves the persisted counter past a new block of PRODUCER_ID_BLOCK ids, then hands them out. */
  async #reserveIdBlock(): Promise<void> {
    const { path, f } = await this.#readProducerIds();
    const start = f.nextProducerId;
    f.nextProducerId = start + PRODUCER_ID_BLOCK;
    await writeJsonAtomic(path, f);
    this.#idBlock = { next: start, end: start + PRODUCER_ID_BLOCK };
  }

  #expireProducers(): void {
    const now = Date.now();
    for (const t of this.#topics.values()) for (const p of t.partitions) p?.producerState?.expire(now);
  }
}

