import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Temporal's workflow bundler crashes under worker threads: every test file runs in a fork.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
