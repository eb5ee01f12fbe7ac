/**
 * Mapped files that shrink under their readers (native/core/mapped_file.h).
 *
 * Zero-copy Buffers point into mappings of segment files; truncateTo and
 * recovery shrink those files. Every mapping of a file in the process — the
 * segment's current one and older ones Buffers still hold (from before an
 * earlier truncation, or from a Log closed since) — must read its old bytes or
 * zeros afterwards: never SIGBUS, never the bytes a later append writes at the
 * same positions. And a file shrunk by another process under a read-only log
 * must not kill the reader: the SIGBUS guard gives it zero pages, and the read
 * fails with a typed error.
 *
 * Each case runs in a child process, so a SIGBUS kills the child and fails the
 * case with its signal instead of killing the test runner.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { runChild } from '../log/util.js';

const OPTIONS = { segmentBytes: 1024 * 1024, indexIntervalBytes: 1024 };

/** Shared by the scripts: records whose bytes say which generation wrote them. */
const COMMON = `
const { Log } = tidelog;
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const recs = (n, fill) => Array.from({ length: n }, (_, i) => ({ key: 'k' + i, value: Buffer.alloc(200 + (i % 50), fill) }));
/** Each held Buffer reads its old bytes, then zeros from some byte on: never other bytes. */
function check(held) {
  const bad = [];
  for (const h of held) {
    let k = 0;
    while (k < h.buf.length && h.buf[k] === h.copy[k]) k++;
    let changed = 0;
    for (let i = k; i < h.buf.length; i++) if (h.buf[i] !== 0) changed++;
    if (changed > 0) bad.push(h.name + ': ' + changed + ' bytes are neither old nor zero');
  }
  return bad;
}
const hold = (log, offset, name) => { const buf = log.readBatches(offset, { maxBytes: 1 << 20 }); return { buf, copy: Buffer.from(buf), name }; };
`;

describe('files that shrink under mappings', () => {
  it('Buffers held across two truncations, the second deeper, read old bytes or zeros, never the new appends', async () => {
    const dir = tempDir('tidelog-shrink-');
    const { code, signal, lines, stderr } = await runChild(
      `${COMMON}
      const log = await Log.open(arg.dir, arg.options);
      for (let i = 0; i < 40; i++) await log.append(recs(10, 1));
      const held = [hold(log, 300, 'from 300'), hold(log, 150, 'from 150'), hold(log, 395, 'from 395')];
      await log.truncateTo(250);           // the Buffer from 300 loses its bytes; the mapping is replaced
      for (let i = 0; i < 5; i++) await log.append(recs(10, 2));
      held.push(hold(log, 250, 'from 250, second mapping'));
      await log.truncateTo(120);           // deeper: every earlier mapping of the file, not just the current one
      for (let i = 0; i < 30; i++) await log.append(recs(10, 3));
      const zeros = held.map((h) => h.buf.subarray(-16).every((b) => b === 0));
      out({ bad: check(held), zeros, end: log.logEndOffset });
      await log.close();`,
      { dir, options: OPTIONS },
    );
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    const r = lines[0] as { bad: string[]; zeros: boolean[]; end: number };
    expect(r.bad).toEqual([]);
    // Each held Buffer ended past 120: its tail now reads zeros (so the check above had something to check).
    expect(r.zeros).toEqual([true, true, true, true]);
    expect(r.end).toBe(420);
  });

  it('a Buffer from a Log closed since reads old bytes or zeros after the reopened log truncates and appends', async () => {
    const dir = tempDir('tidelog-shrink-');
    const { code, signal, lines, stderr } = await runChild(
      `${COMMON}
      let log = await Log.open(arg.dir, arg.options);
      for (let i = 0; i < 20; i++) await log.append(recs(10, 1));
      const held = [hold(log, 100, 'before close')];
      await log.close();
      log = await Log.open(arg.dir, arg.options);
      await log.truncateTo(50);
      for (let i = 0; i < 20; i++) await log.append(recs(10, 4));
      out({ bad: check(held), tailZero: held[0].buf.subarray(-16).every((b) => b === 0), first: log.get(50).value[0] });
      await log.close();`,
      { dir, options: OPTIONS },
    );
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(lines[0]).toEqual({ bad: [], tailZero: true, first: 4 });
  });

  it('a read-only log whose file another process shrank gets CorruptRecordError where the bytes are gone, not SIGBUS', async () => {
    const dir = tempDir('tidelog-shrink-');
    // The writer: 2,000 records, closed cleanly.
    const w = await runChild(
      `${COMMON}
      const log = await Log.open(arg.dir, arg.options);
      for (let i = 0; i < 20; i++) await log.append(recs(100, 5));
      out({ end: log.logEndOffset, segments: log.segments().map((s) => [s.baseOffset, s.sizeBytes]) });
      await log.close();`,
      { dir, options: OPTIONS },
    );
    expect({ code: w.code, signal: w.signal }, w.stderr).toEqual({ code: 0, signal: null });
    const { segments } = w.lines[0] as { segments: [number, number][] };
    const [base, size] = segments[segments.length - 1];
    // The reader: loads its view, then the last segment's file is cut to half
    // behind its back (as by a writer in another process whose generation it has
    // not seen: the worst case), then reads the part that is gone.
    const r = await runChild(
      `${COMMON}
      const { truncateSync } = await import('node:fs');
      const { native } = await import(arg.nativeModule);
      const reader = await Log.open(arg.dir, { ...arg.options, readOnly: true });
      const before = native.sigbusPagesZeroed();
      truncateSync(arg.file, arg.cut);
      let error = null;
      try {
        for (let o = arg.base; o < reader.logEndOffset; o += 10) reader.get(o);
      } catch (err) {
        error = { name: err.constructor.name, code: err.code, typed: err instanceof tidelog.TidelogError };
      }
      out({ error, zeroed: native.sigbusPagesZeroed() - before });
      await reader.close();`,
      {
        dir,
        options: OPTIONS,
        base,
        file: `${dir}/${String(base).padStart(20, '0')}.log`,
        cut: Math.floor(size / 2 / 4096) * 4096, // page-aligned: the pages after it are wholly past the end
        nativeModule: new URL('../../dist/native.js', import.meta.url).href,
      },
    );
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
    const res = r.lines[0] as { error: { name: string; code: string; typed: boolean } | null; zeroed: number };
    expect(res.zeroed, 'the guard replaced the missing pages').toBeGreaterThan(0);
    expect(res.error).toEqual({ name: 'CorruptRecordError', code: 'CORRUPT_RECORD', typed: true });
  });
});
