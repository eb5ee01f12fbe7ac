/** Shared test helpers: temporary directories and record generators. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh empty directory, removed after the test file. */
export function tempDir(prefix = 'tidelog-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** The record `i` of a deterministic sequence: key `k<i%keys>`, value `v<i>-...`, timestamp 1_000_000 + i. */
export function makeRecord(i: number, keys = 100) {
  return { key: `k${i % keys}`, value: `v${i}-${'x'.repeat(i % 17)}`, timestamp: 1_000_000 + i };
}
