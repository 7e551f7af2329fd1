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
          // Deletes the topics and subjects the run created on the shared stack (test/support/stack-cleanup.ts).
          globalSetup: ['test/support/integration-global-setup.ts'],
        },
      },
    ],
    // Off unless `--coverage` is passed: scripts/test.sh passes it to the unit step only, so the figures
    // are unit-test coverage (the integration and end-to-end tests cover more, and are not counted).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      // The figures are printed even when a test fails (the failure fails the step anyway).
      reportOnFailure: true,
      // Per folder, unit tests only, 3 to 5 points under what they reached on 2026-11-30 (issue 12; in
      // brackets: lines/statements, branches, functions measured). What the unit tests leave out is the
      // adapters the integration tests exercise (registry-client.ts, kafka-admin.ts, clickhouse.ts,
      // start.ts). The margin is a file's worth of lines and one or two functions in each folder: a real
      // drop fails the step, noise does not. Raise a figure when a folder's coverage rises for good.
      thresholds: {
        // [75.0, 84.6, 94.7]
        'src/pipeline/**': { statements: 72, lines: 72, branches: 80, functions: 90 },
        // [74.2, 82.3, 67.4]
        'src/ingest/**': { statements: 70, lines: 70, branches: 78, functions: 63 },
        // [67.5 after `rescore` (its reader, feature-vector-reader.ts, and the grants of access.ts run in
        // the integration tests on ClickHouse 18.16 and chdb, not in unit tests); 76.8 before, 94.4, 86.7]
        'src/sink/**': { statements: 64, lines: 64, branches: 88, functions: 78 },
        // [54.2, 90.3, 73.9]
        'src/decode/**': { statements: 51, lines: 51, branches: 86, functions: 69 },
      },
    },
  },
});
