// The standard input of every workload (DESIGN §6), generated in memory BEFORE
// any timing starts, the same way in every child process:
//
//   n records (default 1,000,000), each { key, value, timestamp }
//   key:       16 bytes, ASCII "key-" + 12 zero-padded digits, one of 100,000
//              distinct keys, drawn uniformly at random (seeded)
//   value:     100 bytes; record i's value is a view of bytes [100 i, 100 i + 100)
//              of ONE pool filled by a seeded PRNG: incompressible, never shared
//   timestamp: ms; T0 + floor(i / 10) (10 records per millisecond, non-decreasing),
//              T0 chosen so the last record is "now" when the data is generated
//
// Payload = 16 + 100 + 8 = 124 bytes per record.
//
// The compressible variant (for the lz4 workloads) has the same keys and
// timestamps; its values are 100 bytes of words drawn from a 64-word
// dictionary, separated by spaces (LZ4 shrinks a batch of them to ~45 %).
//
// Keys, values and records are allocated once; batches are slices of the
// records array, also made before timing.

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;
export const TIMESTAMP_BYTES = 8;
export const PAYLOAD_BYTES = KEY_BYTES + VALUE_BYTES + TIMESTAMP_BYTES; // 124
export const DISTINCT_KEYS = 100_000;
export const RECORDS_PER_MS = 10;
export const STANDARD_RECORDS = 1_000_000;
export const QUICK_RECORDS = 100_000;

/** sfc32: a small, fast, seeded PRNG; returns uint32. */
export function rng(seed) {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** A uniform integer in [0, n) from a uint32 source. */
export function below(next, n) {
  return Math.floor((next() / 4294967296) * n);
}

/** Fills `buf` with PRNG bytes (4 at a time). */
function fillRandom(buf, next) {
  const words = Math.floor(buf.length / 4);
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, words);
  for (let i = 0; i < words; i++) u32[i] = next();
  for (let i = words * 4; i < buf.length; i++) buf[i] = next() & 0xff;
}

/** The 100,000 distinct 16-byte keys, as views of one pool. */
export function makeKeys(distinct = DISTINCT_KEYS) {
  const pool = Buffer.allocUnsafeSlow(distinct * KEY_BYTES);
  const keys = new Array(distinct);
  for (let k = 0; k < distinct; k++) {
    pool.write(`key-${String(k).padStart(KEY_BYTES - 4, '0')}`, k * KEY_BYTES, 'latin1');
    keys[k] = pool.subarray(k * KEY_BYTES, (k + 1) * KEY_BYTES);
  }
  return keys;
}

const WORDS = (
  'order customer payment shipped created updated pending failed retry account balance ' +
  'deposit withdraw invoice total amount currency euro dollar status active closed open ' +
  'item quantity price sku warehouse region north south east west user session login ' +
  'logout event stream topic partition offset record value key header source web mobile ' +
  'api batch commit sync durable written none true false null id ts cart refund email'
).split(' ');
if (WORDS.length !== 64) throw new Error(`bench/lib/data.js: the dictionary must hold 64 words, has ${WORDS.length}`);

/** A pool of n values of 100 bytes: random (incompressible) or words (compressible). */
function makeValuePool(n, compressible, next) {
  const pool = Buffer.allocUnsafeSlow(n * VALUE_BYTES);
  if (!compressible) {
    fillRandom(pool, next);
    return pool;
  }
  let pos = 0;
  const end = pool.length;
  while (pos < end) {
    const w = WORDS[next() & 63];
    pos += pool.write(w, pos, 'latin1');
    if (pos < end) pool[pos++] = 0x20;
  }
  return pool;
}

/**
 * Generates the standard data. Returns { records, t0, tLast, keys } where
 * records[i] = { key, value, timestamp }.
 */
export function makeData(n = STANDARD_RECORDS, { compressible = false, seed = 0x7d1e } = {}) {
  const next = rng(seed);
  const keys = makeKeys();
  const pool = makeValuePool(n, compressible, rng(seed ^ 0x5a5a5a5a));
  const t0 = Date.now() - Math.ceil(n / RECORDS_PER_MS);
  const records = new Array(n);
  for (let i = 0; i < n; i++) {
    records[i] = {
      key: keys[below(next, keys.length)],
      value: pool.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
      timestamp: t0 + Math.floor(i / RECORDS_PER_MS),
    };
  }
  return { records, t0, tLast: records[n - 1].timestamp, keys };
}

/** records cut into arrays of `size` (the last may be shorter). */
export function batchesOf(records, size) {
  const out = [];
  for (let i = 0; i < records.length; i += size) out.push(records.slice(i, i + size));
  return out;
}

/** The same records as producer SendRecords { topic, key, value, timestamp }. */
export function asSendRecords(records, topic) {
  const out = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    out[i] = { topic, key: r.key, value: r.value, timestamp: r.timestamp };
  }
  return out;
}
