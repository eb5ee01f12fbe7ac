import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run soak` (soak/run.mjs) runs soak/*.soak.ts through this config; the
// test suite's own config (vitest.config.ts) never includes them.
const minutes = Number(process.env.SOAK_MINUTES ?? '10');

export default defineConfig({
  root: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
  test: {
    include: ['soak/**/*.soak.ts'],
    pool: 'forks',
    // The soak stops starting iterations at its deadline; the last one may run past it.
    testTimeout: Math.ceil(minutes * 60_000) + 10 * 60_000,
    hookTimeout: 120_000,
  },
});
