// Child process of the crash tests: opens a Log and appends until it is killed.
//
// Run as `node writer.mjs '<json config>'` (see WriterConfig in util.ts). It
// imports the compiled package (dist/index.js), so it exercises exactly what a
// user runs. After opening it prints one JSON line to stdout:
//   {"ready":true,"logEndOffset":N,"recovery":{...}}
// and then appends forever with `concurrency` concurrent appenders. Every step
// is logged to the ops file (opened O_APPEND, written with writeSync: no
// buffering in this process, so a kill -9 loses nothing that was written):
//   r <logEnd> <clean 0|1> <segmentsRecovered> <bytesTruncated>
//                            first, once the log is open (what recovery found)
//   w <base> <count> <tag>   before the native append of one batch; written in
//                            the same synchronous section as the append, so
//                            only the last line of the file can be a batch that
//                            never reached the log
//   a <base> <last>          after the append was acknowledged (acks level)
//   x <base> <count> <code>  the append's acknowledgement was refused (a
//                            truncation removed it before it was synced)
//   T <offset>               before truncateTo(offset)
//   t <offset> <newEnd>      after truncateTo resolved; newEnd = logEndOffset
// Anything unexpected goes to stderr and exits 1: the parent then fails.
import { closeSync, openSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { recordFor, rng as makeRng, hash32 } from './records.mjs';

const cfg = JSON.parse(process.argv[2]);
const { Log } = await import(pathToFileURL(cfg.dist).href);

const fd = openSync(cfg.opsFile, 'a');
const line = (s) => writeSync(fd, `${s}\n`);
const rnd = makeRng(hash32(`writer/${cfg.seed}`));

function fatal(what, err) {
  process.stderr.write(`writer: ${what}: ${err && err.stack ? err.stack : String(err)}\n`);
  try {
    closeSync(fd);
  } catch {}
  process.exit(1);
}
process.on('unhandledRejection', (err) => fatal('unhandled rejection', err));
process.on('uncaughtException', (err) => fatal('uncaught exception', err));

let log;
try {
  log = await Log.open(cfg.dir, cfg.options);
} catch (err) {
  fatal('Log.open', err);
}
const { clean, segmentsRecovered, bytesTruncated } = log.recovery;
line(`r ${log.logEndOffset} ${clean ? 1 : 0} ${segmentsRecovered} ${bytesTruncated}`);
process.stdout.write(`${JSON.stringify({ ready: true, logEndOffset: log.logEndOffset, recovery: log.recovery })}\n`);

let epoch = 0;
let truncating = null;
const tag = () => `${cfg.cycle}.${epoch}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const compression = () => (cfg.compression === 'mixed' ? (rnd() < 0.5 ? 'lz4' : 'none') : cfg.compression);

async function truncate() {
  const end = log.logEndOffset;
  const span = rnd() < 0.25 ? end : Math.min(end, 1 + Math.floor(rnd() * cfg.truncateSpan));
  const to = end - 1 - Math.floor(rnd() * span);
  line(`T ${to}`);
  await log.truncateTo(to);
  epoch++;
  line(`t ${to} ${log.logEndOffset}`);
}

async function appender() {
  for (;;) {
    if (truncating) {
      await truncating;
      continue;
    }
    if (cfg.truncateEvery > 0 && log.logEndOffset > 0 && (rnd() < cfg.truncateEvery || log.logEndOffset > cfg.maxRecords)) {
      truncating = truncate().finally(() => {
        truncating = null;
      });
      continue;
    }
    if (log.logEndOffset > cfg.maxRecords) {
      await sleep(5); // enough data for this test: idle until killed
      continue;
    }
    const n = 1 + Math.floor(rnd() * cfg.maxBatch);
    const base = log.logEndOffset;
    const t = tag();
    const records = [];
    for (let i = 0; i < n; i++) records.push(recordFor(t, base + i, cfg.maxValueBytes));
    line(`w ${base} ${n} ${t}`);
    let result;
    try {
      result = await log.append(records, { acks: cfg.acks, compression: compression() });
    } catch (err) {
      if (err && err.code === 'INVALID_STATE') {
        line(`x ${base} ${n} ${err.code}`);
        continue;
      }
      fatal(`append at ${base}`, err);
    }
    if (result.baseOffset !== base || result.lastOffset !== base + n - 1) {
      fatal('append result', new Error(`expected [${base}, ${base + n - 1}], got ${JSON.stringify(result)}`));
    }
    line(`a ${base} ${result.lastOffset}`);
    if (cfg.pauseMs > 0) await sleep(cfg.pauseMs);
    else await new Promise((r) => setImmediate(r));
  }
}

for (let i = 0; i < cfg.concurrency; i++) appender().catch((err) => fatal('appender', err));
