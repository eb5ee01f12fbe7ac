/**
 * Builds the LD_PRELOAD tracer (shim.c, beside this file) with the system C
 * compiler — the one node-gyp builds the addon with, so present wherever the
 * addon builds — into a fresh directory under os.tmpdir(). No other tool is
 * needed. Throws, naming the compilers tried and their output, if none works:
 * a test that cannot trace must fail, never skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SHIM_SOURCE = join(import.meta.dirname, 'shim.c');

/** Compiles shim.c; returns the path of the shared object and the directory to remove after. */
export function buildSyncTracer(): { lib: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tidelog-sync-trace-'));
  const lib = join(dir, 'sync-trace.so');
  const compilers = [...new Set([process.env.CC, 'cc', 'gcc'].filter((c): c is string => !!c))];
  const failures: string[] = [];
  for (const cc of compilers) {
    const r = spawnSync(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-Wno-format-truncation', '-U_FORTIFY_SOURCE', '-o', lib, SHIM_SOURCE, '-ldl'], {
      encoding: 'utf8',
    });
    if (r.status === 0) return { lib, dir };
    failures.push(`${cc}: ${r.error ? r.error.message : `exit ${r.status}\n${r.stderr}`}`);
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`cannot compile the sync tracer ${SHIM_SOURCE} (a C compiler is needed, as for the addon):\n${failures.join('\n')}`);
}
