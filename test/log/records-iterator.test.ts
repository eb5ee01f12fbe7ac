/**
 * Log.records() is a hand-written async iterator (not an async generator):
 * these check that it keeps the generator's protocol — lazy argument checks,
 * done after return()/throw()/an error, one record per next() — and that it
 * gives exactly what readRecords gives, with maxRecords and a start offset
 * inside a batch, when one native read holds many batches.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, Log, type LogRecord } from '../../src/index.js';
import { makeRecord, tempDir } from '../helpers.js';

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

/** A log of `batches` batches of `size` makeRecord records each. */
async function filledLog(batches: number, size: number): Promise<Log> {
  const log = await Log.open(tempDir());
  open.push(log);
  for (let b = 0; b < batches; b++) {
    const base = log.logEndOffset;
    log.appendSync(Array.from({ length: size }, (_, j) => makeRecord(base + j)));
  }
  return log;
}

const plain = (r: LogRecord) => ({ ...r, key: r.key?.toString('hex'), value: r.value?.toString('hex') });

async function collect(it: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('Log.records() iterator', () => {
  it('gives what readRecords gives, from inside a batch, across many batches per read', async () => {
    const log = await filledLog(20, 7);
    for (const [from, options] of [
      [0, undefined],
      [3, undefined],
      [10, { maxRecords: 9 }],
      [50, { maxRecords: 1 }],
      [6, { maxBytes: 1 }],
      [139, undefined],
    ] as const) {
      const got = await collect(log.records(from, options));
      const want = log.readRecords(from, { maxBytes: 1 << 30, maxRecords: options && 'maxRecords' in options ? options.maxRecords : Infinity });
      expect(got.map(plain), `from ${from} ${JSON.stringify(options)}`).toEqual(want.map(plain));
      expect(got[0].offset).toBe(from);
    }
    expect(await collect(log.records(140))).toEqual([]);
  });

  it('checks its arguments on the first next(), not when called', async () => {
    const log = await filledLog(1, 2);
    const it = log.records(-1);
    await expect(it.next()).rejects.toBeInstanceOf(InvalidArgumentError);
    // Done after the error, as a generator is.
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('return() and throw() end it; next() then reports done', async () => {
    const log = await filledLog(3, 4);
    const a = log.records(0);
    expect((await a.next()).value?.offset).toBe(0);
    expect(await a.return(undefined)).toEqual({ done: true, value: undefined });
    expect(await a.next()).toEqual({ done: true, value: undefined });

    const b = log.records(0);
    expect((await b.next()).value?.offset).toBe(0);
    const boom = new Error('stop');
    await expect(b.throw(boom)).rejects.toBe(boom);
    expect(await b.next()).toEqual({ done: true, value: undefined });

    const c = log.records(0);
    expect(c[Symbol.asyncIterator]()).toBe(c);
  });

  it('next() calls made without waiting get consecutive records', async () => {
    const log = await filledLog(2, 3);
    const it = log.records(1);
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(results.map((r) => (r.done ? 'done' : r.value.offset))).toEqual([1, 2, 3, 4, 5, 'done']);
  });
});
