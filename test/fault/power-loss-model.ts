/**
 * The writer side and the checks of the power-loss tests (power-loss*.test.ts).
 *
 * A scenario drives a Log in this process: appends acknowledged `durable`,
 * then a sync point (flush() resolved, nothing else in flight: the picture
 * taken then is `old`), then appends acknowledged only `written` (rolling
 * segments, never syncing) until it stops: the picture taken then is `new`.
 * Every crash state of that change (power-loss-states.ts) is reopened and must
 * hold a prefix of what was written that includes every durable record.
 */
import { expect } from 'vitest';
import { Log, type LogOptions } from '../../src/index.js';
import { LogModel, checkLog, expectVerified, recordFor } from '../crash/util.js';
import { type CrashState, type Picture, crashState, describeChange, materialize, picture, removeTree, scratchDir } from './power-loss-states.js';

export const MAX_VALUE_BYTES = 900;

export interface WrittenBatch {
  base: number;
  count: number;
  tag: string;
}

/** What a scenario wrote, and the two pictures. */
export interface Run {
  name: string;
  seed: number;
  options: LogOptions;
  batches: WrittenBatch[];
  /** Every record below it was acknowledged durable before the sync point. */
  durableEnd: number;
  old: Picture;
  now: Picture;
  /** How to run this again, for failure messages (e.g. the env var and test file). */
  replay?: string;
}

/** Drives a Log through one scenario: see Writer. */
export class Writer {
  readonly batches: WrittenBatch[] = [];
  durableEnd = 0;
  old: Picture | null = null;
  #n = 0;
  constructor(
    readonly log: Log,
    readonly rand: () => number,
    readonly seed: number,
  ) {}

  get end(): number {
    return this.log.logEndOffset;
  }

  /** Appends one batch of `count` records (random sizes up to maxValueBytes). */
  async append(count: number, acks: 'durable' | 'written', compression: 'none' | 'lz4' = this.rand() < 0.3 ? 'lz4' : 'none'): Promise<WrittenBatch> {
    const base = this.log.logEndOffset;
    const tag = `s${this.seed}b${this.#n++}`;
    const records = [];
    for (let i = 0; i < count; i++) records.push(recordFor(tag, base + i, MAX_VALUE_BYTES));
    const r = await this.log.append(records, { acks, compression });
    expect(r.baseOffset).toBe(base);
    const b = { base, count, tag };
    this.batches.push(b);
    return b;
  }

  /** Random batches until the log end passes `records` more records. */
  async appendMany(records: number, acks: 'durable' | 'written', maxBatch = 12): Promise<void> {
    const stop = this.end + records;
    while (this.end < stop) await this.append(1 + Math.floor(this.rand() * maxBatch), acks);
  }

  /** Several durable appends in one turn: one group commit covers them. */
  async appendConcurrently(appends: number, maxBatch = 8): Promise<void> {
    // Each append is synchronous up to its wait for the sync: start them in order.
    const waits: Promise<WrittenBatch>[] = [];
    for (let i = 0; i < appends; i++) waits.push(this.append(1 + Math.floor(this.rand() * maxBatch), 'durable'));
    await Promise.all(waits);
  }

  async truncateTo(offset: number): Promise<void> {
    await this.log.truncateTo(offset);
    const end = this.log.logEndOffset;
    while (this.batches.length > 0 && this.batches[this.batches.length - 1].base >= end) this.batches.pop();
  }

  /** The sync point: everything so far is durable and no sync is running; the picture of now is `old`. */
  async syncPoint(): Promise<void> {
    await this.log.flush();
    expect(this.log.durableOffset).toBe(this.log.logEndOffset);
    this.durableEnd = this.log.durableOffset;
    this.old = picture(this.log.dir);
  }
}

export interface Scenario {
  name: string;
  options: LogOptions;
  /** Appends, ending with w.syncPoint() and then `written` appends only. */
  run: (w: Writer) => Promise<void>;
}

function tempPath(prefix: string): string {
  return scratchDir(prefix);
}

/** Runs a scenario in a fresh directory and leaves the log as the writer left it (not closed: "crashed"). */
export async function runScenario(s: Scenario, seed: number, rng: (seed: number) => () => number): Promise<Run> {
  const dir = tempPath('tidelog-power-');
  const log = await Log.open(dir, s.options);
  try {
    const w = new Writer(log, rng(seed), seed);
    await s.run(w);
    expect(w.old, `scenario ${s.name} reached its sync point`).not.toBeNull();
    // Nothing may have been synced since the sync point: else `old` is not what the disk holds.
    expect(log.durableOffset, `scenario ${s.name}: no sync after the sync point`).toBe(w.durableEnd);
    const now = picture(dir);
    return { name: s.name, seed, options: s.options, batches: w.batches.slice(), durableEnd: w.durableEnd, old: w.old!, now };
  } finally {
    // The writer "crashed": its directory is no longer looked at. Close it to free the lock and maps.
    await log.close();
    removeTree(dir);
  }
}

/**
 * A second power loss: one crash state of `first` (a `pages` state of
 * `stateSeed`) is reopened — recovery runs — and `then` goes on writing in it
 * (to a new sync point and past it). The run is of the second stretch; its
 * batches include the prefix that survived the first power loss.
 */
