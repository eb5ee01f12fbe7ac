// Entry point of every measured child process (started by run.js with
// `node --expose-gc bench/child.js '<json>'` over an IPC channel).
// The JSON names a case: { module, fn, params }. The child runs it and sends
// back { ok: true, result } or { ok: false, error }. A case returns
// { metrics: { name: number }, info?: {...} } and throws when a check of what
// it read or wrote fails, so a wrong figure is never reported.
import { pathToFileURL } from 'node:url';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const spec = JSON.parse(process.argv[2]);

function reply(msg) {
  return new Promise((resolve) => {
    if (process.send) process.send(msg, () => resolve());
    else {
      process.stdout.write(`${JSON.stringify(msg)}\n`);
      resolve();
    }
  });
}

try {
  const mod = await import(pathToFileURL(join(here, spec.module)).href);
  const fn = mod[spec.fn];
  if (typeof fn !== 'function') throw new Error(`bench: ${spec.module} has no export ${spec.fn}`);
  const result = await fn(spec.params ?? {});
  await reply({ ok: true, result });
  process.exitCode = 0;
} catch (err) {
  await reply({ ok: false, error: err && err.stack ? err.stack : String(err) });
  process.exitCode = 1;
}
if (process.channel) process.disconnect();
