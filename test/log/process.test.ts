/**
 * One writer per log, enforced by a lock, in this process and from another;
 * and a read-only Log in another process that follows the writer: records
 * appended after it opened, rolls, durable isolation, truncation, and writes
 * refused with ReadOnlyError.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Log, LogLockedError, type ProducerRecord, ReadOnlyError, encodeBatch } from '../../src/index.js';
import { makeRecord, tempDir } from '../helpers.js';
import { Child, type ModelRecord, ensureDist, modelOf, plain, runChild } from './util.js';

beforeAll(() => ensureDist(), 120_000);

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});
async function openLog(dir: string, options?: Parameters<typeof Log.open>[1]): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

// Opens the log as a writer, optionally appends one record, closes; reports what happened.
const OPENER = `
try {
  const log = await tidelog.Log.open(arg.dir);
  let offset = null;
  if (arg.append) offset = (await log.append({ key: 'child', value: 'from the child', timestamp: 77 })).baseOffset;
  await log.close();
  console.log(JSON.stringify({ ok: true, offset }));
} catch (e) {
  console.log(JSON.stringify({
    ok: false, code: e.code, retriable: e.retriable, message: e.message,
    locked: e instanceof tidelog.LogLockedError, base: e instanceof tidelog.TidelogError,
  }));
}
`;

describe('one writer per log', () => {
  it('a second open in the same process fails at once with LogLockedError, until the first closes', async () => {
    const dir = tempDir();
    const first = await openLog(dir);
    await first.append(makeRecord(0));
    const err = await Log.open(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogLockedError);
    expect(err).toMatchObject({ code: 'LOG_LOCKED', retriable: true });
    expect((err as Error).message).toContain(dir);
    // The failed open changed nothing for the writer.
    const r = await first.append(makeRecord(1));
    expect(r.baseOffset).toBe(1);
    await first.close();
    const second = await openLog(dir);
    expect(second.logEndOffset).toBe(2);
  });

  it('another process gets LogLockedError while this one writes, and the lock once it closes', async () => {
    const dir = tempDir();
    const writer = await openLog(dir);
    await writer.append(makeRecord(0));
    const refused = await runChild(OPENER, { dir, append: true });
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.lines).toEqual([
      expect.objectContaining({ ok: false, code: 'LOG_LOCKED', retriable: true, locked: true, base: true }),
    ]);
    expect(writer.logEndOffset).toBe(1);
    await writer.close();
    const allowed = await runChild(OPENER, { dir, append: true });
    expect(allowed.lines, allowed.stderr).toEqual([{ ok: true, offset: 1 }]);
    const again = await openLog(dir);
    expect(again.readRecords(0).map((r) => r.value?.toString())).toEqual([makeRecord(0).value, 'from the child']);
  });
});

// Opens the log as a writer, appends, reports, then waits for its stdin to end (or to be killed).
const HOLDER = `
const log = await tidelog.Log.open(arg.dir);
await log.append({ key: 'held', value: 'by the child', timestamp: 1 });
console.log(JSON.stringify({ end: log.logEndOffset }));
process.stdin.resume();
process.stdin.on('end', async () => { await log.close(); process.exit(0); });
`;

describe('the lock of a writer that dies', () => {
  it('is released by the kernel when the writer is killed (SIGKILL)', async () => {
    const dir = tempDir();
    const holder = new Child(HOLDER, { dir });
    try {
      expect(await holder.next()).toEqual({ end: 1 });
      await expect(Log.open(dir)).rejects.toBeInstanceOf(LogLockedError);
      holder.kill();
      expect((await holder.exited).signal).toBe('SIGKILL');
      const log = await openLog(dir);
      expect(log.recovery.clean).toBe(false);
      expect(log.readRecords(0).map((r) => r.value?.toString())).toEqual(['by the child']);
    } finally {
      holder.kill();
    }
  });
});

// A read-only log in a child, driven by JSON commands on stdin.
const READER = `
import('node:readline').then(async ({ createInterface }) => {
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  const hex = (b) => (b === null ? null : b.toString('hex'));
  const view = (r) => ({ offset: r.offset, timestamp: r.timestamp, key: hex(r.key), value: hex(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: hex(h.value) })) });
  const log = await tidelog.Log.open(arg.dir, { readOnly: true });
  const state = () => ({ end: log.logEndOffset, durable: log.durableOffset, start: log.logStartOffset,
    segments: log.segments().map((s) => s.baseOffset) });
  out({ opened: true, ...state() });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line);
    if (cmd.op === 'waitFor') {
      // Polls (a bounded number of times) until the log end is the one asked for.
      let polls = 0;
      while (log.logEndOffset !== cmd.end && polls++ < 20000) await new Promise((r) => setTimeout(r, 1));
      out({ polls, ...state(), records: log.readRecords(0, { maxBytes: 1 << 24, isolation: cmd.isolation }).map(view) });
    } else if (cmd.op === 'lookups') {
      out({ get: cmd.offsets.map((o) => { const r = log.get(o); return r === null ? null : view(r); }),
            times: cmd.times.map((t) => log.offsetForTimestamp(t)),
            batches: cmd.offsets.map((o) => { const b = log.readBatches(o); return b === null ? null : b.readBigInt64BE(0).toString(); }) });
    } else if (cmd.op === 'write') {
      const attempts = {
        append: () => log.append({ value: 'x' }),
        appendSync: () => log.appendSync({ value: 'x' }),
        appendBatches: () => log.appendBatches(Buffer.from(cmd.batch, 'hex')),
        truncateTo: () => log.truncateTo(0),
        flush: () => log.flush(),
      };
      const results = {};
      for (const [name, f] of Object.entries(attempts)) {
        try { await f(); results[name] = 'no error'; }
        catch (e) { results[name] = { code: e.code, readOnly: e instanceof tidelog.ReadOnlyError }; }
      }
      out({ results, ...state() });
    } else if (cmd.op === 'close') {
      await log.close();
      out({ closed: true });
      break;
    }
  }
});
`;

describe('a read-only log in another process', () => {
  it('follows the writer: new records, rolls, durable isolation, truncation; refuses writes', async () => {
    const dir = tempDir();
    const options = { segmentBytes: 4096, maxMessageBytes: 4096, indexIntervalBytes: 256 };
    const writer = await openLog(dir, options);
    const model: ModelRecord[] = [];
    const append = async (n: number, acks: 'written' | 'durable' = 'written') => {
      const base = writer.logEndOffset;
      const recs: ProducerRecord[] = Array.from({ length: n }, (_, j) => ({
        ...makeRecord(base + j),
        headers: [{ key: 'h', value: `${base + j}` }],
      }));
      await writer.append(recs, { acks });
      recs.forEach((r, j) => model.push(modelOf(r, base + j)));
    };
    await append(5, 'durable');

    const reader = new Child(READER, { dir });
    try {
      const opened = await reader.next<{ end: number; durable: number; segments: number[] }>();
      expect(opened).toMatchObject({ end: 5, durable: 5, segments: [0] });

      type Seen = { end: number; durable: number; segments: number[]; records: ReturnType<typeof plain>[] };
      const waitFor = (end: number, isolation?: string) => reader.request<Seen>({ op: 'waitFor', end, isolation });

      // Records appended after the reader opened.
      for (let i = 0; i < 10; i++) await append(1 + (i % 3));
      let seen = await waitFor(model.length);
      expect(seen.end).toBe(model.length);
      expect(seen.records).toEqual(model.map(plain));

      // A roll (and more): the reader finds the new segments.
      while (writer.segments().length < 3) await append(4);
      seen = await waitFor(model.length);
      expect(seen.segments).toEqual(writer.segments().map((s) => s.baseOffset));
      expect(seen.records).toEqual(model.map(plain));

      // Point reads and timestamp lookups in the reader.
      const offsets = [0, 7, model.length - 1, model.length];
      const lookups = await reader.request<{ get: unknown[]; times: unknown[]; batches: unknown[] }>({
        op: 'lookups',
        offsets,
        times: [0, model[9].timestamp, model[model.length - 1].timestamp + 1],
      });
      expect(lookups.get).toEqual([plain(model[0]), plain(model[7]), plain(model[model.length - 1]), null]);
      expect(lookups.times).toEqual([0, 9, null]);
      // readBatches: the batch holding each offset starts at or before it; none at the end.
      for (let i = 0; i < 3; i++) {
        const base = Number(lookups.batches[i]);
        expect(base).toBeLessThanOrEqual(offsets[i]);
        expect(base).toBeGreaterThan(offsets[i] - 4); // batches here hold at most 4 records
      }
      expect(lookups.batches[3]).toBeNull();

      // Durable isolation: the reader sees the writer's durable offset.
      await writer.flush();
      const durable = writer.durableOffset;
      await append(3);
      seen = await waitFor(model.length, 'durable');
      expect(seen.durable).toBe(durable);
      expect(seen.records).toEqual(model.slice(0, durable).map(plain));
      await writer.flush();
      seen = await waitFor(model.length, 'durable');
      expect(seen.durable).toBe(model.length);
      expect(seen.records).toEqual(model.map(plain));

      // Truncation, then new records at the offsets that were cut: the reader sees the new bytes.
      const cutAt = writer.segments()[1].baseOffset + 1;
      await writer.truncateTo(cutAt);
      const newEnd = writer.logEndOffset;
      expect(newEnd).toBeLessThanOrEqual(cutAt);
      model.length = newEnd;
      seen = await waitFor(newEnd);
      expect(seen.records).toEqual(model.map(plain));
      const base = writer.logEndOffset;
      const replaced = Array.from({ length: 6 }, (_, j) => ({ key: 'new', value: `replaced ${base + j}`, timestamp: 42 }));
      await writer.append(replaced);
      replaced.forEach((r, j) => model.push(modelOf(r, base + j)));
      seen = await waitFor(model.length);
      expect(seen.records).toEqual(model.map(plain));
      expect(seen.segments).toEqual(writer.segments().map((s) => s.baseOffset));

      // Writes are refused, and change nothing.
      const batch = encodeBatch([{ value: 'x', timestamp: 1 }]).toString('hex');
      const writes = await reader.request<{ results: Record<string, unknown>; end: number }>({ op: 'write', batch });
      const refused = { code: 'READ_ONLY', readOnly: true };
      expect(writes.results).toEqual({
        append: refused,
        appendSync: refused,
        appendBatches: refused,
        truncateTo: refused,
        flush: refused,
      });
      expect(writes.end).toBe(model.length);
      expect(writer.logEndOffset).toBe(model.length);
      expect(await reader.request({ op: 'close' })).toEqual({ closed: true });
      expect(await reader.end()).toEqual({ code: 0, signal: null });
    } finally {
      reader.kill();
    }
  });

  it('in this process too: a read-only Log sees appends and refuses writes with ReadOnlyError', async () => {
    const dir = tempDir();
    const writer = await openLog(dir);
    await writer.append(makeRecord(0));
    const reader = await openLog(dir, { readOnly: true });
    expect(reader.logEndOffset).toBe(1);
    await writer.append([makeRecord(1), makeRecord(2)]);
    expect(reader.logEndOffset).toBe(3);
    expect(reader.readRecords(0).map((r) => r.offset)).toEqual([0, 1, 2]);
    const attempts: [string, () => unknown][] = [
      ['append', () => reader.append(makeRecord(3))],
      ['appendSync', () => reader.appendSync(makeRecord(3))],
      ['appendBatches', () => reader.appendBatches(encodeBatch([makeRecord(3)]))],
      ['truncateTo', () => reader.truncateTo(0)],
      ['flush', () => reader.flush()],
    ];
    for (const [name, f] of attempts) {
      const err = await (async () => f())().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(ReadOnlyError);
      expect(err, name).toMatchObject({ code: 'READ_ONLY' });
    }
    expect(writer.logEndOffset).toBe(3);
    expect(reader.logEndOffset).toBe(3);
  });
});
