// Deterministic record content for the crash tests, shared by the child
// writer processes (plain ESM: they run under `node`, not vitest) and the
// parent tests that verify what survived.
//
// The content of a record is a pure function of (tag, offset): the writer
// derives it from the offset the log is about to assign, and the verifier
// regenerates it from the model of which tag wrote which offset. The tag names
// a "write generation" (writer process + truncation epoch), so a record that a
// completed truncation removed and that was later rewritten at the same offset
// has different bytes: a resurrected record is caught.

/** FNV-1a over a string, as an unsigned 32-bit seed. */
export function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BASE_TIMESTAMP = 1_700_000_000_000;

/**
 * The record written at `offset` by write generation `tag`: a ProducerRecord
 * ({ key, value, headers?, timestamp }) with Buffers for key and value.
 * Values are 0..maxValueBytes bytes, half of them compressible text (so lz4
 * batches really shrink), half pseudo-random bytes; ~3% are tombstones.
 */
export function recordFor(tag, offset, maxValueBytes = 600) {
  const r = rng(hash32(`${tag}/${offset}`));
  const prefix = Buffer.from(`${tag}@${offset}|`);
  let value;
  if (r() < 0.03) {
    value = null;
  } else {
    const len = Math.floor(r() * maxValueBytes);
    const body = Buffer.alloc(len);
    if (r() < 0.5) {
      const word = Buffer.from(`${tag}:${offset % 13};`);
      for (let i = 0; i < len; i++) body[i] = word[i % word.length];
    } else {
      for (let i = 0; i < len; i++) body[i] = Math.floor(r() * 256);
    }
    value = Buffer.concat([prefix, body]);
  }
  const key = r() < 0.1 ? null : Buffer.from(`k${offset % 97}`);
  const rec = { key, value, timestamp: BASE_TIMESTAMP + offset };
  if (r() < 0.2) rec.headers = [{ key: 'gen', value: Buffer.from(tag) }];
  return rec;
}
