import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../shared/logger.js';
import { importCsvToPublisher, openKafkaPublisher, type CsvRejection } from '../simulate/index.js';
import { registerSchemasAndTopics } from './schemas.js';
import { positiveIntOption, positiveNumberOption } from './options.js';
import { printSummary, progressFor, withInterrupt } from './simulate.js';

/**
 * Exit code when the import finished but rejected rows: the valid rows were published and acknowledged,
 * the summary (stdout) and one line per rejected row (stderr) say what was left out. 1 is a failure (nothing
 * or not everything valid was published), 2 a usage error.
 */
export const IMPORT_REJECTED_ROWS_EXIT_CODE = 3;

interface ImportCsvCliOptions {
  readonly maxRate?: number;
  readonly batchRecords?: number;
  readonly ensureTopics: boolean;
  readonly json: boolean;
  readonly progress: boolean;
}

function reportRejection(r: CsvRejection): void {
  // On a terminal the progress bar owns the current line: clear it so the report starts at column 0.
  const clear = process.stderr.isTTY ? '\r\x1b[K' : '';
  process.stderr.write(`${clear}rejected ${r.file}:${r.line}: ${r.reason}: ${r.text}\n`);
}

export function registerImportCsvCommand(program: Command): void {
  program
    .command('import-csv')
    .description(
      `publish the reference CSV files of DIR (telemetry, errors, maint, machines, failures; PdM_ prefix accepted) in event-time order; exits ${IMPORT_REJECTED_ROWS_EXIT_CODE} when rows were rejected`,
    )
    .argument(
      '<dir>',
      'directory with telemetry.csv, errors.csv, maint.csv, machines.csv and optionally failures.csv',
    )
    .option('--max-rate <n>', 'at most this many records per second', positiveNumberOption)
    .option('--batch-records <n>', 'records per produce request (default 2000)', positiveIntOption)
    .option('--no-ensure-topics', 'do not create missing topics / register schemas first')
    .option('--json', 'print the summary as one JSON object', false)
    .option('--no-progress', 'no progress bar or progress lines on stderr')
    .action(async (dir: string, opts: ImportCsvCliOptions) => {
      const config = loadConfig();
      if (opts.ensureTopics) await registerSchemasAndTopics(config);
      const logger = createLogger({ level: config.ops.logLevel, name: 'import-csv' });
      const publisher = await openKafkaPublisher(config, {
        logger,
        ...(opts.batchRecords !== undefined ? { maxBatchRecords: opts.batchRecords } : {}),
      });
      const progress = progressFor('import-csv', opts.progress);
      try {
        const summary = await withInterrupt((signal) =>
          importCsvToPublisher(dir, publisher, {
            signal,
            onReject: reportRejection,
            ...(opts.maxRate !== undefined ? { maxRate: opts.maxRate } : {}),
            ...(progress ? { progress } : {}),
          }),
        );
        printSummary('import-csv', summary, config.kafka.topics, opts.json);
        if (summary.rejected > 0) {
          const files = Object.entries(summary.rejectedByFile)
            .map(([file, n]) => `${file}: ${n}`)
            .join(', ');
          process.stderr.write(
            `import-csv: ${summary.rejected} rows rejected (${files}); the other rows were published (exit code ${IMPORT_REJECTED_ROWS_EXIT_CODE})\n`,
          );
          process.exitCode = IMPORT_REJECTED_ROWS_EXIT_CODE;
        }
      } finally {
        await publisher.close();
      }
    });
}
