/**
 * What the feature stage hands to the rest of the engine: feature rows of closed buckets and typed
 * outcomes for everything that did not become part of a row (house style rule 5: never silent).
 */
import type { DeadLetterReason } from '../shared/errors.js';
import type { RecordKind } from '../shared/records.js';

/** Features of one machine at one closed bucket instant. */
export interface FeatureRow {
  readonly machineId: number;
  /** Bucket instant B, epoch ms UTC (a multiple of bucketMs). */
  readonly bucketMs: number;
  /** FEATURE_COUNT (38) values in FEATURE_NAMES order. */
  readonly values: Float64Array;
}

/** Dead-letter reasons the feature stage gives (the decoder gives the others). */
export const FEATURE_DEAD_LETTER_REASONS = ['INVALID_VALUE', 'FUTURE_EVENT', 'LATE_EVENT'] as const;
export type FeatureDeadLetterReason = Extract<DeadLetterReason, (typeof FEATURE_DEAD_LETTER_REASONS)[number]>;

/**
 * An input event that must be dead-lettered; `index` is its position in the `ingest` batch. A dead-lettered
 * event changed no state (spec revision 2): no watermark, no duplicate bookkeeping, no machine entry.
 */
export interface DeadLetterOutcome {
  readonly kind: FeatureDeadLetterReason;
  readonly index: number;
  readonly recordKind: RecordKind;
  /** As received (may be NaN for an invalid record). */
  readonly machineId: number;
  /** Human-readable reason, written into the dead-letter row. */
  readonly message: string;
}

/**
 * An event seen before (telemetry: same (machineId, ts); errors: same (machineId, ts, errorId); maintenance:
 * same (machineId, ts, comp)): ignored and counted, not dead-lettered.
 */
export interface DuplicateOutcome {
  readonly kind: 'DUPLICATE';
  readonly index: number;
  readonly recordKind: 'telemetry' | 'errors' | 'maintenance';
  readonly machineId: number;
  readonly ts: number;
}

/** Outcome of one input event that was not used for features. Valid events produce no outcome. */
export type EventOutcome = DeadLetterOutcome | DuplicateOutcome;

/** True for INVALID_VALUE, FUTURE_EVENT and LATE_EVENT (dead-letter them); false for DUPLICATE (count it). */
export function isDeadLetterOutcome(o: EventOutcome): o is DeadLetterOutcome {
  return o.kind === 'INVALID_VALUE' || o.kind === 'FUTURE_EVENT' || o.kind === 'LATE_EVENT';
}

/**
 * Consecutive closed buckets of one machine at which it had no telemetry in (B − 12 h, B]: not scored
 * (spec "silent machines"). Buckets `fromBucketMs, fromBucketMs + bucketMs, …, toBucketMs`; a run is
 * reported as one value so that a long outage (or a clock jump) costs O(1), not one object per bucket.
 */
export interface SilentRun {
  readonly machineId: number;
  readonly fromBucketMs: number;
  readonly toBucketMs: number;
  /** Number of buckets in the run. */
  readonly buckets: number;
}

/** What one `closeReady()` produced. Rows are in (machineId, bucketMs) order, runs in (machineId, from). */
export interface CloseResult {
  readonly rows: FeatureRow[];
  readonly silent: SilentRun[];
}

/** Cumulative counts since the engine was created (for metrics). */
export interface FeatureCounts {
  /** Valid input events by kind (used, or ignored as labels for `failures`). */
  telemetry: number;
  errors: number;
  maintenance: number;
  machines: number;
  /** Failure events: labels only, ignored by the feature engine. */
  failuresIgnored: number;
  /** Tombstones on the machines topic (metadata deleted); also counted in `machines`. */
  tombstones: number;
  late: number;
  invalid: number;
  /** Events later than the processing clock plus the allowed future skew (FUTURE_EVENT). */
  future: number;
  /** Duplicate telemetry, errors and maintenance events. */
  duplicates: number;
  rows: number;
  silentBuckets: number;
  /** Buckets closed without output because they were already written before a restart. */
  suppressedBuckets: number;
}

export interface FeatureEngineStats {
  readonly machines: number;
  /**
   * Approximate bytes of per-machine state: exact typed-array backing stores plus a fixed estimate per
   * machine for the state object, its typed-array headers and the map entry.
   */
  readonly stateBytes: number;
  /** Exact bytes of the typed-array backing stores alone. */
  readonly typedArrayBytes: number;
  readonly sideWatermarkMs: number;
  readonly counts: Readonly<FeatureCounts>;
}
