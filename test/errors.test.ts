import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { ERROR_CODES, TidelogError, errorFromNative } from '../src/errors.js';
import { native } from '../src/native.js';

describe('error codes', () => {
  it('the native list of codes is the TypeScript list, in the same order', () => {
    expect(native.errorCodes()).toEqual([...ERROR_CODES]);
  });

  it('every native code except OK maps to its own TidelogError subclass', () => {
    const seen = new Set<string>();
    for (const code of ERROR_CODES.filter((c) => c !== 'OK')) {
      const err = errorFromNative(code, `msg for ${code}`);
      expect(err).toBeInstanceOf(TidelogError);
      expect(err.code).toBe(code);
      expect(err.message).toBe(`msg for ${code}`);
      expect(err.constructor).not.toBe(TidelogError);
      seen.add(err.constructor.name);
    }
    expect(seen.size).toBe(ERROR_CODES.length - 1);
  });

  it('an unknown native code still becomes a TidelogError that names it', () => {
    const err = errorFromNative('SOMETHING_NEW', 'boom');
    expect(err).toBeInstanceOf(errors.IoError);
    expect(err.message).toContain('SOMETHING_NEW');
  });

  it('only a full disk and a held lock are retriable', () => {
    expect(new errors.DiskFullError('x').retriable).toBe(true);
    expect(new errors.LogLockedError('x').retriable).toBe(true);
    expect(new errors.InvalidArgumentError('x').retriable).toBe(false);
    expect(new errors.CorruptRecordError('x', { cause: new Error('inner') }).cause).toBeInstanceOf(Error);
  });

  it('errors thrown by the addon are instances of the TypeScript classes', async () => {
    await expect(native.openLog({ dir: '' })).rejects.toBeInstanceOf(errors.InvalidArgumentError);
  });
});
