import type { ClassName } from '../features/index.js';

/**
 * The inference backend behind the scorer (house style rule 1): one adapter file per library. Rows are a
 * row-major float32 matrix `nRows × nFeatures`; the result is `nRows × nClasses` probabilities in the
 * package's class order.
 *
 * Ownership: `score` may transfer `rows.buffer` to another thread (the worker scorer does), after which the
 * caller's array is detached. Pass an array you do not reuse.
 */
export interface Scorer {
  score(rows: Float32Array, nRows: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** A row to score: the feature stage's `FeatureRow` satisfies it. */
export interface ScoreInputRow {
  readonly machineId: number;
  /** Bucket instant B, epoch ms UTC. */
  readonly bucketMs: number;
  /** FEATURE_COUNT values in FEATURE_NAMES order. */
  readonly values: ArrayLike<number>;
}

/** One scored row. */
export interface ScoredRow {
  readonly machineId: number;
  readonly bucketMs: number;
  /**
   * Class probabilities in CLASSES order. A view into the batch's output buffer (no per-row copy): copy it
   * if you keep it longer than the batch's other rows.
   */
  readonly probabilities: Float32Array;
  /** Index into CLASSES of the largest probability (first one on ties, like numpy's argmax). */
  readonly predictedIndex: number;
  readonly predictedClass: ClassName;
  /**
   * The package's decision (decision.ts): bit i − 1 set when class i alerts (P ≥ its threshold, not
   * warming up). This, not the argmax, is what alerts and reports act on.
   */
  readonly alertMask: number;
  /** The strongest alerting class (largest P / threshold), 0 (`none`) when nothing alerts. */
  readonly alertIndex: number;
  readonly alertClass: ClassName;
  /** The row's windows do not yet cover 36 h of history: it does not alert (decision.ts). */
  readonly warmingUp: boolean;
  /** `<name>/<version>` of the model package. */
  readonly modelVersion: string;
  /**
   * The package's alert thresholds per class index (the same array for every row of a package, not a
   * copy): the failure-risk alerts derive their clear threshold from it. Undefined: no alert rule.
   */
  readonly alertThresholds?: Float64Array | undefined;
}