export async function runChained(first: Scenario, seed: number, stateSeed: number, then: Scenario, rng: (seed: number) => () => number): Promise<Run> {
  const prev = await runScenario(first, seed, rng);
  const dir = tempPath('tidelog-power-chain-');
  materialize(crashState(prev.old, prev.now, 'pages', stateSeed), dir);
  const log = await Log.open(dir, then.options);
  try {
    const w = new Writer(log, rng(seed + 1), seed + 1);
    const end = log.logEndOffset;
    expect(end).toBeGreaterThanOrEqual(prev.durableEnd);
    for (const b of prev.batches) if (b.base + b.count <= end) w.batches.push(b);
    await then.run(w);
    expect(w.old, `scenario ${then.name} reached its sync point`).not.toBeNull();
    expect(log.durableOffset).toBe(w.durableEnd);
    const now = picture(dir);
    return { name: `${first.name} / ${then.name}`, seed, options: then.options, batches: w.batches.slice(), durableEnd: w.durableEnd, old: w.old!, now };
  } finally {
    await log.close();
    removeTree(dir);
  }
}

export interface StateOutcome {
  end: number;
  /** Records written (acknowledged `written`) that the power loss took. */
  lost: number;
  bytesTruncated: number;
  segmentsRecovered: number;
}

/**
 * Reopens one crash state and checks it: the open succeeds by itself; the log
 * is a prefix of what was written, ending at a batch boundary at or after the
 * durable end; every record is byte for byte what was written (checkLog:
 * every batch's CRC, contiguous offsets, no garbage after the last batch, no
 * stray files); appends continue; verifyLog then finds nothing wrong.
 */
export async function checkState(run: Run, state: CrashState, label: string): Promise<StateOutcome> {
  const dir = tempPath('tidelog-state-');
  try {
    materialize(state, dir);
    const log = await Log.open(dir, run.options);
    let outcome: StateOutcome;
    const model = new LogModel();
    try {
      const end = log.logEndOffset;
      const boundaries = [0, ...run.batches.map((b) => b.base + b.count)];
      const writtenEnd = boundaries[boundaries.length - 1];
      expect(end, 'every durable record survives the power loss').toBeGreaterThanOrEqual(run.durableEnd);
      expect(end, 'nothing appears that was never written').toBeLessThanOrEqual(writtenEnd);
      expect(boundaries, `the log end ${end} is a batch boundary`).toContain(end);
      expect(log.durableOffset, 'recovery syncs what it kept').toBe(end);
      for (const b of run.batches) if (b.base + b.count <= end) model.addBatch(b.base, b.count, b.tag);
      checkLog(log, model, MAX_VALUE_BYTES);
      outcome = {
        end,
        lost: writtenEnd - end,
        bytesTruncated: log.recovery.bytesTruncated,
        segmentsRecovered: log.recovery.segmentsRecovered,
      };
      // Appends continue where the log ends.
      const tag = `after-${label}`;
      const records = Array.from({ length: 3 }, (_, i) => recordFor(tag, end + i, MAX_VALUE_BYTES));
      const r = await log.append(records, { acks: 'durable' });
      expect(r.baseOffset).toBe(end);
      model.addBatch(end, 3, tag);
    } finally {
      await log.close();
    }
    await expectVerified(dir, model.end);
    return outcome;
  } catch (err) {
    const e = err as Error;
    throw new Error(
      `power-loss state ${label} failed: ${e.message}\n` +
        `  scenario '${run.name}' seed ${run.seed}, state ${state.mode} seed ${state.seed}` +
        `${run.replay ? ` (replay: ${run.replay})` : ''}\n` +
        `  durable end ${run.durableEnd}; changed since the sync point: ${describeChange(run.old, run.now)}`,
      { cause: err },
    );
  } finally {
    removeTree(dir);
  }
}

export interface Tally {
  states: number;
  lostSome: number;
  keptAll: number;
  truncated: number;
  oldPages: number;
  oldSizes: number;
  dropped: number;
}

export function newTally(): Tally {
  return { states: 0, lostSome: 0, keptAll: 0, truncated: 0, oldPages: 0, oldSizes: 0, dropped: 0 };
}

/** Checks the two `synced` states, the `written-back` state and `pages` states of one run. */
export async function checkRun(run: Run, pageStates: number, tally: Tally): Promise<void> {
  const states: CrashState[] = [
    crashState(run.old, run.now, 'synced-absent'),
    crashState(run.old, run.now, 'synced-empty'),
    crashState(run.old, run.now, 'written-back'),
  ];
  for (let i = 0; i < pageStates; i++) states.push(crashState(run.old, run.now, 'pages', run.seed * 1000 + i));
  // Check every state, then report the failures together (the first few in full).
  const failures: Error[] = [];
  for (const st of states) {
    let o: StateOutcome;
    try {
      o = await checkState(run, st, `${run.name}/${st.mode}/${st.seed}`);
    } catch (err) {
      failures.push(err as Error);
      continue;
    }
    tally.states++;
    if (o.lost > 0) tally.lostSome++;
    else tally.keptAll++;
    if (o.bytesTruncated > 0) tally.truncated++;
    tally.oldPages += st.stats.oldPages;
    tally.oldSizes += st.stats.oldSizes;
    tally.dropped += st.stats.dropped;
  }
  if (failures.length > 0) {
    const shown = failures.slice(0, 3).map((e) => e.message).join('\n\n');
    throw new Error(`${failures.length} of ${states.length} crash states failed:\n\n${shown}`, { cause: failures[0] });
  }
}
