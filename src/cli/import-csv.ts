import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../shared/logger.js';
import { importCsvToPublisher, openKafkaPublisher, type CsvRejection } from '../simulate/index.js';
import { registerSchemasAndTopics } from './schemas.js';
import { positiveInt, positiveNumber, printSummary, progressFor, withInterrupt } from './simulate.js';

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
      'publish the reference CSV files of DIR (telemetry, errors, maint, machines, failures; PdM_ prefix accepted) in event-time order',
    )
    .argument(
      '<dir>',
      'directory with telemetry.csv, errors.csv, maint.csv, machines.csv and optionally failures.csv',
    )
    .option('--max-rate <n>', 'at most this many records per second', positiveNumber)
    .option('--batch-records <n>', 'records per produce request (default 2000)', positiveInt)
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
      } finally {
        await publisher.close();
      }
    });
}
