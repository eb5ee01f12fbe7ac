import { openSync, readFileSync, readSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, verifyLog } from '../../src/index.js';
import { native } from '../../src/native.js';
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

  it('goes on after a batch that fails its CRC: one issue for it, and everything after it is still checked', async () => {
    const dir = tempDir();
    const segments = await buildLog(dir);
    const path = seg(dir, segments[1].baseOffset, 'log');
    flipByte(path, 300);
    const report = await verifyLog(dir);
    expect(report.issues).toHaveLength(1);
    expect(report.issues[0]).toMatchObject({ file: path, problem: expect.stringMatching(/CRC-32C mismatch/) });
    expect(report.batches).toBe(60);
    // Damage after it is found too.
    writeFileSync(seg(dir, segments[2].baseOffset, 'index'), Buffer.alloc(8, 0x7f));
    expect((await verifyLog(dir)).issues.map((i) => i.file)).toEqual([path, seg(dir, segments[2].baseOffset, 'index')]);
  });

  it('finds a time index entry that names another offset of the right batch', async () => {
    const dir = tempDir();
    const segments = await buildLog(dir);
    const path = seg(dir, segments[0].baseOffset, 'timeindex');
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThanOrEqual(12);
    bytes.writeInt32BE(bytes.readInt32BE(8) - 1, 8); // entry 0: the offset before the batch's last one
    writeFileSync(path, bytes);
    const report = await verifyLog(dir);
    expect(report.issues).toEqual([expect.objectContaining({ file: path, position: 0, problem: expect.stringMatching(/entry 0/) })]);
  });

  it('checks producer-state snapshots: CRC, version, length, and not beyond the log end', async () => {
    const dir = tempDir();
    await buildLog(dir);
    const snapshot = (offset: number, bytes: Buffer) => {
      const path = join(dir, `${String(offset).padStart(20, '0')}.snapshot`);
      writeFileSync(path, bytes);
      return path;
    };
    // A valid empty snapshot: version 1, CRC-32C of the count, count 0.
    const empty = Buffer.alloc(10);
    empty.writeInt16BE(1, 0);
    empty.writeUInt32BE(native.crc32c(empty.subarray(6)), 2);
    snapshot(100, empty);
    expect((await verifyLog(dir)).issues).toEqual([]);
    const badCrc = Buffer.from(empty);
    badCrc[9] = 1;
    const p1 = snapshot(120, badCrc);
    const badVersion = Buffer.from(empty);
    badVersion.writeInt16BE(7, 0);
    const p2 = snapshot(140, badVersion);
    const p3 = snapshot(160, Buffer.alloc(3));
    const p4 = snapshot(9999, empty);
    const problems = new Map((await verifyLog(dir)).issues.map((i) => [i.file, i.problem]));
    expect(problems.get(p1)).toMatch(/fails its CRC-32C check/);
    expect(problems.get(p2)).toMatch(/unknown version 7/);
    expect(problems.get(p3)).toMatch(/too short/);
    expect(problems.get(p4)).toMatch(/above the end of the log/);
    expect(problems.size).toBe(4);
  });

  it('rejects a missing directory with a typed error', async () => {
    await expect(verifyLog(join(tempDir(), 'nope'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
