/**
 * The stable error codes: src/errors.ts lists every code a TidelogError can
 * carry (ERROR_CODES, shared with native, and TS_ERROR_CODES, which include
 * the store's and the producer's), and every error class tidelog exports uses
 * a listed code of its own.
 */
import { describe, expect, it } from 'vitest';
import * as tidelog from '../../src/index.js';
import { ERROR_CODES, STORE_ERROR_CODES, TS_ERROR_CODES, TidelogError } from '../../src/index.js';
import * as storeErrors from '../../src/store-errors.js';

const exportedErrorClasses = () =>
  Object.entries(tidelog).filter(
    ([, v]) => typeof v === 'function' && v !== TidelogError && (v as { prototype?: unknown }).prototype instanceof TidelogError,
  ) as [string, new (...args: unknown[]) => TidelogError][];

describe('stable error codes', () => {
  it('the lists hold each code once, and the store and producer codes are among the TypeScript ones', () => {
    const all = [...ERROR_CODES, ...TS_ERROR_CODES];
    expect(new Set(all).size).toBe(all.length);
    for (const code of STORE_ERROR_CODES) expect(TS_ERROR_CODES).toContain(code);
    expect(STORE_ERROR_CODES).toEqual(
      expect.arrayContaining(['UNKNOWN_TOPIC', 'TOPIC_EXISTS', 'CONFLICT', 'OUT_OF_ORDER_SEQUENCE', 'PRODUCER_FENCED', 'BUFFER_FULL']),
    );
    // src/store-errors.ts exports the same list (one definition).
    expect(storeErrors.STORE_ERROR_CODES).toBe(STORE_ERROR_CODES);
  });

  it('every exported error class carries a listed code, its own', () => {
    const listed = new Set<string>([...ERROR_CODES, ...TS_ERROR_CODES]);
    const byCode = new Map<string, string>();
    const classes = exportedErrorClasses();
    expect(classes.length).toBeGreaterThanOrEqual(20);
    for (const [name, Ctor] of classes) {
      const err = Reflect.construct(Ctor, ['t', 'message', 1, 2]) as TidelogError;
      expect(err).toBeInstanceOf(TidelogError);
      expect(listed.has(err.code), `${name}: ${err.code}`).toBe(true);
      expect(byCode.get(err.code), `${name} shares ${err.code}`).toBeUndefined();
      byCode.set(err.code, name);
    }
    // Every store and producer code has its class.
    for (const code of STORE_ERROR_CODES) expect(byCode.has(code), code).toBe(true);
  });

  it('store errors name their code and keep their details', () => {
    const conflict = new tidelog.ConflictError('orders', 3, 10, 12);
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict).toMatchObject({ topic: 'orders', partition: 3, expectedOffset: 10, actualOffset: 12 });
    expect(new tidelog.BufferFullError('full').retriable).toBe(true);
    expect(new tidelog.UnknownTopicError('t', 'no such topic').code).toBe('UNKNOWN_TOPIC');
  });
});
