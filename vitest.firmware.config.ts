import { defineConfig } from 'vitest/config';

/** The firmware tier's TypeScript tests: they build firmware test images, so they need the ARM toolchain. */
export default defineConfig({
  test: {
    include: ['test/firmware/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
