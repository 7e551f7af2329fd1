/**
 * `pdm-stream rescore --from T --to T [--model DIR] [--machines 1,2,5-9] [--batch-rows N] [--dry-run]`:
 * the scheduled batch-scoring job. Reads the feature vectors the engine logged for a range of buckets
 * (`feature_vectors`, deduplicated, the package's spec hash only), scores them with a model package through
 * the engine's own micro-batcher (worker thread, the package's decision rule) and writes predictions under
 * the package's model version with the engine's row builder. No features are recomputed: the numbers scored
 * are exactly those the engine scored.
 *
 * Idempotent: `predictions` is a ReplacingMergeTree on (machine_id, bucket_ts, model_version), so a re-run
 * of the same range and package replaces its rows (one logical row per key; read with FINAL). Rows carry
 * `source_topic = 'rescore'` and the `source_partition` / `source_offset` of the engine's prediction of the
 * same vector (−1 when there is none): the engine's restore reads a machine's home partition from its
 * latest prediction of the live model version, so a rescored version put into production later must point
 * at the partition the machine's telemetry really lives on.
 *
 * Exit codes: 0 done, also when the range holds no vector (a message says so: an empty window is normal for
 * a scheduled job); 1 failure (ClickHouse or scorer error; `CLICKHOUSE_UNAVAILABLE` may succeed on retry);
 * 2 usage error or a package the engine refuses; 3 the logged vectors do not fit the package (the range has
 * vectors, but none of the package's spec hash, or some of its vectors have another length than the
 * package's feature count): nothing is written when this is found before the first page; 130 interrupted
 * (Ctrl-C) after the pages already written.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { predictionRow, type SourceCoordinates } from '../pipeline/index.js';
import {
  createPackageBatcher,
  loadModelPackage,
  type MicroBatcher,
  type ModelPackage,
} from '../score/index.js';
import { PdmError } from '../shared/errors.js';
import { createProgress, groupDigits, type ProgressReporter } from '../shared/progress.js';
import {
  createBatchWriter,
  createClickHouse,
  createFeatureVectorReader,
  formatDateTime,
  formatInstant,
  quoteIdent,
  sourceKey,
  TABLES,
  type BatchWriter,
  type FeatureVectorReader,
  type LoggedVector,
  type MachineIdRange,
  type PredictionRow,
  type ServerCapabilities,
} from '../sink/index.js';
import { parseNow } from './features.js';
import { integerOption, usageError, USAGE_EXIT_CODE } from './options.js';
import { withInterrupt } from './simulate.js';

export const RESCORE_EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: USAGE_EXIT_CODE,
  /** The logged vectors do not fit the package (spec hash or vector length). */
  mismatch: 3,
  interrupted: 130,
} as const;

/** `source_topic` of rescored predictions. */
export const RESCORE_SOURCE_TOPIC = 'rescore';
/** @default rows per page read from ClickHouse */
export const DEFAULT_BATCH_ROWS = 10_000;
export const MAX_BATCH_ROWS = 1_000_000;
/** Ranges `--machines` may name (each becomes two query parameters). */
export const MAX_MACHINE_RANGES = 1_000;
const MAX_MACHINE_ID = 0xffff_ffff;

/** The logged data does not fit the package: exit code {@link RESCORE_EXIT_CODES.mismatch}. */
export class RescoreMismatchError extends PdmError {
  constructor(message: string) {
    super(message, { code: 'RESCORE_MISMATCH', stage: 'cli' });
  }
}

/**
 * `1,2,5-9` → sorted, merged ranges `[{1,2},{5,9}]`. Ids are decimal UInt32; `a-b` needs a ≤ b.
 * Throws a usage error (exit 2) naming the bad item.
 */
