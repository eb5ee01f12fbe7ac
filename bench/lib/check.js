/** A check of a workload's result; a failure aborts the case (no figure is reported). */
export function check(cond, message) {
  if (!cond) throw new Error(`bench check failed: ${message}`);
}

/**
 * Compares `count` records picked at random (seeded) from a log with the
 * input they were written from: offset i must hold input[i].
 */
export function sampleMatches(log, input, count = 200, seed = 17) {
  let x = seed >>> 0 || 1;
  for (let k = 0; k < count; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const i = (x >>> 0) % input.length;
    const r = log.get(i);
    check(r !== null, `offset ${i} is missing`);
    const want = input[i];
    check(r.offset === i, `offset ${i} came back as ${r.offset}`);
    check(r.timestamp === want.timestamp, `offset ${i}: timestamp ${r.timestamp}, expected ${want.timestamp}`);
    check(Buffer.compare(r.key, want.key) === 0, `offset ${i}: key differs`);
    check(Buffer.compare(r.value, want.value) === 0, `offset ${i}: value differs`);
  }
}
