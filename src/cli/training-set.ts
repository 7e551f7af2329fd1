/**
 * `pdm-stream training-set --out FILE [--from T] [--to T] [--spec-hash H] [--machines 1,2,5-9]
 * [--failures-out FILE] [--labels-until T] [--include-incomplete] [--now T] [--batch-rows N]`: the training
 * set made of the feature vectors the engine scored, so that a model is trained on exactly the numbers it
 * will be scored on. Same file as `features build --labels` (header, number formatting, sidecar), so
 * train/ reads it unchanged.
 *
 * Rows: `feature_vectors` of one spec hash (default: this engine's) in the selection, deduplicated by the
 * table's key (FINAL: one row per machine and bucket however many model versions scored it and however
 * often it was re-logged after a replay; the latest logged copy is kept). Copies, buckets with several model
 * versions and buckets whose copies differ are counted in the report; vectors of other spec hashes are
 * counted and left out, and so are vectors whose length is not the feature count or that hold non-finite
 * values.
 *
 * Labels: the failures topic read from its earliest record to its end (a snapshot taken at the start), with
 * the project's decoder, each failure tested like `features build --labels` does (labelFailureProblem) and
 * labelled with the one label rule (labelFor): FEATURES.md, earliest failure in (B, B + 7 d].
 *
 * Label windows not covered yet: the failures are taken to be known up to the engine's progress, the latest
 * bucket logged in `feature_vectors` (any machine, any spec hash), capped at the processing clock plus the
 * allowed future skew; `--labels-until` says otherwise (failures recorded late, by people). A row whose
 * (B, B + 7 d] ends after that is excluded, because its 0 may still become a failure; `--include-incomplete`
 * keeps them (labelled with what is known, like `features build --labels` at the end of its input) and the
 * sidecar counts them. The assumption behind the default: failures reach Kafka no later than the telemetry
 * of the same time, as the simulator and the CSV import produce them.
 *
 * Exit codes: 0 written; 1 failure (ClickHouse, Kafka or the registry unreachable: may succeed on retry);
 * 2 usage; 3 nothing to export (no usable vector of the spec hash in the selection, or every label window
 * incomplete) or a spec hash whose vectors do not have this engine's feature names: no file is written.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { createRecordDecoder, createSchemaRegistryClient, loadProjectSchemas } from '../decode/index.js';
import {
  CLASSES,
  createFailureIndex,
  createFeatureCsvWriter,
  DEFAULT_FUTURE_SKEW_MS,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SET,
  featureFileMeta,
  labelWindowComplete,
  SPEC_HASH,
  type FailureIndex,
  type FeatureRow,
} from '../features/index.js';
import { createKafkaSource } from '../ingest/index.js';
import { PdmError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { createProgress, groupDigits } from '../shared/progress.js';
import {
  createClickHouse,
  createFeatureVectorReader,
  type LoggedVector,
  type MachineIdRange,
} from '../sink/index.js';
import { CSV_HEADERS, formatCsvDate } from '../simulate/index.js';
import { usageError, USAGE_EXIT_CODE } from './options.js';
import { readTopicToEnd } from './read-topic.js';
import { batchRowsOption, DEFAULT_BATCH_ROWS, parseMachines, timeOption } from './rescore.js';
import { formatTrainingSetReport, type TrainingSetReport } from './training-set-report.js';

export const TRAINING_SET_EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: USAGE_EXIT_CODE,
  /** Nothing to export, or vectors whose features are not this engine's: no file written. */
  refused: 3,
} as const;

/** Exit code {@link TRAINING_SET_EXIT_CODES.refused}. */
export class TrainingSetRefusedError extends PdmError {
  constructor(message: string) {
    super(message, { code: 'TRAINING_SET_REFUSED', stage: 'cli' });
  }
}

/** `--spec-hash`: a sha256 in hex, as `feature_vectors.spec_hash` holds them. */
export function specHashOption(value: string): string {
  const v = value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(v)) throw usageError('must be a spec hash: 64 hex digits');
  return v;
}

export interface LabelPageOptions {
  readonly nFeatures: number;
  /** Failures are known up to this instant (epoch ms). */
  readonly labelsUntilMs: number;
  /** Keep rows whose label window ends after labelsUntilMs. */
  readonly includeIncomplete: boolean;
}

