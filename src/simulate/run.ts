/**
 * The two producer commands as functions: simulate (to Kafka or to CSV files) and import-csv. The CLI only
 * parses options, wires the publisher and prints; tests and benchmarks call these directly.
 */
import { ConfigError } from '../shared/errors.js';
import type { ProgressReporter } from '../shared/progress.js';
import { RECORD_KINDS, type PdmEvent } from '../shared/records.js';
import type { Fleet } from './fleet.js';
import { createPacer } from './pacer.js';
import { publishStream } from './publish-stream.js';
import type { RecordPublisher } from './record-publisher.js';
import { readReferenceCsv, type CsvProgress, type CsvRejection } from './reference-csv.js';
import { writeReferenceCsv, type RecordCounts } from './reference-csv-writer.js';

export interface RunSummary {
  /** Records acknowledged by the broker (or written to the CSV files), per kind. */
  readonly counts: RecordCounts;
  readonly total: number;
  readonly elapsedMs: number;
  readonly recordsPerSecond: number;
  /** Stopped by Ctrl-C before the end. */
  readonly interrupted: boolean;
  /** Event time of the last timed record sent. */
  readonly lastTs: number | undefined;
}

export interface ImportSummary extends RunSummary {
  readonly rejected: number;
  /** Rejected rows per file path. */
  readonly rejectedByFile: Readonly<Record<string, number>>;
}

export interface RunOptions {
  /** Event-time seconds per wall second (publishing only). */
  readonly speed?: number;
  /** Records per wall second (publishing only). */
  readonly maxRate?: number;
  /** Records per publish call. @default 1000 */
  readonly batchRecords?: number;
  readonly signal?: AbortSignal;
  readonly progress?: ProgressReporter;
}

function total(counts: RecordCounts): number {
  let n = 0;
  for (const k of RECORD_KINDS) n += counts[k];
  return n;
}

function summarize(
  counts: RecordCounts,
  startedAt: number,
  interrupted: boolean,
  lastTs: number | undefined,
): RunSummary {
  const elapsedMs = performance.now() - startedAt;
  const n = total(counts);
  return {
    counts,
    total: n,
    elapsedMs,
    recordsPerSecond: elapsedMs > 0 ? (n * 1000) / elapsedMs : 0,
    interrupted,
    lastTs,
  };
}

function eventTimeDetail(ts: number | undefined): string {
  return ts === undefined ? '' : `at ${new Date(ts).toISOString().slice(0, 16).replace('T', ' ')}`;
}

/** Publishes the fleet; the summary counts what the broker acknowledged. */
export async function simulateToPublisher(
  fleet: Fleet,
  publisher: RecordPublisher,
  options: RunOptions = {},
): Promise<RunSummary> {
  const startedAt = performance.now();
  const { startMs, endMs } = fleet.clock;
  const fraction = (ts: number | undefined): number =>
    ts === undefined ? 0 : (ts - startMs) / (endMs - startMs);
  const result = await publishStream(fleet.events(), publisher, {
    ...(options.batchRecords !== undefined ? { batchRecords: options.batchRecords } : {}),
    pacer: createPacer({
      ...(options.speed !== undefined ? { speed: options.speed } : {}),
      ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}),
      eventTimeOriginMs: startMs,
    }),
    ...(options.signal ? { signal: options.signal } : {}),
    onBatch: (taken, lastTs) => {
      options.progress?.update({
        done: total(taken),
        fraction: fraction(lastTs),
        detail: eventTimeDetail(lastTs),
      });
    },
  });
  const summary = summarize(publisher.counts(), startedAt, result.interrupted, result.lastTs);
  options.progress?.finish({
    done: summary.total,
    fraction: result.interrupted ? fraction(result.lastTs) : 1,
    detail: eventTimeDetail(result.lastTs),
  });
  return summary;
}

/** Writes the fleet as the five reference CSV files (what `import-csv` reads back). */
export async function simulateToCsv(
  fleet: Fleet,
  dir: string,
  options: RunOptions = {},
): Promise<RunSummary> {
  if (options.speed !== undefined || options.maxRate !== undefined) {
    throw new ConfigError('--speed and --max-rate pace publishing; they do not apply to --out-csv', {
      stage: 'simulate',
    });
  }
  const startedAt = performance.now();
  const { startMs, endMs } = fleet.clock;
  let lastTs: number | undefined;
  // Tracks the event time reached for the progress line without touching the generator.
  function* tracked(): Generator<PdmEvent> {
    for (const e of fleet.events()) {
      if (e.kind !== 'machines') lastTs = e.record.ts;
      yield e;
    }
  }
  const counts = await writeReferenceCsv(dir, tracked(), {
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (c) => {
      options.progress?.update({
        done: total(c),
        fraction: lastTs === undefined ? 0 : (lastTs - startMs) / (endMs - startMs),
        detail: eventTimeDetail(lastTs),
      });
    },
  });
  const interrupted = options.signal?.aborted === true;
  const summary = summarize(counts, startedAt, interrupted, lastTs);
  const reached = lastTs === undefined ? 0 : (lastTs - startMs) / (endMs - startMs);
  options.progress?.finish({
    done: summary.total,
    fraction: interrupted ? reached : 1,
    detail: eventTimeDetail(lastTs),
  });
  return summary;
}

export interface ImportOptions extends Omit<RunOptions, 'speed'> {
  /** Every rejected row, as it is found. */
  readonly onReject?: (r: CsvRejection) => void;
}

/** Publishes the reference CSV files of `dir` in event-time order; bad rows are counted and reported. */
export async function importCsvToPublisher(
  dir: string,
  publisher: RecordPublisher,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const startedAt = performance.now();
  const rejectedByFile: Record<string, number> = {};
  let rejected = 0;
  let csv: CsvProgress = { rows: 0, bytes: 0, totalBytes: 0 };
  const fraction = (): number => (csv.totalBytes > 0 ? csv.bytes / csv.totalBytes : 0);
  const events = readReferenceCsv(dir, {
    onReject: (r) => {
      rejected++;
      rejectedByFile[r.file] = (rejectedByFile[r.file] ?? 0) + 1;
      options.onReject?.(r);
    },
    onProgress: (p) => {
      csv = p;
    },
  });
  const result = await publishStream(events, publisher, {
    ...(options.batchRecords !== undefined ? { batchRecords: options.batchRecords } : {}),
    pacer: createPacer(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onBatch: (taken, lastTs) => {
      options.progress?.update({ done: total(taken), fraction: fraction(), detail: eventTimeDetail(lastTs) });
    },
  });
  const summary = summarize(publisher.counts(), startedAt, result.interrupted, result.lastTs);
  options.progress?.finish({ done: summary.total, fraction: fraction(), detail: `${rejected} rejected` });
  return { ...summary, rejected, rejectedByFile };
}
