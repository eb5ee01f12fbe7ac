/**
 * Bad input to the encoder and decoders: each kind raises the right error
 * class, with a message naming the record, the field and what was wrong.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, RecordTooLargeError, TidelogError } from '../../src/errors.js';
import {
  BatchEncoder,
  decodeBatch,
  decodeBatches,
  decodeRecordBody,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
  verifyBatchCrc,
} from '../../src/record/index.js';
import type { EncodeOptions } from '../../src/record/index.js';
import type { ProducerRecord } from '../../src/record/types.js';

type Encode = (records: readonly ProducerRecord[], options?: EncodeOptions) => Buffer;
const encoder = new BatchEncoder(128);
const ENCODERS: [string, Encode][] = [
  ['encodeBatch', encodeBatch],
  ['BatchEncoder#encode', (r, o) => encoder.encode(r, o)],
];

/** Calls fn, expecting it to throw an instance of `cls`; returns the message. */
function thrown(fn: () => unknown, cls: new (...args: never[]) => TidelogError): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    return (err as Error).message;
  }
  throw new Error('expected a throw');
}

const ok = { key: 'k', value: 'v', timestamp: 1 };
// Records typed loosely on purpose: these are what a JS caller could pass.
const bad = (r: unknown) => [ok, ok, r] as unknown as ProducerRecord[];

