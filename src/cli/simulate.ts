import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../shared/logger.js';
import { createProgress, type ProgressReporter } from '../shared/progress.js';
import { RECORD_KINDS, type RecordKind } from '../shared/records.js';
import {
  CSV_FILE_NAMES,
  FLEET_DEFAULTS,
  createFleet,
  formatSummary,
  openKafkaPublisher,
  parseCsvDate,
  simulateToCsv,
  simulateToPublisher,
  summaryJson,
  type RunSummary,
} from '../simulate/index.js';
import { registerSchemasAndTopics } from './schemas.js';

interface SimulateCliOptions {
  readonly machines: number;
  readonly days: number;
  readonly start: number;
  readonly intervalMinutes: number;
  readonly seed: number;
  readonly speed?: number;
  readonly maxRate?: number;
  readonly outCsv?: string;
  readonly batchRecords?: number;
  readonly ensureTopics: boolean;
  readonly json: boolean;
  readonly progress: boolean;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function startDate(value: string): number {
  try {
    // A bare date means midnight UTC.
    return parseCsvDate(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value} 00:00:00` : value);
  } catch {
    throw new InvalidArgumentError('must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)');
  }
}

/**
 * Ctrl-C once: stop taking records, flush, print the summary, exit 0. Ctrl-C twice: exit 130 at once
 * (records not yet acknowledged may be lost; the first summary would have said how many were sent).
 */
export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) {
      process.stderr.write('\nsecond Ctrl-C: exiting without waiting for acknowledgements\n');
      process.exit(130);
    }
    process.stderr.write('\nCtrl-C: stopping, flushing what was sent… (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function progressFor(label: string, enabled: boolean): ProgressReporter | undefined {
  return enabled ? createProgress({ label }) : undefined;
}

export function printSummary(
  title: string,
  summary: RunSummary,
  destinations: { readonly [K in RecordKind]: string },
  json: boolean,
): void {
  console.log(json ? summaryJson(summary, destinations) : formatSummary(title, summary, destinations));
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'publish a deterministic (seeded) fleet of machines to the five topics, or write it as reference CSV files',
    )
    .option('--machines <n>', 'machines (ids 1..n)', positiveInt, FLEET_DEFAULTS.machines)
    .option('--days <n>', 'days of event time with telemetry', positiveNumber, FLEET_DEFAULTS.days)
    .addOption(
      new Option('--start <date>', 'first telemetry instant, UTC')
        .argParser(startDate)
        .default(FLEET_DEFAULTS.startMs, new Date(FLEET_DEFAULTS.startMs).toISOString().slice(0, 10)),
    )
    .option('--interval-minutes <n>', 'telemetry interval', positiveNumber, FLEET_DEFAULTS.intervalMinutes)
    .option('--seed <n>', 'random seed: same seed, same records', nonNegativeInt, FLEET_DEFAULTS.seed)
    .option(
      '--speed <x>',
      'event-time seconds per wall second (default: as fast as possible)',
      positiveNumber,
    )
    .option('--max-rate <n>', 'at most this many records per second', positiveNumber)
    .option(
      '--out-csv <dir>',
      'write telemetry.csv, errors.csv, maint.csv, machines.csv, failures.csv instead',
    )
    .option('--batch-records <n>', 'records per produce request (default 2000)', positiveInt)
    .option('--no-ensure-topics', 'do not create missing topics / register schemas first')
    .option('--json', 'print the summary as one JSON object', false)
    .option('--no-progress', 'no progress bar or progress lines on stderr')
    .action(async (opts: SimulateCliOptions) => {
      const fleet = createFleet({
        machines: opts.machines,
        days: opts.days,
        startMs: opts.start,
        intervalMinutes: opts.intervalMinutes,
        seed: opts.seed,
      });
      const progress = progressFor('simulate', opts.progress);
      const pacing = {
        ...(opts.speed !== undefined ? { speed: opts.speed } : {}),
        ...(opts.maxRate !== undefined ? { maxRate: opts.maxRate } : {}),
      };
      if (opts.outCsv !== undefined) {
        const dir = opts.outCsv;
        const summary = await withInterrupt((signal) =>
          simulateToCsv(fleet, dir, { ...pacing, signal, ...(progress ? { progress } : {}) }),
        );
        const files = Object.fromEntries(RECORD_KINDS.map((k) => [k, `${dir}/${CSV_FILE_NAMES[k]}`])) as {
          [K in RecordKind]: string;
        };
        printSummary('simulate', summary, files, opts.json);
        return;
      }
      const config = loadConfig();
      if (opts.ensureTopics) await registerSchemasAndTopics(config);
      const logger = createLogger({ level: config.ops.logLevel, name: 'simulate' });
      const publisher = await openKafkaPublisher(config, {
        logger,
        ...(opts.batchRecords !== undefined ? { maxBatchRecords: opts.batchRecords } : {}),
      });
      try {
        const summary = await withInterrupt((signal) =>
          simulateToPublisher(fleet, publisher, { ...pacing, signal, ...(progress ? { progress } : {}) }),
        );
        printSummary('simulate', summary, config.kafka.topics, opts.json);
      } finally {
        await publisher.close();
      }
    });
}
