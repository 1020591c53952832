import { defineConfig } from 'vitest/config';

/**
 * The fault-injection tier (`npm run test:faults`): unplugs, corrupted links, killed VMMs, host silence,
 * event floods and signals against the daemon. Files run one at a time: several of them bound how fast
 * a fault is answered, and a second emulator competing for the same two cores would only add noise.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
