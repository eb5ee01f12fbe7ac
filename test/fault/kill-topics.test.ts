/**
 * Topic creation, growth and deletion with data in them (1 KiB segments: many
 * files per partition), killed with SIGKILL at random points, chained over 14
 * cycles, a quarter of them killed while the child still opens the store (and
 * so perhaps while it finishes a deletion the kill before interrupted). After
 * each kill the store is the state before the operation in flight or after it,
 * with every record, and nothing of a deleted topic comes back (see
 * kill-chains.ts, runTopicChain).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist } from '../log/util.js';
import { runTopicChain } from './kill-chains.js';

beforeAll(() => ensureDist(), 120_000);

describe('topic changes with data, killed at random points, chained', () => {
  it('14 cycles (a quarter killed while opening): the store is the old or the new state, nothing deleted comes back', async () => {
    const { stats, records } = await runTopicChain({ seed: 7070, cycles: 14 });
    expect(stats.inFlight, 'kills landed inside operations').toBeGreaterThan(5);
    expect(stats.deletes, 'topics with data were deleted').toBeGreaterThan(2);
    expect(stats.sends).toBeGreaterThan(20);
    expect(stats.killedDuringOpen).toBeGreaterThan(0);
    expect(records).toBeGreaterThan(0);
  });
});
