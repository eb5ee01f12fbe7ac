// tidelog's benchmark runner: `npm run bench [-- flags]` (see bench/README.md).
//
// Every measured case runs in a fresh child process (bench/child.js), `--runs`
// times, round-robin (run 1 of every case, then run 2, ...), so slow drift of
// the machine spreads over all cases alike. Each case generates the standard
// input before it starts its clock, works in a data directory under
// os.tmpdir() and removes it. The runner prints the medians against DESIGN §6's
// targets and writes JSON and a markdown table to bench/results/.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync, copyFileSync, existsSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QUICK_RECORDS, STANDARD_RECORDS } from './lib/data.js';
import { freeBytes, machineContext } from './lib/machine.js';
import { median } from './lib/stats.js';
import { makeTempDir, removeDir } from './lib/tmp.js';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const USAGE = `usage: npm run bench -- [flags]   (or: node bench/run.js [flags] after a build)

  --runs N          runs of every case; the table shows medians (default 3)
  --only LIST       comma-separated workloads: W1,W2,W3,W4,W5,W6,W7,DISK,PLAIN,NAPI,P1,P3
                    (default: all). P1/P3 also run the raw W1/W3 cases they are compared with.
  --quick           smoke test: ${QUICK_RECORDS.toLocaleString('en')} records instead of ${STANDARD_RECORDS.toLocaleString('en')}, W3 20,000,
                    W7 sizes 64M,256M with a 16M tail. Figures are not comparable to targets.
  --records N       records of the standard data (overrides --quick's count)
  --w7-sizes LIST   W7 log sizes, e.g. 1G,8G (default; quick: 64M,256M); suffixes K, M, G
  --w7-tail SIZE    W7 unsynced tail (default 64M; quick: 16M)
  --no-save         do not write bench/results/
  --help            this text`;

// ---- flags -------------------------------------------------------------------

function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(String(s).trim());
  if (!m) throw new Error(`bad size ${JSON.stringify(s)} (examples: 64M, 1G, 8G)`);
  const mult = { '': 1, k: 1024, m: MiB, g: GiB }[m[2].toLowerCase()];
  return Math.round(Number(m[1]) * mult);
}

