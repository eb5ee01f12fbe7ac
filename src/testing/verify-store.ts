/**
 * verifyStore: verifyLog (a full, read-only check of every batch, index and
 * checkpoint) of every partition of a store, in one structured report.
 *
 * The partitions are those `topics.json` lists. A partition directory that is
 * missing is not an issue: a crash between the commit of a new topic and the
 * creation of its directories leaves exactly that, and the next open creates
 * it (docs/store-and-producer.md). A `topics.json` that does not parse is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import { type VerifyIssue, type VerifyReport, verifyLog } from '../verify.js';

const TOPICS_FILE = 'topics.json';

export interface StorePartitionReport {
  topic: string;
  partition: number;
  dir: string;
  /** verifyLog's report; null when the directory does not exist (see `missing`). */
  report: VerifyReport | null;
}

export interface StoreVerifyIssue extends VerifyIssue {
  /** The topic and partition concerned; null for the store's own files. */
  topic: string | null;
  partition: number | null;
}

export interface StoreVerifyReport {
  /** True when no partition (and no store file) has an issue. */
  ok: boolean;
  dir: string;
  topics: string[];
  partitions: StorePartitionReport[];
  /** `<topic>-<n>` of partitions topics.json lists that have no directory yet. */
  missing: string[];
  /** Every issue of every partition, and of topics.json. */
  issues: StoreVerifyIssue[];
  /** Totals over the partitions. */
  records: number;
  batches: number;
  bytes: number;
}

/** The topics and partition counts of a store's topics.json, or an issue. */
function readTopics(dir: string): { topics: Map<string, number>; issue: string | null } {
  const path = join(dir, TOPICS_FILE);
  const topics = new Map<string, number>();
  if (!existsSync(path)) return { topics, issue: null }; // a store no topic was created in
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return { topics, issue: `${TOPICS_FILE} is not valid JSON (${(err as Error).message})` };
  }
  const t = (raw as { topics?: unknown } | null)?.topics;
  if (t === null || typeof t !== 'object' || Array.isArray(t)) return { topics, issue: `${TOPICS_FILE} has no "topics" object` };
  for (const [name, e] of Object.entries(t as Record<string, { partitions?: unknown }>)) {
    const n = e?.partitions;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      return { topics, issue: `${TOPICS_FILE}: topic ${name} has no valid partition count (${describe(n)})` };
    }
    topics.set(name, n);
  }
  return { topics, issue: null };
}

/** verifyLog of every partition of the store in `dir` (see the file comment). */
export async function verifyStore(dir: string): Promise<StoreVerifyReport> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new InvalidArgumentError(`verifyStore: dir must be a non-empty string, got ${describe(dir)}`);
  }
  const root = resolve(dir);
  if (!existsSync(root)) throw new InvalidArgumentError(`verifyStore: ${root} does not exist`);
  const { topics, issue } = readTopics(root);
  const out: StoreVerifyReport = {
    ok: true,
    dir: root,
    topics: [...topics.keys()].sort(),
    partitions: [],
    missing: [],
    issues: [],
    records: 0,
    batches: 0,
    bytes: 0,
  };
  if (issue !== null) out.issues.push({ topic: null, partition: null, file: join(root, TOPICS_FILE), position: -1, offset: -1, problem: issue });
  for (const topic of out.topics) {
    for (let p = 0; p < topics.get(topic)!; p++) {
      const pdir = join(root, `${topic}-${p}`);
      if (!existsSync(pdir)) {
        out.missing.push(`${topic}-${p}`);
        out.partitions.push({ topic, partition: p, dir: pdir, report: null });
        continue;
      }
      const report = await verifyLog(pdir);
      out.partitions.push({ topic, partition: p, dir: pdir, report });
      for (const i of report.issues) out.issues.push({ topic, partition: p, ...i });
      out.records += report.records;
      out.batches += report.batches;
      out.bytes += report.bytes;
    }
  }
  out.ok = out.issues.length === 0;
  return out;
}
