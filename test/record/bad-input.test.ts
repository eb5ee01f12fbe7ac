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

  it('records whose bytes change size between the two passes (getters)', () => {
    const shifty = (first: unknown, then: unknown) => {
      let calls = 0;
      return {
        get value() {
          return calls++ === 0 ? first : then;
        },
      };
    };
    for (const [first, then] of [
      ['a much longer value', 'short'],
      ['short', 'a much longer value'],
      [Buffer.alloc(3), Buffer.alloc(5)],
      [Buffer.alloc(5), 'abcde'.repeat(2)],
      [null, 'x'],
    ]) {
      expect(thrown(() => encode(bad(shifty(first, then))), InvalidArgumentError)).toBe(
        'record 2: value changed while the batch was being encoded',
      );
      const header = Object.assign(shifty(first, then), { key: 'h' }); // keeps the getter
      const inHeader = { value: 'v', headers: [header] };
      expect(thrown(() => encode(bad(inHeader)), InvalidArgumentError)).toBe(
        'record 2: headers[0].value changed while the batch was being encoded',
      );
    }
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
