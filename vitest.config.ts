import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests share one local stack (started by scripts/test.sh); files run one at a time so that
    // broker and ClickHouse load stays predictable on a 2-core machine.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
