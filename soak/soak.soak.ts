/**
 * The soak: the generators of the crash and fault suites, run without bounds
 * until the time is up, each iteration with a fresh random seed. Started by
 * soak/run.mjs (`npm run soak -- --minutes N`), which passes:
 *
 *   SOAK_MINUTES   how long to start new iterations for
 *   SOAK_SEED      the seed the iteration seeds are drawn from (random if unset)
 *   SOAK_ONLY      comma-separated generator names (all if unset)
 *   SOAK_REPLAY    "<generator>:<seed>": run that one iteration, nothing else
 *   SOAK_DIR       where to write progress.jsonl (one line per iteration,
 *                  started and finished) and summary.json
 *
 * Generators (each iteration is a function of its seed: options, sizes,
 * record contents, kill delays; the moments the kills land are wall-clock and
 * so differ between a run and its replay):
 *
 *   log-kill       chained SIGKILL/recover cycles of a Log writer child
 *                  (test/crash/util.ts runChain) with random segment and index
 *                  sizes, acks, compression, truncation rate and concurrency
 *   store-producer chained SIGKILL cycles of an idempotent producer through the
 *                  Store (test/fault/kill-chains.ts runProducerChain)
 *   store-topics   chained SIGKILL cycles of topic create/grow/delete with data
 *                  (test/fault/kill-chains.ts runTopicChain)
 *   power-loss     a random power-loss scenario: durable appends, a sync point,
 *                  written appends; crash states of what changed since
 *                  (test/fault/power-loss-model.ts and power-loss-states.ts)
 *                  reopened and checked
 *   disk-full      (root only, on a fresh tmpfs) appends until the file system
 *                  is full: every failure is a DiskFullError that changes
 *                  nothing; space freed, appends go on; reopen; verifyLog
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DiskFullError, Log } from '../src/index.js';
import { LogModel, checkLog, ensureDist, expectVerified, recordFor, rng, runChain } from '../test/crash/util.js';
import { runProducerChain, runTopicChain } from '../test/fault/kill-chains.js';
import { type Scenario, type Writer, runScenario, checkState } from '../test/fault/power-loss-model.js';
import { type CrashState, crashState } from '../test/fault/power-loss-states.js';

interface Outcome {
  /** Kill/recover cycles (or disk-full rounds) run. */
  cycles: number;
  /** Crash states (recovered directories) checked against a model. */
  states: number;
  /** Records verified byte for byte (summed over every check). */
  records: number;
}

type Generator = (seed: number) => Promise<Outcome>;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const between = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

// ---- generators ------------------------------------------------------------------

