/**
 * murmur2 and the partition of a key must match Kafka's Java client bit for
 * bit, so that a key lands on the same partition number as in Kafka.
 */
import { describe, expect, it } from 'vitest';
import { StickyPartition, murmur2, murmur2Key, partitionForKey, toPositive } from '../../src/partitioner.js';
import { decodeBatch, encodeBatch } from '../../src/record/index.js';

describe('murmur2', () => {
  it("matches Kafka's UtilsTest.testMurmur2 vectors", () => {
    // clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, h] of cases) {
      expect(murmur2(Buffer.from(s))).toBe(h);
      expect(murmur2Key(s)).toBe(h);
      expect(murmur2Key(new Uint8Array(Buffer.from(s)))).toBe(h);
    }
  });

  it('matches hashes computed with Kafka Utils.murmur2 by other clients (every tail length)', () => {
    // Akka's Murmur2Spec, "expected correct hash values from the kafka murmur2 impl"
    const cases: [string, number][] = [
      ['1', -1993445489],
      ['12', 126087238],
      ['123', -267702483],
      ['1234', -1614185708],
      ['12345', -1188365604],
    ];
    for (const [s, h] of cases) expect(murmur2Key(s)).toBe(h);
  });

  it('hashes a byte range of a larger buffer like the bytes alone', () => {
    const key = Buffer.from('a-little-bit-long-string');
    const wrapped = Buffer.concat([Buffer.from([1, 2, 3]), key, Buffer.from([9, 9])]);
    expect(murmur2(wrapped, 3, 3 + key.length)).toBe(-985981536);
  });

  it('hashes the UTF-8 bytes of a string key', () => {
    for (const s of ['é', '日本語のキー', '😀 emoji', 'x'.repeat(5000) + 'ü']) {
      expect(murmur2Key(s)).toBe(murmur2(Buffer.from(s, 'utf8')));
    }
  });
});

describe('partitionForKey', () => {
  it('is toPositive(murmur2(key)) % n, with toPositive clearing the sign bit (not abs)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
    // murmur2('21') = -973932308: toPositive = 1173551340 (abs would give 973932308).
    expect(partitionForKey('21', 1000)).toBe(1173551340 % 1000);
    expect(partitionForKey('21', 1000)).not.toBe(973932308 % 1000);
  });

  it("matches kafka-python's Java-compatibility vectors for 1000 partitions", () => {
    // kafka-python test_partitioner.py test_murmur2_java_compatibility:
    // "compare with output from Kafka's org.apache.kafka.clients.producer.Partitioner"
    const cases: [Buffer, number][] = [
      [Buffer.from(''), 681],
      [Buffer.from('a'), 524],
      [Buffer.from('ab'), 434],
      [Buffer.from('abc'), 107],
      [Buffer.from('123456789'), 566],
      [Buffer.from([0x00, 0x20]), 742],
    ];
    for (const [key, p] of cases) expect(partitionForKey(key, 1000)).toBe(p);
  });

  it('is stable for the same key (DefaultPartitionerTest.testKeyPartitionIsStable)', () => {
    const p = partitionForKey('key', 3);
    for (let i = 0; i < 10; i++) expect(partitionForKey(Buffer.from('key'), 3)).toBe(p);
  });
});

describe('StickyPartition', () => {
  it('keeps a partition until stickyBytes were assigned, then switches (BuiltInPartitionerTest.testStickyPartitioning)', () => {
    let n = 0;
    const sticky = new StickyPartition(3, () => ((n++ % 3) + 0.5) / 3);
    const first = sticky.choose(3, 1);
    expect(sticky.choose(3, 1)).toBe(first);
    expect(sticky.choose(3, 1)).toBe(first);
    expect(sticky.choose(3, 1)).not.toBe(first);
  });

  it('switches after its batch was sent, to a different partition when there is more than one', () => {
    const sticky = new StickyPartition(1 << 30);
    for (let i = 0; i < 100; i++) {
      const p = sticky.choose(5, 10);
      expect(sticky.choose(5, 10)).toBe(p);
      sticky.batchSent(p);
      expect(sticky.choose(5, 10)).not.toBe(p);
    }
  });

  it('works with one partition', () => {
    const sticky = new StickyPartition(1);
    for (let i = 0; i < 10; i++) {
      expect(sticky.choose(1, 100)).toBe(0);
      sticky.batchSent(0);
    }
  });

  it('spreads unkeyed records over every partition', () => {
    const sticky = new StickyPartition(100);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(sticky.choose(4, 50));
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('murmur2Key on strings', () => {
  it('hashes ASCII strings of every length, and strings with non-ASCII anywhere, like their UTF-8 bytes', () => {
    for (let n = 0; n < 40; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 37) % 95))).join('');
      expect(murmur2Key(ascii)).toBe(murmur2(Buffer.from(ascii, 'utf8')));
      for (const at of [0, n >> 1, n - 1]) {
        if (n === 0) continue;
        const mixed = ascii.slice(0, at) + 'é' + ascii.slice(at + 1);
        expect(murmur2Key(mixed)).toBe(murmur2(Buffer.from(mixed, 'utf8')));
      }
    }
    expect(murmur2Key('\x7f\x00')).toBe(murmur2(Buffer.from([0x7f, 0])));
  });
});

describe('string keys and values', () => {
  // The producer measures strings with Buffer.byteLength and writes them with a
  // JS loop (short ASCII) or utf8Write (the rest); lone surrogates become U+FFFD.
  it('are stored as their UTF-8 bytes, as Buffer.from(s) gives them, lone surrogates included', () => {
    const samples = ['', 'abc', 'é', '日本', '😀', 'a😀b', '\ud800', '\udc00x', 'x\ud800', '\ud800\ud800\udc00', 'ß'.repeat(70), '😀'.repeat(40), 'k'.repeat(32), 'k'.repeat(33)];
    for (let i = 0; i < 2000; i++) {
      const ascii = i % 2 === 0;
      const len = 1 + (i % 40);
      samples.push(String.fromCharCode(...Array.from({ length: len }, (_, j) => (ascii ? 0x20 + ((i * 31 + j) % 95) : (i * 7919 + j * 104729) % 0x10000))));
    }
    const records = samples.map((s, i) => ({ key: s, value: samples[(i + 1) % samples.length], headers: [{ key: s, value: s }], timestamp: 1 }));
    const plain = samples.map((s, i) => ({ key: s, value: samples[(i + 1) % samples.length], timestamp: 1 })); // the fast path (no headers)
    for (const batch of [records, plain]) {
      const decoded = decodeBatch(encodeBatch(batch));
      expect(decoded.length).toBe(batch.length);
      decoded.forEach((r, i) => {
        expect(r.key?.equals(Buffer.from(batch[i].key, 'utf8')), JSON.stringify(batch[i].key)).toBe(true);
        expect(r.value?.equals(Buffer.from(batch[i].value, 'utf8'))).toBe(true);
      });
    }
    for (const s of samples) expect(murmur2Key(s)).toBe(murmur2(Buffer.from(s, 'utf8')));
  });
});
