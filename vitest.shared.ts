import { defineConfig } from 'vitest/config';

/** Shared vitest defaults; each package's vitest.config.ts re-exports this. */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores are shared by everything: keep one worker fork per package run.
    pool: 'forks',
    maxWorkers: 1,
    reporters: process.env['CI'] === 'true' ? ['default'] : ['default'],
  },
});
