/**
 * Model-based test: random sequences of appends (random records, acks,
 * compression, sync or async), truncations, clean and unclean reopens, flushes
 * and reads, run against the log and against an in-memory model (the list of
 * batches). After every step the log's records, batch boundaries, offsets and
 * segments must match the model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Log, type LogOptions, type ProducerRecord } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { type ModelRecord, expectRecords, markUnclean, modelOf, parseBatches, removeDir } from './util.js';

interface Batch {
  base: number;
  records: ModelRecord[];
}

class Model {
  batches: Batch[] = [];
  get end(): number {
    const last = this.batches.at(-1);
    return last ? last.base + last.records.length : 0;
  }
  get records(): ModelRecord[] {
    return this.batches.flatMap((b) => b.records);
  }
  /** truncateTo: every batch whose last offset is >= offset goes. */
  truncate(offset: number): void {
    const i = this.batches.findIndex((b) => b.base + b.records.length - 1 >= offset);
    if (i >= 0) this.batches.length = i;
  }
}

interface Real {
  dir: string;
  options: LogOptions;
  log: Log;
}

function check(real: Real, model: Model): void {
  const { log } = real;
  expect(log.logStartOffset).toBe(0);
  expect(log.logEndOffset).toBe(model.end);
  expect(log.durableOffset).toBeLessThanOrEqual(model.end);
  expectRecords(log.readRecords(0, { maxBytes: 16 << 20 }), model.records);
  const segs = log.segments();
  expect(segs[0].baseOffset).toBe(0);
  expect(segs.at(-1)?.nextOffset).toBe(model.end);
  for (let i = 1; i < segs.length; i++) expect(segs[i].baseOffset).toBe(segs[i - 1].nextOffset);
}

type RecordSpec = { key: string | null; valueBytes: number; timestamp: number; header: boolean };

const recordArb: fc.Arbitrary<RecordSpec> = fc.record({
  key: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
  valueBytes: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 20 }), weight: 1 },
    { arbitrary: fc.integer({ min: 60, max: 120 }), weight: 3 },
  ),
  timestamp: fc.integer({ min: 0, max: 10_000 }),
  header: fc.boolean(),
});

let counter = 0;
function produce(spec: RecordSpec): ProducerRecord {
  const n = counter++;
  return {
    key: spec.key,
    value: spec.valueBytes === 0 && n % 2 ? null : Buffer.alloc(spec.valueBytes, n & 0xff),
    headers: spec.header ? [{ key: 'n', value: String(n) }] : undefined,
    timestamp: spec.timestamp,
  };
}

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly specs: RecordSpec[],
    readonly acks: 'none' | 'written' | 'durable' | 'sync',
    readonly compression: 'none' | 'lz4',
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const records = this.specs.map(produce);
    const base = model.end;
    const r =
      this.acks === 'sync'
        ? real.log.appendSync(records, { compression: this.compression })
        : await real.log.append(records, { acks: this.acks, compression: this.compression });
    expect(r.baseOffset).toBe(base);
    expect(r.lastOffset).toBe(base + records.length - 1);
    if (this.acks === 'durable') expect(real.log.durableOffset).toBeGreaterThan(r.lastOffset);
    model.batches.push({ base, records: records.map((rec, j) => modelOf(rec, base + j)) });
    check(real, model);
  }
  toString(): string {
    return `append(${this.specs.length} records, ${this.acks}, ${this.compression})`;
  }
}

class TruncateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly at: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const offset = Math.floor(this.at * (model.end + 1)); // sometimes at or past the end: a no-op
    await real.log.truncateTo(offset);
    model.truncate(offset);
    expect(real.log.durableOffset).toBeLessThanOrEqual(model.end);
    check(real, model);
  }
  toString(): string {
    return `truncateTo(${this.at.toFixed(2)} of the end)`;
  }
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  /** recoveryPoint: null for a clean close; else the fraction of the end written as the recovery point. */
  constructor(readonly recoveryPoint: number | null) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.log.close();
    if (this.recoveryPoint !== null) markUnclean(real.dir, Math.floor(this.recoveryPoint * model.end));
    real.log = await Log.open(real.dir, real.options);
    expect(real.log.recovery.clean).toBe(this.recoveryPoint === null);
    expect(real.log.recovery.bytesTruncated).toBe(0);
    expect(real.log.durableOffset).toBe(model.end);
    check(real, model);
  }
  toString(): string {
    return this.recoveryPoint === null ? 'reopen(clean)' : `reopen(unclean, rp ${this.recoveryPoint.toFixed(2)})`;
  }
}

class ReadCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly at: number,
    readonly maxRecords: number | undefined,
    readonly maxBytes: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const offset = Math.floor(this.at * (model.end + 1));
    const all = model.records;
    const got = real.log.readRecords(offset, { maxRecords: this.maxRecords, maxBytes: this.maxBytes });
    if (offset < model.end) expect(got.length).toBeGreaterThan(0);
    if (this.maxRecords !== undefined) expect(got.length).toBeLessThanOrEqual(this.maxRecords);
    expectRecords(got, all.slice(offset, offset + got.length));
    // readBatches starts at the model's batch that holds the offset.
    const buf = real.log.readBatches(offset, { maxBytes: this.maxBytes });
    if (offset === model.end) {
      expect(buf).toBeNull();
    } else {
      const holder = model.batches.find((b) => b.base + b.records.length > offset) as Batch;
      const frames = parseBatches(buf as Buffer).batches;
      expect(frames.map((f) => [f.baseOffset, f.lastOffset])).toEqual(
        model.batches
          .slice(model.batches.indexOf(holder), model.batches.indexOf(holder) + frames.length)
          .map((b) => [b.base, b.base + b.records.length - 1]),
      );
    }
  }
  toString(): string {
    return `read(${this.at.toFixed(2)} of the end, maxRecords ${this.maxRecords}, maxBytes ${this.maxBytes})`;
  }
}

class FlushCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.log.flush();
    expect(real.log.durableOffset).toBe(model.end);
    expectRecords(real.log.readRecords(0, { isolation: 'durable' }), model.records);
  }
  toString(): string {
    return 'flush()';
  }
}

const appendArb = fc
  .tuple(
    fc.array(recordArb, { minLength: 1, maxLength: 8 }),
    fc.constantFrom('none', 'written', 'durable', 'sync' as const),
    fc.constantFrom('none', 'lz4' as const),
  )
  .map(([specs, acks, compression]) => new AppendCommand(specs, acks, compression));

// Appends are listed several times: most steps grow the log.
const commands = [
  appendArb,
  appendArb,
  appendArb,
  appendArb,
  // Mostly near the end, so that the log keeps growing; sometimes anywhere.
  fc
    .oneof(fc.double({ min: 0, max: 1.1, noNaN: true }), fc.double({ min: 0.8, max: 1.1, noNaN: true }))
    .map((at) => new TruncateCommand(at)),
  fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }).map((rp) => new ReopenCommand(rp)),
  fc
    .tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
      fc.integer({ min: 1, max: 3000 }),
    )
    .map(([at, max, bytes]) => new ReadCommand(at, max, bytes)),
  fc.constant(new FlushCommand()),
];

const optionsArb = fc.record({
  segmentBytes: fc.integer({ min: 1300, max: 2500 }), // a batch of 8 records of 120 bytes fits
  indexIntervalBytes: fc.integer({ min: 0, max: 600 }),
  // Sometimes tiny: a full index rolls the segment too.
  maxIndexBytes: fc.constantFrom(64, 128, 4096),
});

describe('the log against an in-memory model', () => {
  it('random appends, truncations, reopens, flushes and reads', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(optionsArb, fc.commands(commands, { maxCommands: 50, size: 'max' }), async (opts, cmds) => {
        const dir = tempDir('tidelog-model-');
        const options: LogOptions = { ...opts, maxMessageBytes: opts.segmentBytes };
        const real: Real = { dir, options, log: await Log.open(dir, options) };
        try {
          await fc.asyncModelRun(() => ({ model: new Model(), real }), cmds);
        } finally {
          await real.log.close();
          removeDir(dir);
        }
      }),
      // Shrinking a failure reopens logs many times: bound it, keeping what it found.
      { numRuns: 100, interruptAfterTimeLimit: 90_000 },
    );
  });
});
