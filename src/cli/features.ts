/**
 * `pdm-stream features build --csv DIR --out FILE [--labels]`: the batch path of pdm-v1 over the five
 * reference CSV files (no Kafka). Same feature engine as streaming, closed by the end-of-input rule, so the
 * rows equal what the streaming engine would have scored; with --labels this is the training set.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseIsoInstant } from '../shared/instant.js';
import { loadConfig } from '../config/index.js';
import {
  buildFeatures,
  CLASSES,
  createFeatureCsvWriter,
  featureFileMeta,
  isDeadLetterOutcome,
} from '../features/index.js';
import { readReferenceCsv, type CsvProgress, type CsvRejection } from '../simulate/index.js';

interface BuildOptions {
  readonly csv: string;
  readonly out: string;
  readonly labels: boolean;
  /** Processing clock (epoch ms); undefined = the wall clock at start. */
  readonly now?: number;
}

/** YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z|±HH:MM]; group 1 = time part, group 2 = zone. */
/** `--now`: epoch milliseconds, or an ISO-8601 instant; without a zone it is UTC (never the local zone). */
export function parseNow(text: string): number {
  let ms = Number.NaN;
  if (/^-?\d{1,16}$/.test(text)) {
    ms = Number(text);
  } else {
    ms = parseIsoInstant(text) ?? Number.NaN;
  }
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) {
    throw new InvalidArgumentError(
      'must be epoch milliseconds or an ISO-8601 instant (e.g. 2026-11-30T12:00:00Z)',
    );
  }
  return ms;
}

/** Detail lines printed per kind of problem before only counting. */
const MAX_DETAIL_LINES = 10;
const PROGRESS_EVERY_MS = 2_000;

export function registerFeaturesCommand(program: Command): void {
  const features = program.command('features').description('feature set pdm-v1 (see FEATURES.md)');
  features
    .command('build')
    .description('build feature rows (and labels) from the five reference CSV files, without Kafka')
    .requiredOption(
      '--csv <dir>',
      'directory with telemetry, errors, maint, machines[, failures].csv (PdM_ prefix ok)',
    )
    .requiredOption(
      '--out <file>',
      'output CSV: machineId,bucketTs,<38 features>[,label]; sidecar <file>.meta.json',
    )
    .option('--labels', 'add the label of each row from failures.csv (the training set)', false)
    .option(
      '--now <ISO|ms>',
      'processing clock: events later than it plus PDM_FUTURE_SKEW_MS are FUTURE_EVENT (default: wall clock at start; UTC when no zone is given)',
      parseNow,
    )
    .action(async (opts: BuildOptions) => {
      await build(opts);
    });
}

async function build(opts: BuildOptions): Promise<void> {
  const config = loadConfig().features;
  const t0 = performance.now();
  let rejected = 0;
  let lastProgress = t0;
  let rows = 0;
  const details = { rejected: 0, outcomes: 0 };
  const onReject = (r: CsvRejection): void => {
    rejected++;
    if (details.rejected++ < MAX_DETAIL_LINES) console.error(`rejected ${r.file}:${r.line}: ${r.reason}`);
  };
  const onProgress = (p: CsvProgress): void => {
    const now = performance.now();
    if (now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    const pct = p.totalBytes > 0 ? ((100 * p.bytes) / p.totalBytes).toFixed(0) : '?';
    console.error(`features build: ${pct}% of input, ${p.rows} records read, ${rows} rows written`);
  };
  const writer = await createFeatureCsvWriter(opts.out, { labels: opts.labels });
  const labelCounts = CLASSES.map(() => 0);
  try {
    const summary = await buildFeatures(readReferenceCsv(opts.csv, { onReject, onProgress }), {
      config,
      labels: opts.labels,
      ...(opts.now === undefined ? {} : { nowMs: opts.now }),
      onRows: async (out, labels) => {
        rows += out.length;
        if (labels !== undefined) for (const l of labels) labelCounts[l] = (labelCounts[l] ?? 0) + 1;
        await writer.write(out, labels);
      },
      onOutcome: (o) => {
        // Duplicates are only counted (spec); late, future and invalid events are listed like CSV rejections.
        if (isDeadLetterOutcome(o) && details.outcomes++ < MAX_DETAIL_LINES) {
          console.error(`${o.kind} ${o.recordKind} machine ${o.machineId}: ${o.message}`);
        }
      },
    });
    const c = summary.counts;
    const source = {
      kind: 'reference-csv',
      dir: resolve(opts.csv),
      records: summary.events,
      rejected,
      processingClock: new Date(summary.nowMs).toISOString(),
      late: c.late,
      future: c.future,
      duplicates: c.duplicates,
      invalid: c.invalid,
      silentBuckets: c.silentBuckets,
      machines: summary.machines,
      labelFailures: summary.labelFailures,
      ...(opts.labels ? { labelCounts: Object.fromEntries(CLASSES.map((k, i) => [k, labelCounts[i]])) } : {}),
    };
    await writer.finish(
      featureFileMeta({
        bucketMs: config.bucketMs,
        allowedLatenessMs: config.allowedLatenessMs,
        labels: opts.labels,
        rows: summary.rows,
        firstBucketTs: summary.firstBucketTs,
        lastBucketTs: summary.lastBucketTs,
        source,
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const labelText = opts.labels
      ? `; labels: ${CLASSES.map((k, i) => `${k} ${labelCounts[i]}`).join(', ')}`
      : '';
    console.error(
      `features build: ${summary.rows} rows, ${summary.machines} machines from ${summary.events} records in ` +
        `${seconds.toFixed(2)} s → ${opts.out}; rejected ${rejected}, late ${c.late}, future ${c.future}, ` +
        `duplicates ${c.duplicates}, invalid ${c.invalid}, silent buckets ${c.silentBuckets}${labelText}`,
    );
  } finally {
    await writer.close();
  }
}
