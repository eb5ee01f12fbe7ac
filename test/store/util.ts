/** Helpers of the store and producer tests. */
import { type BatchHeader, type Log, type Store, iterateBatches } from '../../src/index.js';

/** Headers of every batch of `log`, in order. */
export function batchHeaders(log: Log): BatchHeader[] {
  const out: BatchHeader[] = [];
  let pos = log.logStartOffset;
  while (pos < log.logEndOffset) {
    const buf = log.readBatches(pos, { maxBytes: 64 << 20 });
    if (buf === null) break;
    for (const { header } of iterateBatches(buf)) {
      out.push(header);
      pos = header.baseOffset + header.lastOffsetDelta + 1;
    }
  }
  return out;
}

/** Every record value of a partition, as strings. */
export function values(store: Store, topic: string, partition: number): (string | null)[] {
  return store
    .log(topic, partition)
    .readRecords(0, { maxBytes: 64 << 20 })
    .map((r) => (r.value === null ? null : r.value.toString()));
}

export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after the current event-loop turn (and its setImmediate drains). */
export const nextTurn = () => new Promise<void>((r) => setImmediate(r));
