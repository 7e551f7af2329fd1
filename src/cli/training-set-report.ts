/**
 * What `training-set` says it did: where the rows came from and why logged vectors are not in the file.
 * The same object is the `source` of the file's sidecar, so the training report can repeat it.
 */
import { FEATURE_COUNT } from '../features/index.js';
import { groupDigits } from '../shared/progress.js';

export interface TrainingSetReport {
  readonly out: string;
  readonly database: string;
  readonly specHash: string;
  readonly selection: {
    /** ISO instants; null = unbounded. */
    readonly from: string | null;
    readonly to: string | null;
    /** `1,2,5-9`; null = every machine. */
    readonly machines: string | null;
  };
  readonly featureVectors: {
    /** Physical rows of the spec hash in the selection not merged yet (≥ buckets). */
    readonly copies: number;
    /** Deduplicated rows read: one per machine and bucket. */
    readonly buckets: number;
    readonly multiVersionBuckets: number;
    readonly conflictingBuckets: number;
    /** Rows per other spec hash in the selection: not exported. */
    readonly otherSpecHashes: Readonly<Record<string, number>>;
    readonly wrongLength: number;
    readonly nonFinite: number;
  };
  readonly labels: {
    /** Failures are taken as known up to this instant (ISO); null when nothing is logged. */
    readonly until: string | null;
    /** Where `until` came from. */
    readonly untilFrom: string;
    /** Rows whose label window (B, B + 7 d] ends after `until`. */
    readonly incomplete: number;
    /** Whether those rows are in the file. */
    readonly incompleteIncluded: boolean;
  };
  readonly failures: {
    readonly topic: string;
    readonly partitions: number;
    readonly records: number;
    /** Records the decoder refused, by dead-letter reason. */
    readonly undecodable: Readonly<Record<string, number>>;
    readonly invalid: number;
    readonly future: number;
    readonly duplicates: number;
    /** Distinct failures that label rows. */
    readonly used: number;
    readonly machines: number;
    readonly processingClock: string;
    /** Failures written to --failures-out; null without it. */
    readonly written: number | null;
  };
  readonly rows: number;
  readonly machines: number;
  readonly firstBucketTs: number | null;
  readonly lastBucketTs: number | null;
  readonly labelCounts: Readonly<Record<string, number>>;
}

const n = groupDigits;

function counts(record: Readonly<Record<string, number>>): string {
  const parts = Object.entries(record).map(([k, v]) => `${k} ${n(v)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The report as lines: the first one alone says where the rows came from (the sidecar's summary). */
export function formatTrainingSetReport(r: TrainingSetReport): string[] {
  const fv = r.featureVectors;
  const f = r.failures;
  const l = r.labels;
  const sel = r.selection;
  const range =
    sel.from === null && sel.to === null ? 'all buckets' : `buckets [${sel.from ?? '…'}, ${sel.to ?? '…'})`;
  const machines = sel.machines === null ? 'all machines' : `machines ${sel.machines}`;
  const dropped = fv.buckets - r.rows;
  const others = Object.values(fv.otherSpecHashes).reduce((a, b) => a + b, 0);
  const lines = [
    `training-set: ${n(r.rows)} rows of ${r.machines} machines from ClickHouse ${r.database}.feature_vectors ` +
      `(spec hash ${r.specHash.slice(0, 12)}…, ${range}, ${machines}), labels from ${n(f.used)} failures of Kafka topic ${f.topic}`,
    `  labels: ${counts(r.labelCounts)}`,
    `  feature_vectors: ${n(fv.copies)} logged rows → ${n(fv.buckets)} buckets after deduplication ` +
      `(${n(fv.copies - fv.buckets)} copies dropped: re-logged or scored by several model versions; ` +
      `${n(fv.multiVersionBuckets)} buckets scored by more than one model version, ` +
      `${n(fv.conflictingBuckets)} with differing vectors, the latest logged kept)`,
    `  dropped ${n(dropped)} of the ${n(fv.buckets)} buckets: ` +
      `${n(l.incompleteIncluded ? 0 : l.incomplete)} label window (B, B + 7 d] not covered by the failures yet, ` +
      `${n(fv.wrongLength)} vector length not ${FEATURE_COUNT}, ${n(fv.nonFinite)} non-finite values`,
    `  label windows: failures taken as known up to ${l.until ?? '–'} (${l.untilFrom}); ` +
      `${n(l.incomplete)} rows end after it: ${l.incompleteIncluded ? 'included (--include-incomplete), labels may still change' : 'excluded'}`,
    `  not exported: ${n(others)} vectors of other spec hashes in the selection` +
      (others > 0 ? ` (${counts(fv.otherSpecHashes)})` : ''),
    `  failures topic: ${n(f.records)} records in ${f.partitions} partitions → ${n(f.used)} failures of ${f.machines} machines; ` +
      `not decodable ${counts(f.undecodable)}; invalid ${n(f.invalid)}; future (after ${f.processingClock} + skew) ${n(f.future)}; ` +
      `duplicates ${n(f.duplicates)}` +
      (f.written === null ? '' : `; ${n(f.written)} written for the exported machines`),
    `  → ${r.out} (+ .meta.json)`,
  ];
  return lines;
}
