// Timing and statistics helpers shared by the workloads and the runner.

/** Monotonic time in nanoseconds, as a Number (exact to 2^53 ns ≈ 104 days of uptime). */
export const nowNs = () => Number(process.hrtime.bigint());

/** Median of numbers (the mean of the two middle values for an even count). */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Percentile p (0..100) of an ascending-sorted typed array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Cost in ns of one back-to-back pair of process.hrtime.bigint() reads (median of many). */
export function hrtimeOverheadNs(samples = 100_000) {
  const d = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const a = process.hrtime.bigint();
    const b = process.hrtime.bigint();
    d[i] = Number(b - a);
  }
  d.sort();
  return percentile(d, 50);
}

/** Runs global.gc() when the process was started with --expose-gc (the runner does). */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}