export interface LabelledPage {
  readonly rows: FeatureRow[];
  readonly labels: number[];
  /** Rows whose label window is not covered (kept or not, by includeIncomplete). */
  readonly incomplete: number;
  readonly wrongLength: number;
  readonly nonFinite: number;
}

/** Labels one page of logged vectors, leaving out the ones that cannot be training rows (counted). */
export function labelPage(
  page: readonly LoggedVector[],
  failures: Pick<FailureIndex, 'labelOf'>,
  options: LabelPageOptions,
): LabelledPage {
  const rows: FeatureRow[] = [];
  const labels: number[] = [];
  let incomplete = 0;
  let wrongLength = 0;
  let nonFinite = 0;
  for (const v of page) {
    if (v.values.length !== options.nFeatures) {
      wrongLength++;
      continue;
    }
    // JSON has no NaN or Infinity: a server may send them as null or text; train.py refuses them.
    if (!v.values.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      nonFinite++;
      continue;
    }
    if (!labelWindowComplete(v.bucketMs, options.labelsUntilMs)) {
      incomplete++;
      if (!options.includeIncomplete) continue;
    }
    rows.push({ machineId: v.machineId, bucketMs: v.bucketMs, values: Float64Array.from(v.values) });
    labels.push(failures.labelOf(v.machineId, v.bucketMs));
  }
  return { rows, labels, incomplete, wrongLength, nonFinite };
}

