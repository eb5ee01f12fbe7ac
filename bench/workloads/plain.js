// The plain-file baseline (DESIGN §6 "plain file"): the same records as fixed
// 124-byte rows (key 16 · value 100 · timestamp 8, big-endian), no framing, no
// CRC, no index. Not a product: the floor of JS overhead on this machine,
// reported beside W1 (write) and W4 (read); plainDurable (100 rows, then
// fdatasync, on the event loop) is the floor of W2 and shows what the disk
// allowed during the run; plainWriteFiles (the rows in writes of 125, round
// robin over 8 files) is the floor of P1 with 8 partitions.
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../lib/check.js';
import { KEY_BYTES, PAYLOAD_BYTES, VALUE_BYTES, makeData } from '../lib/data.js';
import { collectGarbage, nowNs } from '../lib/stats.js';
import { makeTempDir, removeDir } from '../lib/tmp.js';

const CHUNK_RECORDS = 1000;
const TS_AT = KEY_BYTES + VALUE_BYTES;

/** Copies records [from, to) into `buf` as 124-byte rows; returns the bytes copied. */
function copyRows(records, from, to, buf) {
  let o = 0;
  for (let j = from; j < to; j++) {
    const r = records[j];
    buf.set(r.key, o);
    buf.set(r.value, o + KEY_BYTES);
    const ts = r.timestamp;
    buf.writeUInt32BE(Math.floor(ts / 4294967296), o + TS_AT);
    buf.writeUInt32BE(ts >>> 0, o + TS_AT + 4);
    o += PAYLOAD_BYTES;
  }
  return o;
}

/**
 * Copies each chunk of `chunk` records into one reused Buffer and writes it
 * with fs.writeSync; one fsync at the end, or an fdatasync after every chunk
 * with `syncEach` (then the file must exist, preallocated: see preallocate).
 * Returns the elapsed ns (copies, writes, syncs).
 */
function writePlain(path, records, chunk = CHUNK_RECORDS, syncEach = false) {
  const fd = openSync(path, syncEach ? 'r+' : 'w');
  const buf = Buffer.allocUnsafe(chunk * PAYLOAD_BYTES);
  let position = 0;
  const t0 = nowNs();
  for (let i = 0; i < records.length; i += chunk) {
    const o = copyRows(records, i, Math.min(records.length, i + chunk), buf);
    writeSync(fd, buf, 0, o, position);
    position += o;
    if (syncEach) fdatasyncSync(fd);
  }
  fsyncSync(fd);
  const ns = nowNs() - t0;
  closeSync(fd);
  return ns;
}

/**
 * The rows in writes of `perWrite` rows, round robin over `files` files (as
 * P1 with 8 partitions writes its logs), each chunk copied into one reused
 * Buffer and written with fs.writeSync; then every file is fdatasynced, in
 * parallel on the libuv pool (as the logs' sync threads do). Timed: copies,
 * writes, syncs.
 */
export async function plainWriteFiles({ n, files, perWrite }) {
  const { records } = makeData(n);
  const root = makeTempDir('plain');
  const fds = [];
  try {
    for (let f = 0; f < files; f++) fds.push(openSync(join(root, `records-${f}.bin`), 'w'));
    const positions = new Array(files).fill(0);
    const buf = Buffer.allocUnsafe(perWrite * PAYLOAD_BYTES);
    collectGarbage();
    const t0 = nowNs();
    for (let i = 0, w = 0; i < records.length; i += perWrite, w++) {
      const o = copyRows(records, i, Math.min(records.length, i + perWrite), buf);
      const f = w % files;
      writeSync(fds[f], buf, 0, o, positions[f]);
      positions[f] += o;
    }
    await Promise.all(fds.map((fd) => new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))));
    const ns = nowNs() - t0;
    const total = positions.reduce((a, b) => a + b, 0);
    check(total === n * PAYLOAD_BYTES, `wrote ${total} bytes, expected ${n * PAYLOAD_BYTES}`);
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 }, info: { files, perWrite } };
  } finally {
    for (const fd of fds) closeSync(fd);
    removeDir(root);
  }
}

