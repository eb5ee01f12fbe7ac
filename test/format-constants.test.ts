/**
 * The format constants exist twice: native/core/format.h (C++) and
 * src/record/format.ts (TypeScript). This test checks that they agree, two
 * ways: against the addon's formatConstants() (what the compiled code uses),
 * and against every constexpr in format.h itself (the lengths, suffixes and
 * file names too, which formatConstants() does not export).
 *
 * Names map mechanically: kBaseOffsetOffset <-> BASE_OFFSET_OFFSET.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import * as format from '../src/record/format.js';

function tsName(nativeName: string): string {
  return nativeName
    .replace(/^k/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase();
}

/** Constants defined only in TypeScript, and why. */
const TS_ONLY: Record<string, string> = {
  COMPRESSION_GZIP: 'recognised to name it in UnsupportedCompressionError; native never reads records',
  COMPRESSION_SNAPPY: 'same',
  COMPRESSION_ZSTD: 'same',
};

/** Every `constexpr <type> kName = <expr>;` of format.h, evaluated (sums of literals and earlier names). */
const FORMAT_H = readFileSync(new URL('../native/core/format.h', import.meta.url), 'utf8');

function parseFormatH(): Map<string, number | string> {
  const text = FORMAT_H;
  const values = new Map<string, number | string>();
  const re = /constexpr\s[^=;]*?\b(k[A-Z]\w*)\s*=\s*([^;]+);/g;
  for (const [, name, expr] of text.matchAll(re)) {
    const e = expr.trim();
    if (e.startsWith('"')) {
      values.set(name, JSON.parse(e) as string);
      continue;
    }
    let sum = 0;
    for (const term of e.split('+').map((t) => t.trim())) {
      if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(term)) sum += Number(term);
      else if (values.has(term)) sum += values.get(term) as number;
      else throw new Error(`format.h: cannot evaluate ${name} = ${e}`);
    }
    values.set(name, sum);
  }
  return values;
}

describe('format constants: TypeScript = native', () => {
  const ts = format as unknown as Record<string, number | string>;

  it('every constant of the addon\'s formatConstants() equals its TypeScript counterpart', () => {
    const nativeConstants = native.formatConstants();
    expect(Object.keys(nativeConstants).length).toBeGreaterThan(20);
    for (const [name, value] of Object.entries(nativeConstants)) {
      expect(ts[tsName(name)], `${name} -> ${tsName(name)}`).toBe(value);
    }
  });

  it('every constexpr of native/core/format.h equals its TypeScript counterpart', () => {
    const header = parseFormatH();
    expect(header.get('kHeaderSize')).toBe(61);
    expect(header.get('kLogSuffix')).toBe('.log');
    expect(header.size).toBe(FORMAT_H.match(/\bconstexpr\b/g)?.length); // every one parsed
    for (const [name, value] of header) {
      expect(ts[tsName(name)], `${name} -> ${tsName(name)}`).toBe(value);
    }
  });

  it('every TypeScript constant has a native counterpart, or is listed as TypeScript-only', () => {
    const header = parseFormatH();
    const nativeNames = new Set([...header.keys()].map(tsName));
    for (const name of Object.keys(ts)) {
      if (name in TS_ONLY) {
        expect(nativeNames.has(name), `${name} is listed as TypeScript-only but format.h has it`).toBe(false);
      } else {
        expect(nativeNames.has(name), `${name} has no counterpart in native/core/format.h`).toBe(true);
      }
    }
  });

  it('the offsets chain: each field starts where the previous one ends, and the header is 61 bytes', () => {
    const fields = [
      'BASE_OFFSET',
      'LENGTH',
      'LEADER_EPOCH',
      'MAGIC',
      'CRC',
      'ATTRIBUTES',
      'LAST_OFFSET_DELTA',
      'BASE_TIMESTAMP',
      'MAX_TIMESTAMP',
      'PRODUCER_ID',
      'PRODUCER_EPOCH',
      'BASE_SEQUENCE',
      'RECORDS_COUNT',
    ];
    let at = 0;
    for (const f of fields) {
      expect(ts[`${f}_OFFSET`], f).toBe(at);
      at += ts[`${f}_LENGTH`] as number;
    }
    expect(at).toBe(format.HEADER_SIZE);
    expect(format.HEADER_SIZE).toBe(61);
    expect(format.LOG_OVERHEAD).toBe(12);
    expect(format.ATTRIBUTES_OFFSET).toBe(21);
  });
});