export function parseMachines(text: string): MachineIdRange[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length > MAX_MACHINE_RANGES)
    throw usageError(`at most ${MAX_MACHINE_RANGES} ids or ranges (use ranges: 1-500)`);
  const id = (s: string, item: string): number => {
    const n = /^\d{1,10}$/.test(s) ? Number(s) : Number.NaN;
    if (!(n <= MAX_MACHINE_ID)) throw usageError(`"${item}" is not a machine id or range (1,2,5-9)`);
    return n;
  };
  const ranges = items.map((item) => {
    const m = /^(\d+)\s*-\s*(\d+)$/.exec(item);
    const from = id(m?.[1] ?? item, item);
    const to = m?.[2] === undefined ? from : id(m[2], item);
    if (from > to) throw usageError(`range "${item}" ends before it starts`);
    return { from, to };
  });
  ranges.sort((a, b) => a.from - b.from || a.to - b.to);
  const merged: { from: number; to: number }[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else merged.push({ ...r });
  }
  return merged;
}

/** `--from` / `--to`: the parser of `features build --now` (ISO-8601, UTC without a zone, or epoch ms). */
export function timeOption(value: string): number {
  try {
    return parseNow(value);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

export const batchRowsOption = integerOption(1, MAX_BATCH_ROWS);

export interface RescoreSummary {
  /** Deduplicated vectors of the package's spec hash in the selection, when reading started. */
  readonly rowsInRange: number;
  readonly read: number;
  readonly scored: number;
  readonly written: number;
  /** Written rows without an engine prediction of the same vector (source partition −1). */
  readonly withoutSource: number;
  readonly alertingRows: number;
  /** Rows alerting per class of the package (index 0, `none`, stays 0). */
  readonly alertsByClass: readonly number[];
  readonly warmingUp: number;
  readonly pages: number;
  readonly seconds: number;
  readonly interrupted: boolean;
}

export interface RescoreRun {
  readonly reader: FeatureVectorReader;
  readonly batcher: Pick<MicroBatcher, 'submit'>;
  /** Undefined: dry run (score, write nothing). */
  readonly writer: BatchWriter<PredictionRow> | undefined;
  readonly pkg: Pick<ModelPackage, 'nFeatures' | 'nClasses'> & { readonly specHash: string };
  readonly caps: Pick<ServerCapabilities, 'modernTypes'>;
  readonly batchRows: number;
  readonly rowsInRange: number;
  readonly progress?: ProgressReporter | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Marks `p` handled now; it is awaited later, or dropped because another error is already on its way. */
function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Reads, scores and writes page by page. Three pages at most are held: one being written, one being scored
 * (in the worker) and the next one being read, so ClickHouse, the worker and the event loop overlap.
 */
export async function rescorePages(run: RescoreRun): Promise<RescoreSummary> {
  const { reader, batcher, writer, pkg, batchRows } = run;
  const t0 = performance.now();
  const alertsByClass = new Array<number>(pkg.nClasses).fill(0);
  let read = 0;
  let scored = 0;
  let written = 0;
  let withoutSource = 0;
  let alertingRows = 0;
  let warmingUp = 0;
  let pages = 0;
  let writing: Promise<void> = Promise.resolve();
  const update = (final: boolean): void => {
    const u = {
      done: read,
      ...(run.rowsInRange > 0 ? { fraction: read / run.rowsInRange } : {}),
      detail: `scored ${groupDigits(scored)}, written ${groupDigits(written)}`,
    };
    if (final) run.progress?.finish(u);
    else run.progress?.update(u);
  };
  let next: Promise<LoggedVector[]> | undefined = later(reader.page(pkg.specHash, undefined, batchRows));
  while (next !== undefined) {
    const page: LoggedVector[] = await next;
    next = undefined;
    const last = page[page.length - 1];
    if (last !== undefined && page.length === batchRows && run.signal?.aborted !== true) {
      next = later(reader.page(pkg.specHash, last, batchRows));
    }
    if (page.length === 0) break;
    pages++;
    read += page.length;
    const bad = page.find((v) => v.values.length !== pkg.nFeatures);
    if (bad !== undefined) {
      await writing;
      throw new RescoreMismatchError(
        `machine ${bad.machineId} bucket ${formatDateTime(bad.bucketMs)}: logged vector has ${bad.values.length} values, the package takes ${pkg.nFeatures}; refused (${groupDigits(written)} rows written before it)`,
      );
    }
    const sources = writer === undefined ? undefined : later(reader.predictionSources(page));
    const results = await batcher.submit(page);
    scored += results.length;
    for (const r of results) {
      if (r.warmingUp) warmingUp++;
      if (r.alertMask === 0) continue;
      alertingRows++;
      for (let i = 1; i < pkg.nClasses; i++)
        if ((r.alertMask & (1 << (i - 1))) !== 0) alertsByClass[i] = (alertsByClass[i] ?? 0) + 1;
    }
    if (writer !== undefined && sources !== undefined) {
      const bySource = await sources;
      const scoredAt = formatInstant(Date.now(), run.caps);
      const rows = results.map((r, i) => {
        const v = page[i] as LoggedVector;
        const src = bySource.get(sourceKey(v.machineId, v.bucketMs, v.modelVersion));
        // A source of −1 is an earlier rescore's row under the logging version: still no engine source.
        if (src === undefined || src.partition < 0) withoutSource++;
        const at: SourceCoordinates = {
          topic: RESCORE_SOURCE_TOPIC,
          partition: src?.partition ?? -1,
          offset: src?.offset ?? '-1',
        };
        return predictionRow(r, at, scoredAt);
      });
      // One page in ClickHouse's hands at a time: bounded memory, and a failure stops the next page.
      await writing;
      writing = later(
        writer.write(rows).then(() => {
          written += rows.length;
        }),
      );
    }
    update(false);
  }
  await writing;
  update(true);
  return {
    rowsInRange: run.rowsInRange,
    read,
    scored,
    written,
    withoutSource,
    alertingRows,
    alertsByClass,
    warmingUp,
    pages,
    seconds: (performance.now() - t0) / 1000,
    interrupted: run.signal?.aborted === true,
  };
}

interface RescoreCliOptions {
  readonly from?: number;
  readonly to?: number;
  readonly model?: string;
  readonly machines?: MachineIdRange[];
  readonly batchRows: number;
  readonly dryRun: boolean;
  readonly progress: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function machinesText(ranges: readonly MachineIdRange[] | undefined): string {
  if (ranges === undefined) return 'all machines';
  return `machines ${ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',')}`;
}

export function registerRescoreCommand(program: Command): void {
  const cmd = program
    .command('rescore')
    .description(
      'score the logged feature vectors of a range of buckets with a model package and write its predictions (idempotent)',
    )
    .option('--from <time>', 'first bucket included (ISO-8601, UTC without a zone, or epoch ms)', timeOption)
    .option('--to <time>', 'first bucket excluded (same forms as --from)', timeOption)
    .option('--model <dir>', 'model package directory (default: PDM_MODEL_DIR)')
    .option(
      '--machines <ids>',
      'only these machines: ids and ranges, comma-separated (1,2,5-9)',
      parseMachines,
    )
    .option('--batch-rows <n>', 'rows per page read from ClickHouse', batchRowsOption, DEFAULT_BATCH_ROWS)
    .option('--dry-run', 'read and score, write nothing', false)
    .option('--no-progress', 'no progress bar or progress lines on stderr');
  cmd.action(async (opts: RescoreCliOptions) => {
    // Required, but checked here: commander exits 1 for a missing required option, a usage error is 2.
    const missing = (flag: string): never =>
      cmd.error(`error: required option '${flag} <time>' not specified`, { exitCode: USAGE_EXIT_CODE });
    const fromMs = opts.from ?? missing('--from');
    const toMs = opts.to ?? missing('--to');
    if (fromMs >= toMs) {
      cmd.error(`error: --from (${iso(fromMs)}) must be before --to (${iso(toMs)})`, {
        exitCode: USAGE_EXIT_CODE,
      });
    }
    const config = loadConfig();
    // Refuses an incompatible package (ConfigError → exit 2) before anything is read.
    const pkg = await loadModelPackage(opts.model ?? config.score.modelDir);
    const specHash = pkg.meta.specHash;
    const ch = createClickHouse(config.clickhouse);
    const range = `[${iso(fromMs)}, ${iso(toMs)}), ${machinesText(opts.machines)}`;
    try {
      const caps = await ch.capabilities();
      const reader = createFeatureVectorReader(ch, config.clickhouse.database, {
        fromMs,
        toMs,
        machines: opts.machines,
      });
      const census = await reader.census(pkg.nFeatures);
      const mine = census.find((c) => c.specHash === specHash);
      const others = census.filter((c) => c.specHash !== specHash);
      if (mine === undefined) {
        if (others.length > 0) {
          const list = others.map((c) => `${c.specHash} (${c.featureSet}): ${c.rows} rows`).join('; ');
          throw new RescoreMismatchError(
            `no logged feature vector in ${range} has the spec hash of ${pkg.modelVersion} (${specHash}); the range holds only ${list}. Rescore them with an engine and package of that feature spec`,
          );
        }
        const span = await reader.span(specHash);
        console.log(
          `rescore: no logged feature vectors of spec hash ${specHash} in ${range}; nothing to do (${span === undefined ? 'none are logged at all' : `logged buckets span ${iso(span.firstMs)} … ${iso(span.lastMs)}`})`,
        );
        return;
      }
      if (mine.wrongLength > 0) {
        throw new RescoreMismatchError(
          `${mine.wrongLength} of ${mine.rows} logged vectors of spec hash ${specHash} in ${range} do not have the package's ${pkg.nFeatures} values; refused, nothing written`,
        );
      }
      if (others.length > 0) {
        console.error(
          `rescore: ignoring ${others.reduce((n, c) => n + c.rows, 0)} vectors of other spec hashes in the range (${others.map((c) => c.specHash).join(', ')})`,
        );
      }
      const batcher = await createPackageBatcher(pkg, {
        maxRows: config.score.maxRows,
        // Pages are submitted whole: runs fill at once, and a page's remainder need not wait for company.
        maxWaitMs: 0,
      });
      const writer = opts.dryRun
        ? undefined
        : createBatchWriter<PredictionRow>({
            ch,
            table: `${quoteIdent(config.clickhouse.database)}.${TABLES.predictions}`,
            maxRows: config.sink.maxRows,
            flushMs: 0,
          });
      let summary: RescoreSummary;
      try {
        summary = await withInterrupt((signal) =>
          rescorePages({
            reader,
            batcher,
            writer,
            pkg: { nFeatures: pkg.nFeatures, nClasses: pkg.nClasses, specHash },
            caps,
            batchRows: opts.batchRows,
            rowsInRange: mine.rows,
            progress: opts.progress ? createProgress({ label: 'rescore', unit: 'rows' }) : undefined,
            signal,
          }),
        );
      } finally {
        await Promise.all([batcher.close(), writer?.close()]);
      }
      printSummary(summary, pkg, range, opts.dryRun);
      if (summary.interrupted) process.exitCode = RESCORE_EXIT_CODES.interrupted;
    } catch (err) {
      if (!(err instanceof RescoreMismatchError)) throw err;
      console.error(`rescore: ${err.message}`);
      process.exitCode = RESCORE_EXIT_CODES.mismatch;
    } finally {
      await ch.close();
    }
  });
}

function printSummary(s: RescoreSummary, pkg: ModelPackage, range: string, dryRun: boolean): void {
  const rate = Math.round(s.scored / Math.max(s.seconds, 1e-9));
  const alerts = pkg.classes
    .slice(1)
    .map((c, i) => `${c} ${s.alertsByClass[i + 1] ?? 0}`)
    .join(', ');
  const rule = pkg.alertThresholds === undefined ? ' (the package has no alert rule)' : '';
  const what = dryRun
    ? 'dry run, nothing written'
    : `written ${s.written} predictions under ${pkg.modelVersion}` +
      (s.withoutSource > 0 ? ` (${s.withoutSource} without an engine prediction: source partition -1)` : '');
  console.log(
    `rescore ${range} with ${pkg.modelVersion}: read ${s.read} of ${s.rowsInRange} logged vectors in ${s.pages} pages, scored ${s.scored}, ${what}; alerting rows ${s.alertingRows}${rule} (${alerts}); warming up ${s.warmingUp}; ${s.seconds.toFixed(2)} s (${rate} rows/s)`,
  );
  if (s.interrupted)
    console.log('rescore: interrupted; the pages above were written, a re-run of the range completes it');
}
