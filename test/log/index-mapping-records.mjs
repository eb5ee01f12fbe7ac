// Records of test/log/index-mapping.test.ts and its child writer: shared, so
// the parent can check what a killed child appended.

/**
 * Record `offset`: a value whose size varies (batches of many sizes, entries at
 * irregular positions) and a timestamp that mostly rises but sometimes falls
 * back (so the time index skips batches whose largest timestamp is not new).
 */
export function indexRecord(offset) {
  const jitter = ((offset * 7919) % 61) - 30;
  return {
    key: `k${offset % 11}`,
    value: `v${offset}-${'abcdefghij'.repeat((offset * 13) % 23)}`,
    timestamp: 5_000_000 + offset * 10 + jitter,
  };
}
