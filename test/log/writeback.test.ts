/**
 * Writeback while appending (docs/architecture.md, "Writeback while
 * appending"): every 1 MiB appended to a segment, a background thread asks the
 * kernel to start writing them back, with a duplicate of the segment's
 * descriptor. Checked here: those duplicates never outlive close() (close
 * waits for the requests made before it), a log reopened after many requests
 * reads back every record, and appends keep working while requests are
 * pending for a log that was closed and another that is still open.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const fds = () => readdirSync('/proc/self/fd').length;

/** 60 records of 16 KiB: one batch just under maxMessageBytes (1 MiB), its bytes a function of its first offset. */
function batch(base: number) {
  return Array.from({ length: 60 }, (_, i) => ({
    key: `k${base + i}`,
    value: Buffer.alloc(16 * 1024, (base + i) % 251),
    timestamp: 1_700_000_000_000 + base + i,
  }));
}

function checkAll(log: Log): number {
  let n = 0;
  for (let at = log.logStartOffset; at < log.logEndOffset; ) {
    const recs = log.readRecords(at);
    for (const r of recs) {
      expect(r.offset).toBe(at);
      expect(r.key?.toString()).toBe(`k${at}`);
      expect(r.value?.length).toBe(16 * 1024);
      expect(r.value?.[0]).toBe(at % 251);
      expect(r.value?.[16 * 1024 - 1]).toBe(at % 251);
      at++;
      n++;
    }
  }
  return n;
}

describe('writeback requests', () => {
  it('leave no descriptor open after close, across many logs and requests', async () => {
    const root = tempDir('writeback-fds');
    // A first open/close loads the addon and starts libuv's pool and the writeback thread.
    const warm = await Log.open(join(root, 'warm'));
    for (let b = 0; b < 6; b++) warm.appendSync(batch(warm.logEndOffset));
    await warm.close();
    const before = fds();
    for (let c = 0; c < 4; c++) {
      const log = await Log.open(join(root, `log-${c}`));
      // ~23 MiB: over twenty writeback requests, the last ones made just before close.
      for (let b = 0; b < 24; b++) log.appendSync(batch(log.logEndOffset));
      await log.close();
      expect(fds()).toBe(before);
    }
  });

  it('change nothing that is read back, while another log keeps appending', async () => {
    const root = tempDir('writeback-data');
    const a = await Log.open(join(root, 'a'));
    const b = await Log.open(join(root, 'b'));
    for (let i = 0; i < 20; i++) {
      a.appendSync(batch(a.logEndOffset));
      b.appendSync(batch(b.logEndOffset));
    }
    await a.close();
    // b appends on while a's requests may still be pending; then a durable append and a reopen.
    for (let i = 0; i < 10; i++) b.appendSync(batch(b.logEndOffset));
    await b.append(batch(b.logEndOffset), { acks: 'durable' });
    expect(b.durableOffset).toBe(b.logEndOffset);
    expect(checkAll(b)).toBe(31 * 60);
    await b.close();
    const a2 = await Log.open(join(root, 'a'));
    expect(checkAll(a2)).toBe(20 * 60);
    await a2.close();
    const b2 = await Log.open(join(root, 'b'));
    expect(checkAll(b2)).toBe(31 * 60);
    await b2.close();
  });
});
