import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL server for the run (test/support/postgres.ts): the PostgreSQL store's tests
    // make their own databases on it.
    globalSetup: ['test/support/postgres-global.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on the reference machine: keep the pool small so process-heavy suites do not starve.
    maxWorkers: 2,
  },
});