function sizeLabel(bytes) {
  if (bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes} B`;
}

function parseFlags(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      records: { type: 'string' },
      'w7-sizes': { type: 'string' },
      'w7-tail': { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const runs = values.runs === undefined ? 3 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const quick = values.quick;
  const n = values.records !== undefined ? Number(values.records) : quick ? QUICK_RECORDS : STANDARD_RECORDS;
  if (!Number.isInteger(n) || n < 1000 || n % 1000 !== 0) throw new Error(`--records must be a positive multiple of 1000, got ${values.records}`);
  const only = values.only
    ? values.only.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
    : Object.keys(WORKLOADS);
  for (const w of only) if (!(w in WORKLOADS)) throw new Error(`--only: unknown workload ${w} (known: ${Object.keys(WORKLOADS).join(', ')})`);
  const w7Sizes = (values['w7-sizes'] ?? (quick ? '64M,256M' : '1G,8G')).split(',').map(parseSize);
  const w7Tail = parseSize(values['w7-tail'] ?? (quick ? '16M' : '64M'));
  return {
    runs,
    quick,
    n,
    n3: quick ? 20_000 : Math.min(200_000, n),
    only,
    w7Sizes,
    w7Tail,
    save: !values['no-save'],
  };
}

// ---- cases -------------------------------------------------------------------

/** Every measured case: which module/function runs it, with which parameters. */
const CASES = {
  'w1.appendSync': { module: 'workloads/log-write.js', fn: 'w1', params: (o) => ({ n: o.n, variant: 'appendSync' }) },
  'w1.append': { module: 'workloads/log-write.js', fn: 'w1', params: (o) => ({ n: o.n, variant: 'append' }) },
  'w1.lz4.appendSync': {
    module: 'workloads/log-write.js',
    fn: 'w1',
    params: (o) => ({ n: o.n, variant: 'appendSync', compression: 'lz4', compressible: true }),
  },
  'w1.lz4.append': {
    module: 'workloads/log-write.js',
    fn: 'w1',
    params: (o) => ({ n: o.n, variant: 'append', compression: 'lz4', compressible: true }),
  },
  'plain.write': { module: 'workloads/plain.js', fn: 'plainWrite', params: (o) => ({ n: o.n }) },
  'plain.write8': { module: 'workloads/plain.js', fn: 'plainWriteFiles', params: (o) => ({ n: o.n, files: 8, perWrite: 125 }) },
  w2: { module: 'workloads/log-write.js', fn: 'w2', params: (o) => ({ n: o.n }) },
  'plain.durable': { module: 'workloads/plain.js', fn: 'plainDurable', params: (o) => ({ n: o.n }) },
  w3: { module: 'workloads/log-write.js', fn: 'w3', params: (o) => ({ n: o.n3 }) },
  'w4.readRecords': { module: 'workloads/log-read.js', fn: 'w4', params: (o) => ({ n: o.n, variant: 'readRecords' }) },
  'w4.records': { module: 'workloads/log-read.js', fn: 'w4', params: (o) => ({ n: o.n, variant: 'records' }) },
  'plain.read': { module: 'workloads/plain.js', fn: 'plainRead', params: (o) => ({ n: o.n }) },
  w5: { module: 'workloads/log-read.js', fn: 'w5', params: (o) => ({ n: o.n }) },
  w6: { module: 'workloads/log-read.js', fn: 'w6', params: (o) => ({ n: o.n }) },
  napi: { module: 'micro/noop.js', fn: 'noop', params: (o) => ({ calls: o.quick ? 1_000_000 : 10_000_000 }) },
  'p1.1.none': { module: 'workloads/producer.js', fn: 'p1', params: (o) => ({ n: o.n, partitions: 1 }) },
  'p1.8.none': { module: 'workloads/producer.js', fn: 'p1', params: (o) => ({ n: o.n, partitions: 8 }) },
  'p1.1.lz4': {
    module: 'workloads/producer.js',
    fn: 'p1',
    params: (o) => ({ n: o.n, partitions: 1, compression: 'lz4', compressible: true }),
  },
  'p1.8.lz4': {
    module: 'workloads/producer.js',
    fn: 'p1',
    params: (o) => ({ n: o.n, partitions: 8, compression: 'lz4', compressible: true }),
  },
  p3: { module: 'workloads/producer.js', fn: 'p3', params: (o) => ({ n: o.n3 }) },
  'micro.forAwait': { module: 'micro/for-await.js', fn: 'forAwait', params: (o) => ({ n: o.n }) },
  'append.1x1000': { module: 'micro/append-size.js', fn: 'appendSize', params: (o) => ({ n: o.n, partitions: 1, perBatch: 1000 }) },
  'append.8x125': { module: 'micro/append-size.js', fn: 'appendSize', params: (o) => ({ n: o.n, partitions: 8, perBatch: 125 }) },
};

const RAW_W1 = ['w1.appendSync', 'w1.append', 'w1.lz4.appendSync', 'w1.lz4.append'];

/** Workload names (--only) and the cases they run; W7 is run separately. */
const WORKLOADS = {
  W1: [...RAW_W1],
  DISK: ['w1.appendSync'],
  PLAIN: ['plain.write', 'plain.write8', 'plain.durable', 'plain.read'],
  W2: ['w2'],
  W3: ['w3'],
  W4: ['w4.readRecords', 'w4.records', 'micro.forAwait'],
  W5: ['w5'],
  W6: ['w6'],
  W7: [],
  NAPI: ['napi'],
  P1: ['p1.1.none', 'p1.8.none', 'p1.1.lz4', 'p1.8.lz4', ...RAW_W1, 'plain.write', 'plain.write8', 'append.1x1000', 'append.8x125'],
  P3: ['p3', 'w3'],
};

// ---- children ----------------------------------------------------------------

const CHILD_TIMEOUT_MS = 20 * 60 * 1000;

/**
 * Runs one case in a fresh process. Resolves to { ok, result?, error?, signal }.
 * With expectKill the child must die of SIGKILL (W7's writers).
 */
function runChild(spec, { expectKill = false } = {}) {
  return new Promise((resolve) => {
    const child = fork(join(here, 'child.js'), [JSON.stringify(spec)], {
      execArgv: ['--expose-gc', '--max-old-space-size=6144'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let message = null;
    const timer = setTimeout(() => {
      message = { ok: false, error: `timed out after ${CHILD_TIMEOUT_MS / 60000} min` };
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.on('message', (m) => {
      message = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (expectKill) {
        if (signal === 'SIGKILL' && message === null) resolve({ ok: true, signal });
        else resolve({ ok: false, error: message?.error ?? `the writer exited with code ${code}, signal ${signal}, not SIGKILL` });
        return;
      }
      if (message === null) resolve({ ok: false, error: `the child exited with code ${code}, signal ${signal}, without a result` });
      else resolve({ ...message, signal });
    });
  });
}

// ---- W7 ------------------------------------------------------------------------

/** Needed free space before writing a W7 log of `size`: the log, its tails, and 2 GiB to spare (10 GiB for 8 GiB). */
const w7NeededBytes = (size) => size + 2 * GiB;

async function runW7(opts, results, log) {
  for (const size of opts.w7Sizes) {
    const key = `w7.${sizeLabel(size)}`;
    const entry = (results[key] = { runs: [], errors: [], params: { size, tail: opts.w7Tail } });
    const free = freeBytes(os.tmpdir());
    if (free < w7NeededBytes(size)) {
      entry.skipped = `skipped: ${(free / GiB).toFixed(1)} GiB free in ${os.tmpdir()}, ${(w7NeededBytes(size) / GiB).toFixed(1)} GiB needed`;
      log(`W7 ${sizeLabel(size)}: ${entry.skipped}`);
      continue;
    }
    const root = makeTempDir('w7');
    const dir = join(root, 'bench-0');
    const stateFile = join(root, 'state.json');
    try {
      for (let r = 0; r < opts.runs; r++) {
        const t0 = Date.now();
        const write =
          r === 0
            ? { module: 'workloads/reopen.js', fn: 'w7Write', params: { dir, n: opts.n, baseBytes: size, tailBytes: opts.w7Tail, stateFile } }
            : { module: 'workloads/reopen.js', fn: 'w7Tail', params: { dir, n: opts.n, tailBytes: opts.w7Tail, stateFile } };
        if (existsSync(stateFile)) unlinkSync(stateFile);
        const w = await runChild(write, { expectKill: true });
        if (!w.ok || !existsSync(stateFile)) {
          entry.errors.push(w.error ?? 'the writer left no state file');
          log(`W7 ${sizeLabel(size)} run ${r + 1}: writer failed: ${w.error ?? 'no state file'}`);
          break;
        }
        const res = await runChild({ module: 'workloads/reopen.js', fn: 'w7Open', params: { dir, stateFile } });
        if (!res.ok) {
          entry.errors.push(res.error);
          log(`W7 ${sizeLabel(size)} run ${r + 1}: ${res.error}`);
          break;
        }
        entry.runs.push(res.result);
        const m = res.result.metrics;
        log(
          `W7 ${sizeLabel(size)} run ${r + 1}/${opts.runs}: open ${fmtSeconds(m.openSec)} (scanned ${fmtBytes(m.bytesScanned)}), ` +
            `verifyLog ${m.verifyMBps.toFixed(0)} MB/s  [${((Date.now() - t0) / 1000).toFixed(0)} s with the write]`,
        );
      }
    } finally {
      removeDir(root);
    }
  }
}

// ---- rows and formatting -------------------------------------------------------

const fmtRate = (v, unit) =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)} M ${unit}` : v >= 1e3 ? `${(v / 1e3).toFixed(0)} k ${unit}` : `${v.toFixed(0)} ${unit}`;
const fmtSeconds = (s) => (s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms` : `${s.toFixed(2)} s`);
const fmtBytes = (b) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);

function fmtValue(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  switch (unit) {
    case 'rec/s':
    case 'ops/s':
      return fmtRate(v, unit);
    case 'us':
      return `${v.toFixed(2)} µs`;
    case 'ns':
      return `${v.toFixed(0)} ns`;
    case 's':
      return fmtSeconds(v);
    case 'x':
      return `${v.toFixed(3)}×`;
    case '%':
      return `${(v * 100).toFixed(0)} %`;
    case 'MB/s':
      return `${v.toFixed(0)} MB/s`;
    case 'bytes':
      return fmtBytes(v);
    default:
      return String(v);
  }
}

function fmtTarget(t, unit) {
  if (!t) return '—';
  const [cmp, value] = t;
  return `${cmp === '>=' ? '≥' : '≤'} ${fmtValue(value, unit)}`;
}

/**
 * The table. Each row: { label, value: (m) => number|null, unit, target?,
 * note?: (m) => string }. `m(caseKey)` is a case's median metrics or null.
 */
function buildRows(opts, get, spread) {
  const rows = [];
  const has = (k) => get(k) !== null;
  const metric = (k, name) => (has(k) ? get(k)[name] : null);
  const share = (key, ref, what) => {
    const a = metric(key, 'recPerSec');
    return a !== null && ref ? `${((a / ref) * 100).toFixed(0)} % of ${what}` : '';
  };
  const bestRaw = (keys) => {
    const v = keys.map((k) => metric(k, 'recPerSec')).filter((x) => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const row = (section, label, key, name, unit, target, note) => {
    if (!has(key)) return;
    rows.push({ section, label, case: key, metric: name, value: metric(key, name), unit, target: target ?? null, note: note ?? '', spread: spread(key, name) });
  };
  const plainW = metric('plain.write', 'recPerSec');
  const plainR = metric('plain.read', 'recPerSec');
  const plainD = metric('plain.durable', 'recPerSec');

  row('W1', 'W1 append 1,000/batch: appendSync', 'w1.appendSync', 'recPerSec', 'rec/s', ['>=', 3.0e6], share('w1.appendSync', plainW, 'plain write'));
  row('W1', 'W1 append 1,000/batch: await append (written)', 'w1.append', 'recPerSec', 'rec/s', ['>=', 3.0e6], share('w1.append', plainW, 'plain write'));
  row('W1', 'plain file write, 124-byte rows (JS floor)', 'plain.write', 'recPerSec', 'rec/s', null, 'DESIGN §6: 3.19 M rec/s');
  row('W1', 'W1 lz4, compressible values: appendSync', 'w1.lz4.appendSync', 'recPerSec', 'rec/s', null, 'reference for P1 lz4');
  row('W1', 'W1 lz4, compressible values: await append', 'w1.lz4.append', 'recPerSec', 'rec/s', null, 'reference for P1 lz4');
  row('DISK', 'bytes on disk / payload (W1, after close)', 'w1.appendSync', 'diskRatio', 'x', ['<=', 1.08], has('w1.appendSync') ? `${fmtBytes(metric('w1.appendSync', 'diskBytes'))} for ${opts.n.toLocaleString('en')} × 124 B` : '');
  row('DISK', 'bytes on disk / payload, lz4 compressible', 'w1.lz4.appendSync', 'diskRatio', 'x', null, 'info');
  row('W2', 'W2 durable append, 100/batch, each synced', 'w2', 'recPerSec', 'rec/s', ['>=', 400e3], plainD ? share('w2', plainD, 'plain durable write') : 'DESIGN plain file: 432 k rec/s');
  row('W2', 'plain file, 100 rows + fdatasync each (W2 floor)', 'plain.durable', 'recPerSec', 'rec/s', null, has('plain.durable') ? `${metric('plain.durable', 'syncsPerSec').toFixed(0)} fdatasync/s; DESIGN: 8,800/s` : '');
  row('W3', 'W3 64 writers, 1 durable record each', 'w3', 'recPerSec', 'rec/s', ['>=', 200e3], `${opts.n3.toLocaleString('en')} records; DESIGN plain file: 153 k`);
  row('W4', 'W4 sequential read: readRecords (sync)', 'w4.readRecords', 'recPerSec', 'rec/s', ['>=', 4.0e6], share('w4.readRecords', plainR, 'plain read'));
  row('W4', 'W4 sequential read: for await records()', 'w4.records', 'recPerSec', 'rec/s', ['>=', 4.0e6], share('w4.records', plainR, 'plain read'));
  row('W4', 'for await over a trivial async iterator (floor of records())', 'micro.forAwait', 'nsPerItem', 'ns', null, has('micro.forAwait') ? `${fmtValue(metric('micro.forAwait', 'itemsPerSec'), 'rec/s')} of ready objects` : '');
  row('W4', 'plain file read, 124-byte rows (JS floor)', 'plain.read', 'recPerSec', 'rec/s', null, 'DESIGN §6: 4.38 M rec/s');
  for (const [w, what, thr, p99] of [
    ['w5', 'W5 random get(offset)', 400e3, 10],
    ['w6', 'W6 offsetForTimestamp', 300e3, 15],
  ]) {
    const W = w.toUpperCase();
    row(W, `${what}: throughput`, w, 'opsPerSec', 'ops/s', ['>=', thr]);
    row(W, `${what}: p50 (hrtime per op)`, w, 'p50us', 'us', null, has(w) ? `hrtime pair costs ${metric(w, 'hrtimePairNs').toFixed(0)} ns (included)` : '');
    row(W, `${what}: p99 (hrtime per op)`, w, 'p99us', 'us', ['<=', p99], has(w) ? `p99.9 ${metric(w, 'p999us').toFixed(1)} µs` : '');
    row(W, `${what}: tinybench throughput`, w, 'tbOpsPerSec', 'ops/s', null, 'cross-check (1 call per sample)');
    row(W, `${what}: tinybench p99`, w, 'tbP99us', 'us', null, has(w) ? `p50 ${metric(w, 'tbP50us').toFixed(2)} µs` : '');
  }
  const w7keys = opts.w7Sizes.map((s) => `w7.${sizeLabel(s)}`);
  for (const k of w7keys) {
    const size = k.slice(3);
    const e = get(k);
    if (e && e.skipped) {
      rows.push({ section: 'W7', label: `W7 reopen after kill -9, ${size} + ${sizeLabel(opts.w7Tail)} unsynced`, case: k, value: null, unit: 's', target: ['<=', 1], note: e.skipped, spread: null, skipped: true });
      continue;
    }
    row('W7', `W7 reopen after kill -9, ${size} + ${sizeLabel(opts.w7Tail)} unsynced: Log.open`, k, 'openSec', 's', ['<=', 1], has(k) ? `scanned ${fmtBytes(metric(k, 'bytesScanned'))}` : '');
    row('W7', `verifyLog over the ${size} log`, k, 'verifyMBps', 'MB/s', null, has(k) ? `${fmtBytes(metric(k, 'logBytes'))} in ${fmtSeconds(metric(k, 'verifySec'))}` : '');
  }
  const opened = w7keys.filter((k) => has(k) && !get(k).skipped);
  if (opened.length >= 2) {
    const first = metric(opened[0], 'openSec');
    const last = metric(opened[opened.length - 1], 'openSec');
    rows.push({
      section: 'W7',
      label: `W7 flatness: open(${opened[opened.length - 1].slice(3)}) / open(${opened[0].slice(3)})`,
      case: 'w7',
      value: last / first,
      unit: 'x',
      target: null,
      note: 'flat in size: close to 1×',
      spread: null,
    });
  }
  row('NAPI', `N-API no-op call (loop of ${(opts.quick ? 1e6 : 1e7).toLocaleString('en')})`, 'napi', 'nsPerCall', 'ns', null, 'boundary cost per call');
  row('NAPI', 'N-API no-op call (tinybench, p50 of 1,000-call samples)', 'napi', 'tbNsPerCallP50', 'ns', null, has('napi') ? `mean ${metric('napi', 'tbNsPerCallMean').toFixed(1)} ns` : '');

  const rawNone = bestRaw(['w1.appendSync', 'w1.append']);
  const rawLz4 = bestRaw(['w1.lz4.appendSync', 'w1.lz4.append']);
  for (const [k, label, raw] of [
    ['p1.1.none', 'P1 producer W1, 1 partition', rawNone],
    ['p1.8.none', 'P1 producer W1, 8 partitions', rawNone],
    ['p1.1.lz4', 'P1 producer W1 lz4 compressible, 1 partition', rawLz4],
    ['p1.8.lz4', 'P1 producer W1 lz4 compressible, 8 partitions', rawLz4],
  ]) {
    if (!has(k)) continue;
    const v = metric(k, 'recPerSec');
    row('P1', label, k, 'recPerSec', 'rec/s', null, raw ? `raw log (best path) ${fmtValue(raw, 'rec/s')}` : 'raw W1 not run');
    if (raw) rows.push({ section: 'P1', label: `${label}: producer / raw`, case: k, value: v / raw, unit: '%', target: ['>=', 0.85], note: '', spread: null });
  }
  if (has('plain.write8')) {
    const one = metric('plain.write', 'recPerSec');
    row('P1', 'plain file write to 8 files, 125-row writes round robin, then fdatasync (P1 8-partition floor)', 'plain.write8', 'recPerSec', 'rec/s', null, one ? `${((100 * metric('plain.write8', 'recPerSec')) / one).toFixed(0)} % of the plain write to 1 file` : '');
  }
  for (const [k, label] of [
    ['append.1x1000', 'pre-encoded batches appended: 1 log, 1,000 records/batch (1,000 calls)'],
    ['append.8x125', 'pre-encoded batches appended: 8 logs, 125 records/batch (8,000 calls)'],
  ]) {
    if (!has(k)) continue;
    const cpu = `CPU user ${metric(k, 'userMsPerMillion').toFixed(0)} ms + system ${metric(k, 'systemMsPerMillion').toFixed(0)} ms; ${metric(k, 'usPerCall').toFixed(1)} µs/call`;
    row('P1', `${label}, per 1 M records`, k, 'secondsPerMillion', 's', null, cpu);
  }
  if (has('p3')) {
    const raw = metric('w3', 'recPerSec');
    const v = metric('p3', 'recPerSec');
    row('P3', 'P3 producer W3, 64 senders, durable', 'p3', 'recPerSec', 'rec/s', null, raw ? `raw log ${fmtValue(raw, 'rec/s')}` : 'raw W3 not run');
    if (raw) rows.push({ section: 'P3', label: 'P3 producer W3: producer / raw', case: 'p3', value: v / raw, unit: '%', target: ['>=', 0.85], note: '', spread: null });
  }
  for (const r of rows) Object.assign(r, judge(r));
  return rows;
}

/** pass/MISS and "% of target" (≥ 100 % means the target is met, whatever its direction). */
function judge(r) {
  if (r.skipped) return { result: 'skipped', ofTarget: null };
  if (!r.target || r.value === null || r.value === undefined) return { result: r.target ? 'n/a' : '', ofTarget: null };
  const [cmp, t] = r.target;
  const ok = cmp === '>=' ? r.value >= t : r.value <= t;
  const ofTarget = cmp === '>=' ? r.value / t : t / r.value;
  return { result: ok ? 'pass' : 'MISS', ofTarget };
}

function tableLines(rows, markdown) {
  const head = ['workload', 'median', 'target', 'result', '% of target', 'runs (min – max)', 'notes'];
  const body = rows.map((r) => [
    r.label,
    fmtValue(r.value, r.unit),
    fmtTarget(r.target, r.unit),
    r.result,
    r.ofTarget === null ? '' : `${(r.ofTarget * 100).toFixed(0)} %`,
    r.spread ? `${fmtValue(r.spread[0], r.unit)} – ${fmtValue(r.spread[1], r.unit)}` : '',
    r.note,
  ]);
  if (markdown) {
    const esc = (s) => String(s).replace(/\|/g, '\\|');
    return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || i === 6 ? '---' : '---:')).join('|')}|`, ...body.map((b) => `| ${b.map(esc).join(' | ')} |`)];
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 6 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

// ---- main ------------------------------------------------------------------------

async function main() {
  let opts;
  try {
    opts = parseFlags(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  const startedAt = new Date();
  const machine = machineContext();
  const log = (s) => console.log(s);
  log(`tidelog bench: ${opts.quick ? 'QUICK (smoke test, not comparable to targets), ' : ''}${opts.n.toLocaleString('en')} records, ${opts.runs} run(s), median shown`);
  log(`machine: ${machine.cpuModel} × ${machine.cpus}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.platform}`);
  log(`data dir: ${machine.tmpdir} on ${machine.fs}, ${machine.freeGiB} GiB free; load average ${machine.loadavg.join(' ')}`);

  const caseKeys = [...new Set(opts.only.flatMap((w) => WORKLOADS[w]))].sort(
    (a, b) => Object.keys(CASES).indexOf(a) - Object.keys(CASES).indexOf(b),
  );
  const results = {};
  for (const k of caseKeys) results[k] = { runs: [], errors: [], params: CASES[k].params(opts) };
  for (let r = 0; r < opts.runs; r++) {
    for (const k of caseKeys) {
      const c = CASES[k];
      const t0 = Date.now();
      const res = await runChild({ module: c.module, fn: c.fn, params: results[k].params });
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (res.ok) {
        results[k].runs.push(res.result);
        const m = res.result.metrics;
        const main = m.recPerSec !== undefined ? fmtValue(m.recPerSec, 'rec/s') : m.opsPerSec !== undefined ? `${fmtValue(m.opsPerSec, 'ops/s')}, p99 ${m.p99us.toFixed(2)} µs` : m.nsPerItem !== undefined ? `${m.nsPerItem.toFixed(0)} ns/item` : m.secondsPerMillion !== undefined ? `${fmtValue(m.secondsPerMillion, 's')} per 1 M records, ${m.usPerCall.toFixed(1)} µs/call` : `${m.nsPerCall.toFixed(1)} ns/call`;
        log(`run ${r + 1}/${opts.runs}  ${k.padEnd(18)} ${main}  [${secs} s in the child]`);
      } else {
        results[k].errors.push(res.error);
        log(`run ${r + 1}/${opts.runs}  ${k.padEnd(18)} FAILED: ${res.error}`);
      }
    }
  }
  if (opts.only.includes('W7')) await runW7(opts, results, log);

  const medians = {};
  for (const [k, e] of Object.entries(results)) {
    if (e.skipped) {
      medians[k] = { skipped: e.skipped };
      continue;
    }
    if (e.runs.length === 0) continue;
    const names = Object.keys(e.runs[0].metrics);
    medians[k] = Object.fromEntries(names.map((n) => [n, median(e.runs.map((x) => x.metrics[n]))]));
  }
  const get = (k) => medians[k] ?? null;
  const spread = (k, name) => {
    const e = results[k];
    if (!e || e.runs.length < 2) return null;
    const v = e.runs.map((x) => x.metrics[name]).filter(Number.isFinite);
    return [Math.min(...v), Math.max(...v)];
  };
  const rows = buildRows(opts, get, spread);
  machine.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

  log('');
  for (const l of tableLines(rows, false)) log(l);
  const failed = Object.entries(results).filter(([, e]) => e.errors.length > 0);
  if (failed.length) {
    log('');
    for (const [k, e] of failed) log(`ERROR in ${k}: ${e.errors[0].split('\n')[0]}`);
  }
  log(`\nload average at the end: ${machine.loadavgAtEnd.join(' ')}`);

  if (opts.save) {
    const dir = join(here, 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const name = `bench-${stamp}${opts.quick ? '-quick' : ''}`;
    const command = `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim();
    const json = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), command, options: opts, machine, rows, medians, results };
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
    const md = [
      `# tidelog bench, ${startedAt.toISOString()}${opts.quick ? ' (QUICK: smoke test, not comparable to targets)' : ''}`,
      '',
      `Command: \`${command}\` — ${opts.n.toLocaleString('en')} records, medians of ${opts.runs} run(s), each case in a fresh process.`,
      '',
      `Machine: ${machine.cpuModel} × ${machine.cpus}, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.platform}; data in ${machine.tmpdir} (${machine.fs}); load average ${machine.loadavg.join(' ')} at the start, ${machine.loadavgAtEnd.join(' ')} at the end.`,
      '',
      ...tableLines(rows, true),
      '',
      ...failed.map(([k, e]) => `- ERROR in ${k}: ${e.errors[0].split('\n')[0]}`),
    ].join('\n');
    writeFileSync(join(dir, `${name}.md`), `${md}\n`);
    copyFileSync(join(dir, `${name}.json`), join(dir, 'latest.json'));
    copyFileSync(join(dir, `${name}.md`), join(dir, 'latest.md'));
    log(`results: bench/results/${name}.{json,md} (and latest.*)`);
  }
  if (failed.length) process.exitCode = 1;
}

await main();
