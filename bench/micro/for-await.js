// The floor of Log.records(): `for await` over a trivial async iterator whose
// next() hands out ready objects from an array, as records() hands out decoded
// records (Promise.resolve of an iterator result per item). What is left of
// records()' time per record once this is taken off is the decoding that
// readRecords does too.
import { collectGarbage, nowNs } from '../lib/stats.js';

export async function forAwait({ n }) {
  const items = Array.from({ length: 1000 }, (_, i) => ({ offset: i }));
  const iterate = () => {
    let k = 0;
    const it = {
      next() {
        if (k >= n) return Promise.resolve({ done: true, value: undefined });
        return Promise.resolve({ done: false, value: items[k++ % 1000] });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  };
  let acc = 0;
  for await (const x of iterate()) acc += x.offset; // warm-up pass
  collectGarbage();
  const t0 = nowNs();
  for await (const x of iterate()) acc += x.offset;
  const ns = nowNs() - t0;
  if (n % 1000 === 0 && acc !== 2 * (n / 1000) * 499500) throw new Error(`for-await: checksum ${acc}, expected ${2 * (n / 1000) * 499500}`);
  return { metrics: { nsPerItem: ns / n, itemsPerSec: n / (ns / 1e9) } };
}
