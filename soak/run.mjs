#!/usr/bin/env node
// `npm run soak -- [--minutes N] [--seed S] [--only g1,g2] [--replay <generator>:<seed>]`
//
// Runs soak/soak.soak.ts (the crash and fault generators, unbounded, with
// random seeds) through vitest with soak/vitest.config.ts — never part of
// `npm test` — and prints a summary: iterations, kill/recover cycles, crash
// states checked and records verified per generator, and every failure with
// the command that replays it. Exits 1 on any failure (or if the soak process
// died: the iteration it was in is then reported as the failure).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GENERATORS = ['log-kill', 'store-producer', 'store-topics', 'power-loss', 'disk-full'];

function usage(msg) {
  if (msg) console.error(`soak: ${msg}`);
  console.error(
    'usage: npm run soak -- [--minutes N] [--seed S] [--only g1,g2] [--replay <generator>:<seed>]\n' +
      `generators: ${GENERATORS.join(', ')}`,
  );
  process.exit(2);
}

const args = { minutes: '10', seed: undefined, only: undefined, replay: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const m = /^--(minutes|seed|only|replay)(?:=(.*))?$/.exec(argv[i]);
  if (!m) usage(`unknown argument ${argv[i]}`);
  const value = m[2] ?? argv[++i];
  if (value === undefined) usage(`--${m[1]} needs a value`);
  args[m[1]] = value;
}
if (!(Number(args.minutes) > 0)) usage(`--minutes must be a positive number, got ${args.minutes}`);
if (args.seed !== undefined && !Number.isSafeInteger(Number(args.seed))) usage(`--seed must be an integer, got ${args.seed}`);
for (const g of args.only ? args.only.split(',') : []) if (!GENERATORS.includes(g)) usage(`unknown generator ${g}`);
if (args.replay !== undefined && !/^[a-z-]+:\d+$/.test(args.replay)) usage(`--replay takes <generator>:<seed>, got ${args.replay}`);
const seed = args.seed ?? String(Math.floor(Math.random() * 2 ** 31));

const out = mkdtempSync(join(tmpdir(), 'tidelog-soak-'));
const env = { ...process.env, SOAK_MINUTES: args.minutes, SOAK_SEED: seed, SOAK_DIR: out };
if (args.only) env.SOAK_ONLY = args.only;
if (args.replay) env.SOAK_REPLAY = args.replay;

const started = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
console.log(
  args.replay
    ? `soak: replaying ${args.replay}`
    : `soak: ${args.minutes} min, seed ${seed}${args.only ? `, only ${args.only}` : ''} (progress every 30 s)`,
);

function progressLines() {
  const f = join(out, 'progress.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const ticker = setInterval(() => {
  const lines = progressLines();
  const done = lines.filter((l) => l.event !== 'start');
  const failed = done.filter((l) => l.event === 'failed').length;
  const last = lines.at(-1);
  const now = last && last.event === 'start' ? `, running ${last.generator} seed ${last.seed}` : '';
  console.log(`[${clock()}] ${done.length} iterations, ${failed} failed${now}`);
}, 30_000);

const child = spawn(
  process.execPath,
  [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(ROOT, 'soak/vitest.config.ts'), '--reporter=dot'],
  { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
);
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const { code, signal } = await new Promise((res) => child.on('exit', (c, s) => res({ code: c, signal: s })));
clearInterval(ticker);

const summaryFile = join(out, 'summary.json');
let summary = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : null;
if (summary === null) {
  // The soak process died (a SIGBUS, an abort) or never started: name what it was running.
  const lines = progressLines();
  const last = lines.at(-1);
  const failures = [];
  if (last && last.event === 'start') {
    failures.push({ generator: last.generator, seed: last.seed, message: `the soak process died while running it (exit ${code}, signal ${signal})` });
  } else {
    failures.push({ generator: '(none)', seed: Number(seed), message: `vitest exited (code ${code}, signal ${signal}) without a summary` });
  }
  const generators = {};
  for (const l of lines.filter((x) => x.event === 'done')) {
    const g = (generators[l.generator] ??= { iterations: 0, cycles: 0, states: 0, records: 0, failures: 0, ms: 0 });
    g.iterations++;
    g.cycles += l.cycles;
    g.states += l.states;
    g.records += l.records;
    g.ms += l.ms;
  }
  summary = { baseSeed: Number(seed), generators, skipped: {}, failures, ms: Date.now() - started };
  console.log(output.split('\n').slice(-60).join('\n'));
}

const gens = Object.entries(summary.generators);
const total = (k) => gens.reduce((n, [, g]) => n + g[k], 0);
console.log(`\nsoak summary (${(summary.ms / 60000).toFixed(1)} min, seed ${summary.baseSeed})`);
console.log('generator        iterations   cycles   states     records  failures');
for (const [name, g] of gens) {
  console.log(
    `${name.padEnd(16)} ${String(g.iterations).padStart(10)} ${String(g.cycles).padStart(8)} ${String(g.states).padStart(8)} ${String(g.records).padStart(11)} ${String(g.failures).padStart(9)}`,
  );
}
console.log(
  `${'total'.padEnd(16)} ${String(total('iterations')).padStart(10)} ${String(total('cycles')).padStart(8)} ${String(total('states')).padStart(8)} ${String(total('records')).padStart(11)} ${String(summary.failures.length).padStart(9)}`,
);
for (const [name, why] of Object.entries(summary.skipped ?? {})) console.log(`skipped ${name}: ${why}`);
for (const f of summary.failures) {
  console.log(`\nFAILED ${f.generator} seed ${f.seed}\n  replay: npm run soak -- --replay ${f.generator}:${f.seed}\n  ${f.message.split('\n').join('\n  ')}`);
}
const ok = summary.failures.length === 0 && code === 0;
if (!ok && summary.failures.length === 0) console.log(output.split('\n').slice(-40).join('\n'));
rmSync(out, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
