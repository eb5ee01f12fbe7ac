import { openSync, readFileSync, readSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, verifyLog } from '../../src/index.js';
import { makeRecord, tempDir } from '../helpers.js';

const seg = (dir: string, base: number, ext: string) => join(dir, `${String(base).padStart(20, '0')}.${ext}`);

async function buildLog(dir: string) {
  const log = await Log.open(dir, { segmentBytes: 4096, indexIntervalBytes: 256 });
  for (let b = 0; b < 60; b++) {
    await log.append(Array.from({ length: 5 }, (_, i) => makeRecord(b * 5 + i)));
  }
  const segments = log.segments();
  await log.close();
  return segments;
}

function flipByte(path: string, position: number) {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, position);
  b[0] ^= 0x5a;
  writeSync(fd, b, 0, 1, position);
  closeSync(fd);
}

describe('verifyLog', () => {
  it('reports a healthy log as ok with its counts', async () => {
    const dir = tempDir();
    const segments = await buildLog(dir);
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.records).toBe(300);
    expect(report.batches).toBe(60);
    expect(report.segments).toBe(segments.length);
    expect(report.segments).toBeGreaterThan(2);
    expect(report.startOffset).toBe(0);
    expect(report.endOffset).toBe(300);
  });

  it('finds a flipped byte in a sealed segment, naming file, position and offset', async () => {
    const dir = tempDir();
    const segments = await buildLog(dir);
    const sealed = segments[0];
    flipByte(seg(dir, sealed.baseOffset, 'log'), 200);
    const report = await verifyLog(dir);
    expect(report.ok).toBe(false);
    const issue = report.issues[0];
    expect(issue.file).toBe(seg(dir, sealed.baseOffset, 'log'));
    expect(issue.problem).toMatch(/CRC/);
    expect(issue.position).toBeGreaterThanOrEqual(0);
    expect(issue.position).toBeLessThanOrEqual(200);
    expect(issue.offset).toBeGreaterThanOrEqual(sealed.baseOffset);
  });

  it('finds an index entry that points at no batch', async () => {
    const dir = tempDir();
    const segments = await buildLog(dir);
    const path = seg(dir, segments[0].baseOffset, 'index');
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThanOrEqual(8);
    bytes.writeUInt32BE(bytes.readUInt32BE(4) + 1, 4); // position of entry 0 off by one
    writeFileSync(path, bytes);
    const report = await verifyLog(dir);
    expect(report.ok).toBe(false);
    expect(report.issues.some((i) => i.file === path && /does not point at a batch/.test(i.problem))).toBe(true);
  });

  it('finds a checkpoint beyond the end of the log', async () => {
    const dir = tempDir();
    await buildLog(dir);
    writeFileSync(join(dir, 'recovery-point'), '0\n999999\n');
    const report = await verifyLog(dir);
    expect(report.issues.map((i) => i.problem).join()).toMatch(/outside the log/);
  });

  it('rejects a missing directory with a typed error', async () => {
    await expect(verifyLog(join(tempDir(), 'nope'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
