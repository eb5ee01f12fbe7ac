#!/usr/bin/env node
// `npm run test:asan [-- <vitest args>]`: builds the addon with AddressSanitizer
// and UndefinedBehaviorSanitizer in build-asan/ (never in build/, which other
// processes load) and runs the test suite against it.
//
// - build-asan/ holds a copy of binding.gyp and native/ (files rewritten only
//   when their content changed, so make stays incremental) configured with
//   `node-gyp configure --tidelog_sanitize=true` (see binding.gyp); the addon
//   is build-asan/build/Release/tidelog.node.
// - The tests run with TIDELOG_ADDON pointing at it (src/native.ts loads that
//   path and nothing else) and with g++'s libasan/libubsan in LD_PRELOAD (node
//   itself is not instrumented: the runtime must be loaded before anything
//   else). Child processes spawned by the tests inherit all of it.
// - Any report aborts the process that hit it (halt_on_error, abort_on_error,
//   -fno-sanitize-recover=undefined) and is also written to
//   build-asan/reports/<asan|ubsan>.<pid>; the run fails if vitest fails or if
//   any report file exists afterwards (a report in a child a test killed
//   anyway still fails the run).
// - detect_leaks=0: LeakSanitizer would report node's and V8's own allocations,
//   which they do not free at exit; the addon's file descriptors and mappings
//   are checked by test/fault/leaks.test.ts instead.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'build-asan');
const ADDON = join(OUT, 'build/Release/tidelog.node');
const REPORTS = join(OUT, 'reports');
const NODE_GYP = join(ROOT, 'node_modules/node-gyp/bin/node-gyp.js');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`test:asan: ${cmd} ${args.join(' ')} failed (${r.signal ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

/** Copies `from` to `to` when the content differs (keeps mtimes of unchanged files for make). */
function sync(from, to) {
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) sync(join(from, name), join(to, name));
    return;
  }
  const data = readFileSync(from);
  if (existsSync(to) && readFileSync(to).equals(data)) return;
  writeFileSync(to, data);
}

function runtime(name) {
  const path = execFileSync('g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
  if (!path.startsWith('/') || !existsSync(path)) {
    console.error(`test:asan: g++ does not know ${name} (got ${JSON.stringify(path)}); it comes with g++ (libasan8, libubsan1)`);
    process.exit(1);
  }
  return path;
}

// ---- build ---------------------------------------------------------------------

mkdirSync(OUT, { recursive: true });
sync(join(ROOT, 'binding.gyp'), join(OUT, 'binding.gyp'));
sync(join(ROOT, 'native'), join(OUT, 'native'));
// Sources deleted from native/ would linger in the copy: drop them.
(function prune(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const src = join(ROOT, relative(OUT, p));
    if (!existsSync(src)) rmSync(p, { recursive: true, force: true });
    else if (statSync(p).isDirectory()) prune(p);
  }
})(join(OUT, 'native'));

const gypEnv = { ...process.env };
delete gypEnv.LD_PRELOAD;
if (!existsSync(join(OUT, 'build/Makefile'))) {
  // The node headers the main build was configured with (no download).
  const main = join(ROOT, 'build/config.gypi');
  const nodedir = existsSync(main) ? /"nodedir":\s*"([^"]+)"/.exec(readFileSync(main, 'utf8'))?.[1] : undefined;
  const args = [NODE_GYP, 'configure', '--tidelog_sanitize=true', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  run(process.execPath, args, { cwd: OUT, env: gypEnv });
}
run(process.execPath, [NODE_GYP, 'build'], { cwd: OUT, env: gypEnv });
const linked = execFileSync('ldd', [ADDON], { encoding: 'utf8' });
if (!/libasan\.so/.test(linked) || !/libubsan\.so/.test(linked)) {
  console.error(`test:asan: ${ADDON} is not linked against libasan and libubsan:\n${linked}`);
  process.exit(1);
}
run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: ROOT });

// ---- test ----------------------------------------------------------------------

rmSync(REPORTS, { recursive: true, force: true });
mkdirSync(REPORTS, { recursive: true });
const env = {
  ...process.env,
  TIDELOG_ADDON: ADDON,
  LD_PRELOAD: [runtime('libasan.so'), runtime('libubsan.so'), process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: [
    'detect_leaks=0',
    'halt_on_error=1',
    'abort_on_error=1',
    'strict_string_checks=1',
    'check_initialization_order=1',
    `log_path=${join(REPORTS, 'asan')}`,
  ].join(':'),
  UBSAN_OPTIONS: ['halt_on_error=1', 'abort_on_error=1', 'print_stacktrace=1', `log_path=${join(REPORTS, 'ubsan')}`].join(':'),
};
const vitest = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...process.argv.slice(2)], {
  cwd: ROOT,
  env,
  stdio: 'inherit',
});

const reports = readdirSync(REPORTS);
for (const r of reports) {
  console.error(`\n==== sanitizer report ${join(REPORTS, r)} ====`);
  console.error(readFileSync(join(REPORTS, r), 'utf8'));
}
console.error(
  `test:asan: vitest ${vitest.status === 0 ? 'passed' : `failed (${vitest.signal ?? `exit ${vitest.status}`})`}; ` +
    `${reports.length} sanitizer report(s) in ${relative(ROOT, REPORTS)}/`,
);
process.exit(vitest.status === 0 && reports.length === 0 ? 0 : 1);
