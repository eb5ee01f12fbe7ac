// Data directories of the workloads: under os.tmpdir(), removed afterwards.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TMP_PREFIX = 'tidelog-bench-';

/** A fresh empty directory under os.tmpdir(). */
export function makeTempDir(tag = 'run') {
  return mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${tag}-`));
}

export function removeDir(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Total bytes (st_size) of the regular files directly in `dir`, and their names. */
export function dirBytes(dir) {
  let bytes = 0;
  const files = [];
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    if (st.isFile()) {
      bytes += st.size;
      files.push({ name, size: st.size });
    }
  }
  return { bytes, files };
}
