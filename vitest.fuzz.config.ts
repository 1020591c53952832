import { defineConfig } from 'vitest/config';

/**
 * The fuzzing tier's TypeScript targets (`npm run test:fuzz` runs them through test/fuzz/run.sh). Seeded
 * and bounded (test/fuzz/support.ts); files run one at a time so the tier's time on two shared cores is
 * predictable. The timeout is a hang bound for a whole target, far above its normal run time.
 */
export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.fuzz.test.ts'],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
});
