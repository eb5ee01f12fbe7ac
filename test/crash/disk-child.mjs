// Child process of the disk-full tests: opens a log on a (nearly) full file
// system, tries an append, closes, and reports what happened as one JSON line.
// It runs in its own process so that a SIGBUS (writing through a mapping of a
// page the file system cannot allocate) shows as this child's death, named in
// the parent's assertion, rather than as a vanished test worker.
//
//   node disk-child.mjs '{"dist": ..., "dir": ..., "options": {...}, "records": N, "valueBytes": M}'
// prints {"open": "ok" | <code>, "append": "ok" | <code> | null, "close": ..., "logEndOffset": n}
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const { Log } = await import(pathToFileURL(cfg.dist).href);
const out = { open: null, append: null, close: null, logEndOffset: null, message: null };
const code = (err) => {
  out.message = String(err && err.message);
  return (err && err.code) || `untyped ${err && err.name}`;
};

let log = null;
try {
  log = await Log.open(cfg.dir, cfg.options);
  out.open = 'ok';
} catch (err) {
  out.open = code(err);
}
if (log) {
  try {
    const records = Array.from({ length: cfg.records }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(cfg.valueBytes, i) }));
    await log.append(records, { acks: 'durable' });
    out.append = 'ok';
  } catch (err) {
    out.append = code(err);
  }
  out.logEndOffset = log.logEndOffset;
  try {
    await log.close();
    out.close = 'ok';
  } catch (err) {
    out.close = code(err);
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`);