interface TrainingSetCliOptions {
  readonly out: string;
  readonly from?: number;
  readonly to?: number;
  readonly specHash?: string;
  readonly machines?: MachineIdRange[];
  readonly failuresOut?: string;
  readonly labelsUntil?: number;
  readonly includeIncomplete: boolean;
  readonly now?: number;
  readonly batchRows: number;
  readonly progress: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Reads the failures topic into `index`; returns what the report says about it. */
async function readFailures(
  config: Config,
  index: FailureIndex,
): Promise<Omit<TrainingSetReport['failures'], 'processingClock' | 'written'>> {
  const topic = config.kafka.topics.failures;
  const decoder = createRecordDecoder(createSchemaRegistryClient(config.registry), loadProjectSchemas());
  // A group of its own, never committed to before, so the read starts at the earliest record (and two
  // exports running at once never share partitions). Prefixed with the engine's group id: ACLs on it apply.
  const groupId = `${config.kafka.groupId}.training-set.${randomBytes(4).toString('hex')}`;
  const source = createKafkaSource({
    kafka: { ...config.kafka, groupId },
    topics: [topic],
    log: createLogger({ level: config.ops.logLevel, name: 'training-set' }),
    fromBeginning: true,
  });
  const undecodable: Record<string, number> = {};
  const read = await readTopicToEnd({
    source,
    topic,
    onMessages: async (messages) => {
      // A registry outage rejects here (retryable): the export fails rather than label without failures.
      await decoder.prepare(messages.map((m) => m.value));
      for (const m of messages) {
        const d = decoder.decode('failures', m.value, m.key);
        if (d.ok) index.add(d.record);
        else undecodable[d.reason] = (undecodable[d.reason] ?? 0) + 1;
      }
    },
  });
  return {
    topic,
    partitions: read.partitions,
    records: read.messages,
    undecodable,
    ...index.counts,
    machines: index.machines(),
  };
}

/** Reference-format failures.csv (`datetime,machineID,failure`) of the failures of `machines`. */
async function writeFailuresCsv(path: string, index: FailureIndex, machines: Set<number>): Promise<number> {
  const lines = [CSV_HEADERS.failures.join(',')];
  for (const f of index.failures()) {
    if (machines.has(f.machineId)) lines.push(`${formatCsvDate(f.ts)},${f.machineId},${f.failure}`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, lines.join('\n') + '\n');
  await rename(tmp, path);
  return lines.length - 1;
}

async function exportTrainingSet(opts: TrainingSetCliOptions): Promise<TrainingSetReport> {
  const config = loadConfig();
  const specHash = opts.specHash ?? SPEC_HASH;
  const nowMs = opts.now ?? Date.now();
  const futureLimitMs = nowMs + (config.features.futureSkewMs ?? DEFAULT_FUTURE_SKEW_MS);
  const selection = { fromMs: opts.from ?? 0, toMs: opts.to ?? Number.MAX_SAFE_INTEGER };
  const ch = createClickHouse(config.clickhouse);
  const database = config.clickhouse.database;
  let writer: Awaited<ReturnType<typeof createFeatureCsvWriter>> | undefined;
  try {
    const reader = createFeatureVectorReader(ch, database, { ...selection, machines: opts.machines });
    const census = await reader.census(FEATURE_COUNT);
    const mine = census.find((c) => c.specHash === specHash);
    const others = census.filter((c) => c.specHash !== specHash);
    if (mine === undefined) {
      const list = others.map((c) => `${c.specHash} (${c.featureSet}): ${c.rows} rows`).join('; ');
      throw new TrainingSetRefusedError(
        `no logged feature vectors of spec hash ${specHash} in the selection${list === '' ? '' : `; it holds only ${list}`}`,
      );
    }
    if (specHash !== SPEC_HASH) {
      // Another revision of the spec: exportable in this file layout only if its features are these.
      const fs = await reader.featureSet(specHash);
      if (fs?.featureSet !== FEATURE_SET || fs.featureNames.join(',') !== FEATURE_NAMES.join(',')) {
        throw new TrainingSetRefusedError(
          `spec hash ${specHash} is ${fs === undefined ? 'not registered in feature_sets' : `${fs.featureSet} with other feature names`}: its vectors cannot be written as ${FEATURE_SET} rows`,
        );
      }
    }
    const duplicates = await reader.duplicates(specHash);
    const lastBucketMs = await reader.lastBucketMs();
    const labelsUntilMs =
      opts.labelsUntil ?? Math.min(lastBucketMs ?? Number.NEGATIVE_INFINITY, futureLimitMs);

    const index = createFailureIndex(futureLimitMs);
    const failures = await readFailures(config, index);

    writer = await createFeatureCsvWriter(opts.out, { labels: true });
    const progress = opts.progress ? createProgress({ label: 'training-set', unit: 'rows' }) : undefined;
    const labelCounts = CLASSES.map(() => 0);
    const machines = new Set<number>();
    let read = 0;
    let incomplete = 0;
    let wrongLength = 0;
    let nonFinite = 0;
    let firstBucketTs: number | null = null;
    let lastBucketTs: number | null = null;
    let exported = 0;
    for (let after: LoggedVector | undefined; ;) {
      const page = await reader.page(specHash, after, opts.batchRows);
      after = page[page.length - 1];
      read += page.length;
      const labelled = labelPage(page, index, {
        nFeatures: FEATURE_COUNT,
        labelsUntilMs,
        includeIncomplete: opts.includeIncomplete,
      });
      incomplete += labelled.incomplete;
      wrongLength += labelled.wrongLength;
      nonFinite += labelled.nonFinite;
      labelled.rows.forEach((r, i) => {
        const l = labelled.labels[i] ?? 0;
        labelCounts[l] = (labelCounts[l] ?? 0) + 1;
        machines.add(r.machineId);
        if (firstBucketTs === null || r.bucketMs < firstBucketTs) firstBucketTs = r.bucketMs;
        if (lastBucketTs === null || r.bucketMs > lastBucketTs) lastBucketTs = r.bucketMs;
      });
      exported += labelled.rows.length;
      await writer.write(labelled.rows, labelled.labels);
      progress?.update({
        done: read,
        fraction: read / Math.max(1, mine.rows),
        detail: `exported ${groupDigits(exported)}`,
      });
      if (page.length < opts.batchRows) break;
    }
    progress?.finish({ done: read, fraction: 1, detail: `exported ${groupDigits(exported)}` });

    const report: TrainingSetReport = {
      out: opts.out,
      database,
      specHash,
      selection: {
        from: opts.from === undefined ? null : iso(opts.from),
        to: opts.to === undefined ? null : iso(opts.to),
        machines:
          opts.machines?.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',') ?? null,
      },
      featureVectors: {
        copies: duplicates.copies,
        buckets: read,
        multiVersionBuckets: duplicates.multiVersionKeys,
        conflictingBuckets: duplicates.conflictingKeys,
        otherSpecHashes: Object.fromEntries(others.map((c) => [c.specHash, c.rows])),
        wrongLength,
        nonFinite,
      },
      labels: {
        until: Number.isFinite(labelsUntilMs) ? iso(labelsUntilMs) : null,
        untilFrom:
          opts.labelsUntil !== undefined
            ? '--labels-until'
            : lastBucketMs !== undefined && lastBucketMs <= futureLimitMs
              ? 'latest logged bucket'
              : 'processing clock + allowed skew',
        incomplete,
        incompleteIncluded: opts.includeIncomplete,
      },
      failures: { ...failures, processingClock: iso(nowMs), written: null },
      rows: exported,
      machines: machines.size,
      firstBucketTs,
      lastBucketTs,
      labelCounts: Object.fromEntries(CLASSES.map((k, i) => [k, labelCounts[i] ?? 0])),
    };
    if (exported === 0) {
      throw new TrainingSetRefusedError(
        `nothing to export: ${formatTrainingSetReport(report).join('; ')}`.replace(/\s+/g, ' '),
      );
    }
    const failuresWritten =
      opts.failuresOut === undefined ? null : await writeFailuresCsv(opts.failuresOut, index, machines);
    const final: TrainingSetReport = {
      ...report,
      failures: { ...report.failures, written: failuresWritten },
    };
    await writer.finish({
      ...featureFileMeta({
        bucketMs: config.features.bucketMs,
        allowedLatenessMs: config.features.allowedLatenessMs,
        labels: true,
        rows: exported,
        firstBucketTs,
        lastBucketTs,
        source: {
          kind: 'clickhouse',
          summary: formatTrainingSetReport(final)[0] ?? '',
          records: read,
          ...final,
        },
      }),
      // This engine's, or an earlier revision with the same features (checked above).
      specHash,
    });
    return final;
  } finally {
    await writer?.close();
    await ch.close();
  }
}

export function registerTrainingSetCommand(program: Command): void {
  program
    .command('training-set')
    .description(
      'export the logged feature vectors of one spec hash with their labels from the failures topic: the training set of features build --labels, from what the engine scored',
    )
    .requiredOption(
      '--out <file>',
      'output CSV: machineId,bucketTs,<38 features>,label; sidecar <file>.meta.json',
    )
    .option(
      '--from <time>',
      'first bucket included (ISO-8601, UTC without a zone, or epoch ms; default: all)',
      timeOption,
    )
    .option('--to <time>', 'first bucket excluded (same forms; default: all)', timeOption)
    .option('--spec-hash <hex>', "spec hash of the vectors (default: this engine's)", specHashOption)
    .option(
      '--machines <ids>',
      'only these machines: ids and ranges, comma-separated (1,2,5-9)',
      parseMachines,
    )
    .option(
      '--failures-out <file>',
      'also write the failures of the exported machines as a reference failures.csv',
    )
    .option(
      '--labels-until <time>',
      'failures are known up to this instant (default: the latest logged bucket); later label windows are incomplete',
      timeOption,
    )
    .option(
      '--include-incomplete',
      'keep rows whose label window (B, B + 7 d] is not covered yet (counted in the sidecar)',
      false,
    )
    .option(
      '--now <time>',
      'processing clock: failures later than it plus PDM_FUTURE_SKEW_MS are FUTURE_EVENT (default: wall clock)',
      timeOption,
    )
    .option('--batch-rows <n>', 'rows per page read from ClickHouse', batchRowsOption, DEFAULT_BATCH_ROWS)
    .option('--no-progress', 'no progress bar or progress lines on stderr')
    .action(async (opts: TrainingSetCliOptions, cmd: Command) => {
      if (opts.from !== undefined && opts.to !== undefined && opts.from >= opts.to) {
        cmd.error(`error: --from (${iso(opts.from)}) must be before --to (${iso(opts.to)})`, {
          exitCode: USAGE_EXIT_CODE,
        });
      }
      try {
        const report = await exportTrainingSet(opts);
        for (const line of formatTrainingSetReport(report)) console.log(line);
      } catch (err) {
        if (!(err instanceof TrainingSetRefusedError)) throw err;
        console.error(`training-set: ${err.message}`);
        process.exitCode = TRAINING_SET_EXIT_CODES.refused;
      }
    });
}