/** Node's FastBuffer: the view constructor tidelog's decoder uses (src/record/decode.ts), so both build views alike. */
const View = Buffer[Symbol.species];

export async function plainWrite({ n }) {
  const { records } = makeData(n);
  const root = makeTempDir('plain');
  try {
    collectGarbage();
    const ns = writePlain(join(root, 'records.bin'), records);
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 } };
  } finally {
    removeDir(root);
  }
}

/**
 * Writes zeros over the file's whole size and fsyncs it (untimed), as a log
 * preallocates its segment: the timed fdatasyncs then flush data only, not
 * the file size and new extents (which, appending to a growing file on ext4,
 * made each fdatasync a journal commit and ~5x slower on the dev box).
 */
function preallocate(path, bytes) {
  const fd = openSync(path, 'w');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let pos = 0; pos < bytes; pos += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - pos), pos);
  fsyncSync(fd);
  closeSync(fd);
}

/** Rows written 100 at a time into a preallocated file, each write followed by fdatasync (W2's plain-file floor). */
export async function plainDurable({ n }) {
  const { records } = makeData(n);
  const root = makeTempDir('plain');
  try {
    const path = join(root, 'records.bin');
    preallocate(path, n * PAYLOAD_BYTES);
    collectGarbage();
    const ns = writePlain(path, records, 100, true);
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9, syncsPerSec: Math.ceil(n / 100) / (ns / 1e9) } };
  } finally {
    removeDir(root);
  }
}

/**
 * Writes the file (untimed), then reads it sequentially with fs.readSync in
 * chunks of 8,192 records (~1 MiB) into a fresh Buffer each, and per record
 * builds { offset, key, value, timestamp } (key and value views of the chunk)
 * and touches key, value and timestamp, as W4 does.
 */
export async function plainRead({ n }) {
  const { records } = makeData(n);
  const root = makeTempDir('plain');
  const path = join(root, 'records.bin');
  try {
    writePlain(path, records);
    let want = 0;
    for (const r of records) want = (want + r.key[15] + r.value[99] + (r.timestamp & 0xffff)) | 0;
    collectGarbage();
    const chunkBytes = 8192 * PAYLOAD_BYTES;
    const t0 = nowNs();
    const fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    let pos = 0;
    let offset = 0;
    let acc = 0;
    const out = [];
    while (pos < size) {
      const chunk = Buffer.allocUnsafeSlow(Math.min(chunkBytes, size - pos));
      const got = readSync(fd, chunk, 0, chunk.length, pos);
      if (got <= 0) break;
      pos += got;
      const ab = chunk.buffer;
      const base = chunk.byteOffset;
      out.length = 0;
      for (let o = 0; o + PAYLOAD_BYTES <= got; o += PAYLOAD_BYTES) {
        out.push({
          offset: offset++,
          key: new View(ab, base + o, KEY_BYTES),
          value: new View(ab, base + o + KEY_BYTES, VALUE_BYTES),
          timestamp: chunk.readUInt32BE(o + TS_AT) * 4294967296 + chunk.readUInt32BE(o + TS_AT + 4),
        });
      }
      for (let i = 0; i < out.length; i++) {
        const r = out[i];
        acc = (acc + r.key[15] + r.value[99] + (r.timestamp & 0xffff)) | 0;
      }
    }
    closeSync(fd);
    const ns = nowNs() - t0;
    check(offset === n, `read ${offset} rows, expected ${n}`);
    check(acc === want, `checksum ${acc}, expected ${want}`);
    return { metrics: { recPerSec: n / (ns / 1e9), seconds: ns / 1e9 } };
  } finally {
    removeDir(root);
  }
}
