import { defineConfig } from 'vitest/config';

/** Shared vitest defaults; each package's vitest.config.ts re-exports this. */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Guard rails, not timing assertions: CI runs several packages' suites at once on 2 cores, and a test that trains a
    // model can take minutes there. A test that needs more says so itself.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Two cores are shared by everything: keep one worker fork per package run.
    pool: 'forks',
    maxWorkers: 1,
    reporters: process.env['CI'] === 'true' ? ['default'] : ['default'],
  },
});