describe.each(ENCODERS)('%s rejects bad records', (_name, encode) => {
  it('records that are not a non-empty array', () => {
    expect(thrown(() => encode('x' as unknown as ProducerRecord[]), InvalidArgumentError)).toMatch(
      /records must be an array of records, got "x"/,
    );
    expect(thrown(() => encode([]), InvalidArgumentError)).toMatch(/records must not be empty/);
  });

  it('a record that is not an object', () => {
    for (const r of [null, undefined, 5, 'str']) {
      expect(thrown(() => encode(bad(r)), InvalidArgumentError)).toMatch(/^record 2 must be an object \{ key\?, value, headers\?, timestamp\? \}, got /);
    }
  });

  it('a key of the wrong type', () => {
    expect(thrown(() => encode(bad({ key: 5, value: 'v' })), InvalidArgumentError)).toBe(
      'record 2: key must be a Buffer, Uint8Array, string or null, got number 5',
    );
    for (const key of [true, {}, [1, 2], new ArrayBuffer(2), new Uint16Array(2), new DataView(new ArrayBuffer(1)), 5n]) {
      expect(thrown(() => encode(bad({ key, value: 'v' })), InvalidArgumentError)).toMatch(/^record 2: key must be a Buffer, Uint8Array, string or null, got /);
    }
  });

  it('a value that is missing or of the wrong type (undefined is not null for values)', () => {
    expect(thrown(() => encode(bad({ key: 'k' })), InvalidArgumentError)).toBe(
      'record 2: value must be a Buffer, Uint8Array, string or null, got undefined',
    );
    expect(thrown(() => encode(bad({ value: 1.5 })), InvalidArgumentError)).toMatch(/^record 2: value must be .* got number 1\.5$/);
    expect(thrown(() => encode(bad({ value: { data: 'x' } })), InvalidArgumentError)).toMatch(/^record 2: value must be .* got object$/);
  });

  it('headers of the wrong shape', () => {
    expect(thrown(() => encode(bad({ value: 'v', headers: 'h' })), InvalidArgumentError)).toBe(
      'record 2: headers must be an array or an object, got "h"',
    );
    expect(thrown(() => encode(bad({ value: 'v', headers: [null] })), InvalidArgumentError)).toBe(
      'record 2: headers[0] must be an object { key, value }, got null',
    );
    expect(
      thrown(() => encode(bad({ value: 'v', headers: [{ key: 'a', value: 'b' }, { key: 7, value: 'b' }] })), InvalidArgumentError),
    ).toBe('record 2: headers[1].key must be a string, got number 7');
    expect(thrown(() => encode(bad({ value: 'v', headers: [{ key: Buffer.from('a'), value: 'b' }] })), InvalidArgumentError)).toMatch(
      /^record 2: headers\[0\]\.key must be a string, got object$/,
    );
    expect(thrown(() => encode(bad({ value: 'v', headers: [{ key: 'a' }] })), InvalidArgumentError)).toBe(
      'record 2: headers[0].value must be a Buffer, Uint8Array, string or null, got undefined',
    );
    expect(thrown(() => encode(bad({ value: 'v', headers: { ok: 'x', n: 12 } })), InvalidArgumentError)).toBe(
      'record 2: headers["n"] must be a Buffer, Uint8Array, string or null, got number 12',
    );
  });

  it('timestamps that are not non-negative safe integers', () => {
    for (const timestamp of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, '123', 5n, null, new Date(0)]) {
      expect(thrown(() => encode(bad({ value: 'v', timestamp })), InvalidArgumentError)).toMatch(
        /^record 2: timestamp must be a non-negative safe integer \(ms\), got /,
      );
    }
  });

  it('a record over maxRecordBytes: RecordTooLargeError with the index and the sizes', () => {
    const big = Buffer.alloc(2000);
    const msg = thrown(() => encode(bad({ value: big, timestamp: 1 }), { maxRecordBytes: 1000 }), RecordTooLargeError);
    expect(msg).toMatch(/^record 2 is 2009 bytes encoded \(2070 bytes in a batch of its own\), over maxRecordBytes 1000/);
    expect(msg).toMatch(/value 2000 bytes/);
    // The default is 1 MiB.
    expect(thrown(() => encode([{ value: Buffer.alloc(1024 * 1024) }]), RecordTooLargeError)).toMatch(/over maxRecordBytes 1048576/);
    // A record whose batch of one is exactly maxRecordBytes fits.
    const exact = encode([{ value: Buffer.alloc(2000), timestamp: 1 }], { maxRecordBytes: 2070 });
    expect(exact.length).toBe(2070);
    expect(thrown(() => encode([{ value: Buffer.alloc(2001), timestamp: 1 }], { maxRecordBytes: 2070 }), RecordTooLargeError)).toMatch(
      /^record 0 is 2010 bytes encoded/,
    );
    // 0: no limit.
    expect(encode([{ value: Buffer.alloc(2 * 1024 * 1024), timestamp: 1 }], { maxRecordBytes: 0 }).length).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('in a large batch (the fast loops) too, the error names the first bad record, whatever is wrong with it', () => {
    const many = (bad: Record<number, unknown>) =>
      Array.from({ length: 40 }, (_, i) => (i in bad ? bad[i] : { key: Buffer.from(`k${i}`), value: `v${i}`, timestamp: i })) as ProducerRecord[];
    const cases: [Record<number, unknown>, string | RegExp][] = [
      [{ 15: { key: 5, value: 'v' } }, 'record 15: key must be a Buffer, Uint8Array, string or null, got number 5'],
      [{ 15: { key: 'k' } }, 'record 15: value must be a Buffer, Uint8Array, string or null, got undefined'],
      [{ 15: { value: 'v', timestamp: -1 } }, /^record 15: timestamp must be a non-negative safe integer/],
      [{ 15: 7 }, /^record 15 must be an object/],
      [{ 15: { value: 'v', headers: 'h' } }, 'record 15: headers must be an array or an object, got "h"'],
      // The first bad record wins, whichever fast loop would see the other first.
      [{ 12: { key: 5, value: 'v' }, 30: { value: 'v', timestamp: 'x' } }, /^record 12: key/],
      [{ 30: { key: 5, value: 'v' }, 12: { value: 'v', timestamp: 'x' } }, /^record 12: timestamp/],
      [{ 3: { value: 1 }, 10: null }, /^record 3: value/],
      [{ 3: null, 10: { value: 1 } }, /^record 3 must be an object/],
      [{ 20: { value: 'v', headers: [{ key: 1, value: 'x' }] }, 25: { key: {}, value: 'v' } }, /^record 20: headers\[0\]\.key must be a string/],
    ];
    for (const [bad, message] of cases) {
      const msg = thrown(() => encode(many(bad)), InvalidArgumentError);
      if (typeof message === 'string') expect(msg).toBe(message);
      else expect(msg).toMatch(message);
    }
    const big = many({ 33: { value: Buffer.alloc(2000), timestamp: 33 } });
    expect(thrown(() => encode(big, { maxRecordBytes: 1000 }), RecordTooLargeError)).toMatch(/^record 33 is \d+ bytes encoded/);
    // And good ones still encode, every path alike.
    expect(decodeBatch(encode(many({ 7: { value: null, headers: { h: 'x' } } }))).map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('reads each record\'s key, value, timestamp and headers once: getters that would answer differently later do not matter', () => {
    for (const [first, then] of [
      ['a much longer value', 'short'],
      ['short', 'a much longer value'],
      [Buffer.from('abc'), Buffer.alloc(5)],
      [Buffer.alloc(5), 'abcde'.repeat(2)],
      [null, 'x'],
    ]) {
      const calls = { key: 0, value: 0, timestamp: 0, headers: 0 };
      const record = {
        get key() {
          return calls.key++ === 0 ? 'k1' : 'another key';
        },
        get value() {
          return calls.value++ === 0 ? first : then;
        },
        get timestamp() {
          return calls.timestamp++ === 0 ? 7 : -1;
        },
        get headers() {
          return calls.headers++ === 0 ? [{ key: 'h', value: 'hv' }] : 'not headers';
        },
      };
      const [decoded] = decodeBatch(encode(bad(record))).slice(2);
      expect(calls).toEqual({ key: 1, value: 1, timestamp: 1, headers: 1 });
      expect(decoded.key?.toString()).toBe('k1');
      expect(decoded.value === null ? null : decoded.value.toString()).toBe(first === null ? null : first.toString());
      expect(decoded.timestamp).toBe(7);
      expect(decoded.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h', 'hv']]);
    }
  });

  it('reads each header entry once too (array and object headers)', () => {
    let reads = 0;
    const entry = {
      key: 'h',
      get value() {
        return reads++ === 0 ? 'first' : 'a different, longer value';
      },
    };
    const asObject = {
      get h2() {
        reads++;
        return Buffer.from('obj');
      },
    };
    const [a, b] = decodeBatch(encode([{ value: 'v', headers: [entry], timestamp: 1 }, { value: 'w', headers: asObject, timestamp: 1 }]));
    expect(reads).toBe(2);
    expect(a.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h', 'first']]);
    expect(b.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h2', 'obj']]);
  });

  it('a value whose resizable ArrayBuffer a getter of a later record resizes after it was measured', () => {
    const ab = new ArrayBuffer(4, { maxByteLength: 64 });
    const tracking = new Uint8Array(ab); // length-tracking: follows resize()
    const resizer = {
      key: 'h',
      get value() {
        ab.resize(9); // record 2's value was measured (4 bytes) before record 3's headers are read
        return 'x';
      },
    };
    const records = [ok, ok, { value: tracking }, { value: 'v', headers: [resizer] }] as unknown as ProducerRecord[];
    expect(thrown(() => encode(records), InvalidArgumentError)).toBe('record 2: value changed while the batch was being encoded');
  });
});

describe('encode options', () => {
  it('rejects unknown options, with a suggestion', () => {
    expect(thrown(() => encodeBatch([ok], { compresion: 'lz4' } as EncodeOptions), InvalidArgumentError)).toBe(
      "unknown encode option 'compresion' (did you mean 'compression'?)",
    );
  });

  it('rejects options of the wrong type or range, naming them', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ compression: 'gzip' }, /^option compression must be 'none' or 'lz4', got "gzip"$/],
      [{ baseOffset: -1 }, /^option baseOffset must be an integer in \[0, 9007199254740991\], got number -1$/],
      [{ baseOffset: 1.5 }, /^option baseOffset must be an integer/],
      [{ now: -5 }, /^option now must be an integer/],
      [{ baseTimestamp: 'x' }, /^option baseTimestamp must be an integer/],
      [{ producerId: -2 }, /^option producerId must be an integer in \[-1, /],
      [{ producerEpoch: 40_000 }, /^option producerEpoch must be an integer in \[-1, 32767\], got number 40000$/],
      [{ baseSequence: 2 ** 31 }, /^option baseSequence must be an integer in \[-1, 2147483647\]/],
      [{ partitionLeaderEpoch: -2 }, /^option partitionLeaderEpoch must be an integer/],
      [{ transactional: 'yes' }, /^option transactional must be a boolean, got "yes"$/],
      [{ control: 1 }, /^option control must be a boolean, got number 1$/],
      [{ maxRecordBytes: -1 }, /^option maxRecordBytes must be an integer in \[0, 2147483647\]/],
      [{ computeCrc: null }, /^option computeCrc must be a boolean, got null$/],
    ];
    for (const [options, message] of cases) {
      expect(thrown(() => encodeBatch([ok], options as EncodeOptions), InvalidArgumentError)).toMatch(message);
      expect(thrown(() => encoder.encode([ok], options as EncodeOptions), InvalidArgumentError)).toMatch(message);
    }
    expect(thrown(() => encodeBatch([ok], 'lz4' as unknown as EncodeOptions), InvalidArgumentError)).toBe(
      'encode options must be an object, got "lz4"',
    );
  });

  it('does not modify the caller\'s options or records', () => {
    const options = Object.freeze({ compression: 'lz4' as const, now: 5 });
    const records = Object.freeze([Object.freeze({ value: 'x', headers: Object.freeze([Object.freeze({ key: 'a', value: 'b' })]) })]);
    expect(decodeBatch(encodeBatch(records, options))[0].timestamp).toBe(5);
  });

  it('BatchEncoder refuses to be reentered (from a getter), and works afterwards', () => {
    const enc = new BatchEncoder();
    const reentering = {
      get value() {
        enc.encode([ok]);
        return 'v';
      },
    };
    expect(thrown(() => enc.encode([reentering as ProducerRecord]), InvalidArgumentError)).toBe(
      'BatchEncoder: encode() called again while it was encoding',
    );
    expect(decodeBatch(enc.encode([ok]))[0].value?.toString()).toBe('v');
  });

  it('BatchEncoder rejects a bad initial size', () => {
    expect(thrown(() => new BatchEncoder(-1), InvalidArgumentError)).toBe(
      'BatchEncoder: initialBytes must be a non-negative integer, got number -1',
    );
  });
});

describe('decoder arguments', () => {
  const batch = encodeBatch([ok]);

  it('bytes that are not a Buffer or Uint8Array', () => {
    expect(thrown(() => decodeBatch('x' as unknown as Uint8Array), InvalidArgumentError)).toBe(
      'decodeBatch: bytes must be a Buffer or Uint8Array, got "x"',
    );
    expect(thrown(() => decodeBatches(null as unknown as Uint8Array), InvalidArgumentError)).toMatch(/^decodeBatches: bytes must be/);
    expect(thrown(() => readBatchHeader([1, 2] as unknown as Uint8Array), InvalidArgumentError)).toMatch(/^readBatchHeader: bytes/);
    expect(thrown(() => verifyBatchCrc({} as unknown as Uint8Array), InvalidArgumentError)).toMatch(/^verifyBatchCrc: bytes/);
    expect(thrown(() => iterateBatches(5 as unknown as Uint8Array).next(), InvalidArgumentError)).toMatch(/^iterateBatches: bytes/);
  });

  it('positions, offsets, into and maxRecords of the wrong type', () => {
    expect(thrown(() => readBatchHeader(batch, -1), InvalidArgumentError)).toBe(
      'readBatchHeader: position must be a non-negative integer, got number -1',
    );
    expect(thrown(() => verifyBatchCrc(batch, 0.5), InvalidArgumentError)).toMatch(/^verifyBatchCrc: position/);
    expect(thrown(() => decodeBatch(batch, {} as unknown as []), InvalidArgumentError)).toBe(
      'decodeBatch: into must be an array, got object',
    );
    expect(thrown(() => decodeBatch(batch, [], Number.NaN), InvalidArgumentError)).toBe(
      'decodeBatch: fromOffset must be a number, got number NaN',
    );
    expect(thrown(() => decodeBatches(batch, [], 0, -1), InvalidArgumentError)).toMatch(/^decodeBatches: maxRecords must be/);
  });

  it('decodeRecordBody with a bad scratch or body length', () => {
    const scratch = Buffer.alloc(100);
    expect(thrown(() => decodeRecordBody(new Uint8Array(100) as Buffer, 5), InvalidArgumentError)).toMatch(/scratch must be a Buffer/);
    for (const n of [0, -1, 40, 1.5]) {
      expect(thrown(() => decodeRecordBody(scratch, n), InvalidArgumentError)).toMatch(
        /^decodeRecordBody: bodyLength must be an integer in \[1, 39\]/,
      );
    }
  });
});
