/**
 * The README's "Crash-testing your service" example runs as written: its two
 * code blocks are copied, byte for byte, into a scratch directory (where
 * `tidelog` resolves to this package) and the crash test is run with node. It
 * kills the service with SIGKILL, simulates a power loss, verifies the store
 * and checks that every acknowledged order is in the rebuilt state.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureDist } from '../crash/util.js';
import { tempDir } from '../helpers.js';

beforeAll(() => ensureDist(), 120_000);

/** The ```js blocks of the README section `title`, by the file name of their first line (`// name.mjs`). */
function exampleFiles(title: string): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`## ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  for (const m of section.matchAll(/```js\n([\s\S]*?)```/g)) {
    const name = /^\/\/ (\S+\.mjs)/.exec(m[1])?.[1];
    expect(name, `first line of a code block names its file:\n${m[1].slice(0, 80)}`).toBeDefined();
    files.set(name!, m[1]);
  }
  return files;
}

describe('README: Crash-testing your service', () => {
  it('runs as written: the killed service keeps every acknowledged order through a power loss', () => {
    const files = exampleFiles('Crash-testing your service');
    expect([...files.keys()].sort()).toEqual(['crash-test.mjs', 'orders-service.mjs']);
    const dir = tempDir('tidelog-readme-');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'tidelog'), 'dir');
    for (const [name, code] of files) writeFileSync(join(dir, name), code);
    // TMPDIR: the example's mkdtemp(tmpdir()) lands in the scratch directory, removed after the test.
    const env = { ...process.env, TMPDIR: dir };
    const run = spawnSync(process.execPath, [join(dir, 'crash-test.mjs')], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const m = /^(\d+) acknowledged orders survived; (\d+) in the rebuilt state\n$/.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThanOrEqual(Number(m![1]));
  });
});