const logKill: Generator = async (seed) => {
  const r = rng(seed);
  const segmentBytes = pick(r, [1024, 2048, 4096, 64 * 1024, 1024 * 1024]);
  const acks = pick(r, ['durable', 'written'] as const);
  const truncateEvery = pick(r, [0, 0, 0.03, 0.15]);
  const maxMessageBytes = Math.min(segmentBytes, 64 * 1024);
  const maxValueBytes = segmentBytes <= 2048 ? 200 : pick(r, [100, 600]);
  // A batch must fit maxMessageBytes: records are up to maxValueBytes + ~80 bytes (crash/records.mjs).
  const maxBatch = Math.max(1, Math.min(between(r, 1, 20), Math.floor((maxMessageBytes - 61) / (maxValueBytes + 80))));
  const dir = scratch('tidelog-soak-log-');
  const opsDir = scratch('tidelog-soak-ops-');
  try {
    const verifyEvery = between(r, 1, 3);
    const openEvery = between(r, 3, 6);
    const report = await runChain({
      dir,
      opsDir,
      seed,
      cycles: between(r, 4, 10),
      options: {
        segmentBytes,
        maxMessageBytes,
        maxIndexBytes: pick(r, [64, 256, 4096, 64 * 1024]),
        indexIntervalBytes: pick(r, [128, 1024, 4096]),
        checkpointIntervalBytes: pick(r, [1024, 48 * 1024, 16 * 1024 * 1024]),
        ...(r() < 0.2 ? { segmentMs: between(r, 20, 500) } : {}),
      },
      writer: {
        acks,
        concurrency: between(r, 1, 8),
        maxBatch,
        maxValueBytes,
        truncateEvery,
        truncateSpan: pick(r, [50, 500, 5000]),
        maxRecords: pick(r, [2_000, 20_000, 150_000]),
        pauseMs: acks === 'written' ? pick(r, [0, 1]) : 0,
      },
      compression: (c) => (['none', 'lz4', 'mixed'] as const)[(c + seed) % 3],
      verifyAfter: (c) => c % verifyEvery === verifyEvery - 1,
      killDuringOpen: (c) => c % openEvery === openEvery - 1,
      minDelayMs: 20,
      maxDelayMs: between(r, 100, 600),
      open: (d, options) => Log.open(d, options),
    });
    return {
      cycles: report.cycles,
      states: report.recoveries.byChild + report.recoveries.byTest,
      records: report.records,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(opsDir, { recursive: true, force: true });
  }
};

const storeProducer: Generator = async (seed) => {
  const r = rng(seed);
  const { stats, records, dirs } = await runProducerChain({
    seed,
    cycles: between(r, 4, 9),
    partitions: between(r, 1, 4),
    acks: pick(r, ['durable', 'written'] as const),
    named: r() < 0.5,
    compression: pick(r, ['none', 'lz4'] as const),
    senders: between(r, 1, 6),
    maxRecords: between(r, 1, 12),
  });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  return { cycles: stats.cycles, states: stats.cycles, records };
};

const storeTopics: Generator = async (seed) => {
  const r = rng(seed);
  const cycles = between(r, 4, 9);
  const { records, dirs } = await runTopicChain({ seed, cycles });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  return { cycles, states: cycles, records };
};

/** A random power-loss scenario: durable appends (maybe a truncation), a sync point, written appends. */
function randomScenario(r: () => number): Scenario {
  const segmentBytes = pick(r, [4096, 16 * 1024, 64 * 1024, 1024 * 1024]);
  // Records are up to ~960 bytes (power-loss-model.ts MAX_VALUE_BYTES): a batch must fit a segment.
  const maxBatch = Math.max(1, Math.min(12, Math.floor(segmentBytes / 1100)));
  const options = {
    segmentBytes,
    maxMessageBytes: segmentBytes,
    indexIntervalBytes: pick(r, [256, 1024, 4096]),
    maxIndexBytes: pick(r, [128, 4096, 64 * 1024]),
    checkpointIntervalBytes: pick(r, [1024, 64 * 1024]),
  };
  const durable = between(r, 0, 300);
  const concurrent = r() < 0.4 ? between(r, 2, 8) : 0;
  const truncate = r() < 0.3;
  const written = between(r, 1, 400);
  return {
    name: `random: segments of ${segmentBytes} B, ${durable} durable, ${written} written${truncate ? ', a truncation' : ''}`,
    options,
    run: async (w: Writer) => {
      if (durable > 0) await w.appendMany(durable, 'durable', maxBatch);
      if (concurrent > 0) await w.appendConcurrently(concurrent, maxBatch);
      if (truncate && w.end > 0) await w.truncateTo(Math.floor(w.end * r()));
      await w.syncPoint();
      await w.appendMany(written, 'written', maxBatch);
    },
  };
}

const powerLoss: Generator = async (seed) => {
  const r = rng(seed);
  const run = await runScenario(randomScenario(r), seed, rng);
  const states: CrashState[] = [
    crashState(run.old, run.now, 'synced-absent'),
    crashState(run.old, run.now, 'synced-empty'),
    crashState(run.old, run.now, 'written-back'),
  ];
  const pages = between(r, 5, 20);
  for (let i = 0; i < pages; i++) states.push(crashState(run.old, run.now, 'pages', seed * 1000 + i));
  let records = 0;
  for (const st of states) records += (await checkState(run, st, `soak/${st.mode}/${st.seed}`)).end;
  return { cycles: 1, states: states.length, records };
};

/** Whether this process may mount a tmpfs (root, and a kernel that allows it). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const mnt = scratch('tidelog-soak-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  if (r.status === 0) spawnSync('umount', [mnt]);
  rmdirSync(mnt);
  return r.status === 0;
}

const diskFull: Generator = async (seed) => {
  const r = rng(seed);
  const mnt = scratch('tidelog-soak-diskfull-');
  const size = between(r, 2, 8) * 1024 * 1024;
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs on ${mnt} failed: ${m.stderr}`);
  const dir = join(mnt, 'log');
  const maxValue = pick(r, [200, 2000, 8000]);
  const segmentBytes = pick(r, [64 * 1024, 256 * 1024, 1024 * 1024]);
  const options = { segmentBytes, maxMessageBytes: segmentBytes, maxIndexBytes: pick(r, [4096, 64 * 1024]), indexIntervalBytes: 4096 };
  const model = new LogModel();
  let fullErrors = 0;
  let states = 0;
  try {
    // A filler to free space with later, without asking the log for anything.
    const fd = openSync(join(mnt, 'filler'), 'w');
    writeSync(fd, Buffer.alloc(between(r, 64, 512) * 1024, 1));
    closeSync(fd);
    let log = await Log.open(dir, options);
    try {
      let n = 0;
      // Append until the file system refuses, then a few more tries: each either works or is a DiskFullError.
      for (let tries = 0; tries < 20_000 && fullErrors < 5; tries++) {
        const base = log.logEndOffset;
        const tag = `df${seed}.${n++}`;
        // At most as many records as fit in maxMessageBytes uncompressed (a value is
        // up to maxValue bytes plus its tag), so that the only refusal is the disk's:
        // 10 values of 8,000 bytes made a 65,627-byte batch for a 64 KiB limit
        // (replay disk-full:2009783429), a BatchTooLargeError, rightly.
        const count = between(r, 1, Math.min(10, Math.floor((segmentBytes - 1024) / (maxValue + 128))));
        const records = Array.from({ length: count }, (_, j) => recordFor(tag, base + j, maxValue));
        try {
          const res = await log.append(records, { acks: pick(r, ['written', 'durable'] as const), compression: r() < 0.3 ? 'lz4' : 'none' });
          expect(res.baseOffset).toBe(base);
          model.addBatch(base, count, tag);
        } catch (err) {
          expect(err, `append at ${base}: ${String(err)}`).toBeInstanceOf(DiskFullError);
          // Refused by the write: nothing changed. Or written, and the sync of a
          // durable ack failed: the batch is there (a process crash would keep it too).
          const end = log.logEndOffset;
          if (end !== base) {
            expect(end, 'a refused append is all or nothing').toBe(base + count);
            model.addBatch(base, count, tag);
          }
          fullErrors++;
        }
      }
      expect(fullErrors, 'the file system filled up').toBeGreaterThan(0);
      checkLog(log, model, maxValue);
      states++;
      // Space comes back: appends go on.
      rmSync(join(mnt, 'filler'));
      for (let i = 0; i < 3; i++) {
        const base = log.logEndOffset;
        const tag = `df${seed}.after${i}`;
        const res = await log.append([recordFor(tag, base, maxValue)], { acks: 'durable' });
        expect(res.baseOffset).toBe(base);
        model.addBatch(base, 1, tag);
      }
    } finally {
      await log.close();
    }
    log = await Log.open(dir, options);
    try {
      expect(log.recovery.clean).toBe(true);
      checkLog(log, model, maxValue);
      states++;
    } finally {
      await log.close();
    }
    await expectVerified(dir, model.end);
    return { cycles: 1, states, records: 2 * model.end };
  } finally {
    const u = spawnSync('umount', [mnt]);
    if (u.status !== 0) spawnSync('umount', ['-l', mnt]);
    rmdirSync(mnt);
  }
};

// ---- the loop --------------------------------------------------------------------

const GENERATORS: Record<string, Generator> = {
  'log-kill': logKill,
  'store-producer': storeProducer,
  'store-topics': storeTopics,
  'power-loss': powerLoss,
  'disk-full': diskFull,
};

interface Failure {
  generator: string;
  seed: number;
  message: string;
}

it('soak', async () => {
  ensureDist();
  const out = process.env.SOAK_DIR ?? scratch('tidelog-soak-out-');
  const progress = (o: Record<string, unknown>) => appendFileSync(join(out, 'progress.jsonl'), `${JSON.stringify(o)}\n`);
  const minutes = Number(process.env.SOAK_MINUTES ?? '10');
  const baseSeed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const skipped: Record<string, string> = {};
  let names = Object.keys(GENERATORS);
  if (process.env.SOAK_ONLY) {
    names = process.env.SOAK_ONLY.split(',').map((s) => s.trim());
    for (const n of names) if (!GENERATORS[n]) throw new Error(`unknown generator ${n}; known: ${Object.keys(GENERATORS).join(', ')}`);
  }
  if (names.includes('disk-full') && !canMountTmpfs()) {
    skipped['disk-full'] = 'needs root and a mountable tmpfs';
    names = names.filter((n) => n !== 'disk-full');
  }
  let plan: { generator: string; seed: number }[] | null = null;
  if (process.env.SOAK_REPLAY) {
    const [g, s] = process.env.SOAK_REPLAY.split(':');
    if (!GENERATORS[g] || !Number.isSafeInteger(Number(s))) throw new Error(`--replay takes <generator>:<seed>, got ${process.env.SOAK_REPLAY}`);
    plan = [{ generator: g, seed: Number(s) }];
  }
  if (!plan && names.length === 0) throw new Error('no generator to run');

  const seeds = rng(baseSeed);
  const started = Date.now();
  const deadline = started + minutes * 60_000;
  const per: Record<string, { iterations: number; cycles: number; states: number; records: number; failures: number; ms: number }> = {};
  const failures: Failure[] = [];
  let i = 0;
  while (plan ? i < plan.length : Date.now() < deadline) {
    const generator = plan ? plan[i].generator : names[i % names.length];
    const seed = plan ? plan[i].seed : Math.floor(seeds() * 2 ** 31);
    i++;
    const t0 = Date.now();
    progress({ event: 'start', generator, seed, at: t0 - started });
    const p = (per[generator] ??= { iterations: 0, cycles: 0, states: 0, records: 0, failures: 0, ms: 0 });
    p.iterations++;
    try {
      const o = await GENERATORS[generator](seed);
      p.cycles += o.cycles;
      p.states += o.states;
      p.records += o.records;
      progress({ event: 'done', generator, seed, ...o, ms: Date.now() - t0 });
    } catch (err) {
      const message = String((err as Error)?.stack ?? err).split('\n').slice(0, 12).join('\n');
      p.failures++;
      failures.push({ generator, seed, message });
      progress({ event: 'failed', generator, seed, message, ms: Date.now() - t0 });
    }
    p.ms += Date.now() - t0;
  }
  const summary = { baseSeed, minutes, ms: Date.now() - started, generators: per, skipped, failures };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
  expect(failures, 'soak failures (replay each with npm run soak -- --replay <generator>:<seed>)').toEqual([]);
});
