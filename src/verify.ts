/**
 * verifyLog: a full, read-only check of a partition directory (every batch's
 * framing and CRC, record framing, offset order, every index entry, the
 * checkpoints, the producer-state snapshots). Unlike opening the log it
 * repairs nothing and trusts nothing. A batch that fails its CRC but frames is
 * reported and the check goes on after it, as reads do.
 *
 * docs/architecture.md ("Corruption handling") lists what each finding means
 * and what opening the log (or the store) does about it.
 */
import { resolve } from 'node:path';
import { describe } from './config.js';
import { InvalidArgumentError } from './errors.js';
import { type NativeVerifyIssue, native } from './native.js';

export type VerifyIssue = Readonly<NativeVerifyIssue>;

export interface VerifyReport {
  /** True when no issue was found. */
  ok: boolean;
  dir: string;
  segments: number;
  bytes: number;
  batches: number;
  records: number;
  startOffset: number;
  endOffset: number;
  issues: VerifyIssue[];
}

export async function verifyLog(dir: string): Promise<VerifyReport> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new InvalidArgumentError(`verifyLog: dir must be a non-empty string, got ${describe(dir)}`);
  }
  const path = resolve(dir);
  const r = await native.verifyLog(path);
  return { ok: r.issues.length === 0, dir: path, ...r };
}
