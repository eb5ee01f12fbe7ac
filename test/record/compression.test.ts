/**
 * The LZ4 frames of compressed batches: ours must be what Kafka's reader
 * accepts (independent blocks, 64 KiB maximum, a correct header checksum,
 * checked here with an xxhash32 written from its specification), and we must
 * read frames written by other encoders.
 */
import { randomBytes } from 'node:crypto';
import { compressFrameSync, decompressFrameSync, uncompressSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../src/errors.js';
import { compressRecords, decompressRecords } from '../../src/record/index.js';

/** xxHash32, any length, from the specification. */
function xxh32(buf: Uint8Array, seed = 0): number {
  const P1 = 2654435761;
  const P2 = 2246822519;
  const P3 = 3266489917;
  const P4 = 668265263;
  const P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
  const u32 = (o: number) => (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0;
  const len = buf.length;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    const round = (v: number, x: number) => mul(rotl((v + mul(x, P2)) >>> 0, 13), P1);
    for (; i + 16 <= len; i += 16) {
      v1 = round(v1, u32(i));
      v2 = round(v2, u32(i + 4));
      v3 = round(v3, u32(i + 8));
      v4 = round(v4, u32(i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  for (; i + 4 <= len; i += 4) h = mul(rotl((h + mul(u32(i), P3)) >>> 0, 17), P4);
  for (; i < len; i++) h = mul(rotl((h + mul(buf[i], P5)) >>> 0, 11), P1);
  h ^= h >>> 15;
  h = mul(h, P2);
  h ^= h >>> 13;
  h = mul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Block {
  at: number;
  size: number;
  stored: boolean;
  bytes: Buffer;
}

/** Walks a frame written without block checksums: its descriptor and blocks. */
function parseFrame(frame: Buffer): { flg: number; bd: number; hc: number; blocks: Block[]; end: number } {
  expect(frame.readUInt32LE(0)).toBe(0x184d2204);
  const flg = frame[4];
  const bd = frame[5];
  let p = 6 + (flg & 0x08 ? 8 : 0);
  const hc = frame[p++];
  const blocks: Block[] = [];
  for (;;) {
    const word = frame.readUInt32LE(p);
    if (word === 0) break;
    const size = word & 0x7fffffff;
    blocks.push({ at: p, size, stored: (word & 0x80000000) !== 0, bytes: frame.subarray(p + 4, p + 4 + size) });
    p += 4 + size;
  }
  return { flg, bd, hc, blocks, end: p + 4 };
}

/** A frame built by hand: FLG, BD, optional content size, blocks, optional content checksum. */
function buildFrame(flg: number, bd: number, blocks: Buffer[], contentSize?: number, contentChecksum?: number): Buffer {
  const desc = [flg, bd];
  if (contentSize !== undefined) {
    const cs = Buffer.alloc(8);
    cs.writeBigUInt64LE(BigInt(contentSize));
    desc.push(...cs);
  }
  const hc = (xxh32(Buffer.from(desc)) >>> 8) & 0xff;
  const parts = [Buffer.from([0x04, 0x22, 0x4d, 0x18, ...desc, hc])];
  for (const b of blocks) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE((b.length | 0x80000000) >>> 0); // stored
    parts.push(size, b);
  }
  parts.push(Buffer.alloc(4));
  if (contentChecksum !== undefined) {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(contentChecksum);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

const TEXT = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"id":${i},"user":"u${i % 97}","action":"click"}`).join('\n'));

describe('xxhash32 (test helper)', () => {
  it('matches the reference vectors', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });
});

describe('compressRecords writes Kafka\'s frame', () => {
  it('FLG 0x60 (version 01, independent blocks, no checksums), BD 0x40 (64 KiB), a correct header checksum', () => {
    for (const raw of [Buffer.alloc(0), Buffer.from('x'), TEXT, randomBytes(200_000)]) {
      const frame = compressRecords(raw);
      const f = parseFrame(frame);
      expect(frame.subarray(0, 4).toString('hex')).toBe('04224d18');
      expect(f.flg).toBe(0x60);
      expect(f.flg & 0x20).toBe(0x20); // block independence
      expect(f.bd).toBe(0x40);
      expect(f.hc).toBe((xxh32(frame.subarray(4, 6)) >>> 8) & 0xff);
      expect(f.end).toBe(frame.length); // nothing after the end mark: no content checksum
      for (const b of f.blocks) expect(b.size).toBeLessThanOrEqual(65536);
    }
  });

  it('each block decompresses on its own (independent blocks), and together they are the input', () => {
    const raw = Buffer.concat([TEXT, randomBytes(140_000), Buffer.alloc(100_000, 'z')]);
    const f = parseFrame(compressRecords(raw));
    expect(f.blocks.length).toBe(Math.ceil(raw.length / 65536));
    const parts = f.blocks.map((b) => {
      if (b.stored) return b.bytes;
      const packed = Buffer.alloc(4 + b.size);
      packed.writeUInt32LE(65536, 0);
      b.bytes.copy(packed, 4);
      return uncompressSync(packed);
    });
    expect(Buffer.concat(parts).equals(raw)).toBe(true);
    expect(f.blocks.some((b) => b.stored)).toBe(true); // random bytes do not shrink: stored
    expect(f.blocks.some((b) => !b.stored)).toBe(true);
  });

  it('an independent decoder (lz4_flex\'s frame decoder) reads our frames', () => {
    for (const raw of [Buffer.alloc(0), TEXT, randomBytes(150_000)]) {
      expect(decompressFrameSync(compressRecords(raw)).equals(raw)).toBe(true);
    }
  });

  it('compresses text', () => {
    expect(compressRecords(TEXT).length).toBeLessThan(TEXT.length / 3);
  });
});

describe('decompressRecords reads frames from other encoders', () => {
  it('lz4_flex frames: default, with a content checksum, with block checksums', () => {
    for (const raw of [TEXT, randomBytes(300_000), Buffer.from('tiny')]) {
      for (const options of [undefined, { contentChecksum: true }, { blockChecksums: true }, { contentChecksum: true, blockChecksums: true }]) {
        expect(decompressRecords(compressFrameSync(raw, options)).equals(raw), JSON.stringify(options)).toBe(true);
      }
    }
  });

  it('frames with a content size, dependent blocks or a content checksum, built by hand', () => {
    const a = Buffer.from('hello, ');
    const b = Buffer.from('world');
    const all = Buffer.concat([a, b]);
    expect(decompressRecords(buildFrame(0x60, 0x40, [a, b])).toString()).toBe('hello, world');
    expect(decompressRecords(buildFrame(0x68, 0x70, [a, b], 12)).toString()).toBe('hello, world');
    expect(decompressRecords(buildFrame(0x40, 0x40, [a, b])).toString()).toBe('hello, world'); // dependent blocks
    expect(decompressRecords(buildFrame(0x64, 0x40, [a, b], undefined, xxh32(all))).toString()).toBe('hello, world');
  });

  it('rejects damaged or foreign frames with CorruptRecordError saying what is wrong', () => {
    const good = buildFrame(0x60, 0x40, [Buffer.from('abc')]);
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('04224d', 'hex'), /shorter than the 7-byte minimum header/],
      [Buffer.concat([Buffer.from('05224d18', 'hex'), good.subarray(4)]), /magic 05224d18 is not 04224d18/],
      [buildFrame(0xa0, 0x40, []), /unsupported version 2/],
      [buildFrame(0x62, 0x40, []), /reserved bits set/],
      [buildFrame(0x60, 0x41, []), /reserved bits set/],
      [buildFrame(0x61, 0x40, []), /dictionary/],
      [buildFrame(0x60, 0x30, []), /invalid maximum block size id 3/],
      [Buffer.concat([good.subarray(0, 6), Buffer.from([good[6] ^ 1]), good.subarray(7)]), /header checksum 0x[0-9a-f]+ does not match/],
      [good.subarray(0, good.length - 1), /truncated at position/],
      [good.subarray(0, 12), /runs past the end of the frame/],
      [Buffer.concat([good, Buffer.from([0])]), /the frame ends at position 18 but 19 bytes were given/],
      [buildFrame(0x68, 0x40, [Buffer.from('abc')], 4), /declares 4 bytes of content but holds 3/],
      [buildFrame(0x64, 0x40, [Buffer.from('abc')], undefined, 12345), /cannot be decompressed/],
      [buildFrame(0x60, 0x40, [Buffer.alloc(65537)]), /is 65537 bytes, over the frame's 65536-byte maximum/],
    ];
    for (const [frame, message] of cases) {
      let caught: unknown;
      try {
        decompressRecords(frame);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(message)).toBeInstanceOf(CorruptRecordError);
      expect((caught as Error).message, String(message)).toMatch(/^LZ4 frame: /);
      expect((caught as Error).message).toMatch(message);
    }
  });

  it('a compressed block whose data is garbage is CorruptRecordError', () => {
    const frame = compressRecords(TEXT);
    const bad = Buffer.from(frame);
    for (let i = 20; i < 60; i++) bad[i] = 0xff;
    expect(() => decompressRecords(bad)).toThrow(CorruptRecordError);
  });
});
