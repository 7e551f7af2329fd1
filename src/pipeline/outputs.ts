/** The rows the engine writes for a scored bucket, and the interfaces of the stages that produce them. */
import { CLASSES, FEATURE_SET, SPEC_HASH, type FeatureRow } from '../features/index.js';
import type { DeadLetterSink } from '../dlq/index.js';
import { ENGINE_VERSION } from '../shared/version.js';
import {
  formatDateTime,
  type BatchWriter,
  type FeatureVectorRow,
  type PredictionRow,
} from '../sink/index.js';

/** What the pipeline needs from the scoring stage. */
export interface RowScorer {
  readonly modelVersion: string;
  score(rows: readonly FeatureRow[]): Promise<readonly ScoredLike[]>;
}

export interface ScoredLike {
  readonly machineId: number;
  readonly bucketMs: number;
  readonly probabilities: ArrayLike<number>;
  readonly predictedIndex: number;
  readonly predictedClass: string;
  /** The package's decision (src/score/decision.ts): bit i − 1 for alerting class i of CLASSES. */
  readonly alertMask: number;
  /** Strongest alerting class, `none` when nothing alerts. */
  readonly alertClass: string;
  readonly warmingUp: boolean;
  readonly modelVersion: string;
  /** The scoring package's alert threshold per class index (risk-alerts.ts); absent: no alerts. */
  readonly alertThresholds?: ArrayLike<number> | undefined;
}

/** CLASSES named by an alert mask (the package's classes equal the engine's: checked at load). */
function alertComponents(mask: number): string[] {
  const out: string[] = [];
  for (let i = 1; i < CLASSES.length; i++) if ((mask & (1 << (i - 1))) !== 0) out.push(CLASSES[i] as string);
  return out;
}

export interface SourceCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface OutputWriters {
  readonly predictions: BatchWriter<PredictionRow>;
  readonly features: BatchWriter<FeatureVectorRow>;
  readonly deadLetters: DeadLetterSink;
}

/** The `predictions` row of a scored row (also used by `rescore`, so both write the same fields). */
export function predictionRow(s: ScoredLike, at: SourceCoordinates, scoredAt: string): PredictionRow {
  const p = s.probabilities;
  return {
    machine_id: s.machineId,
    bucket_ts: formatDateTime(s.bucketMs),
    p_none: p[0] ?? 0,
    p_comp1: p[1] ?? 0,
    p_comp2: p[2] ?? 0,
    p_comp3: p[3] ?? 0,
    p_comp4: p[4] ?? 0,
    predicted_class: s.predictedClass,
    predicted_index: s.predictedIndex,
    alert: s.alertMask === 0 ? 0 : 1,
    alert_class: s.alertClass,
    alert_components: alertComponents(s.alertMask),
    warming_up: s.warmingUp ? 1 : 0,
    model_version: s.modelVersion,
    spec_hash: SPEC_HASH,
    scored_at: scoredAt,
    source_topic: at.topic,
    source_partition: at.partition,
    source_offset: at.offset,
    engine_version: ENGINE_VERSION,
  };
}

/** The `feature_vectors` row of a scored feature row. */
export function featureVectorRow(r: FeatureRow, modelVersion: string, scoredAt: string): FeatureVectorRow {
  return {
    machine_id: r.machineId,
    bucket_ts: formatDateTime(r.bucketMs),
    spec_hash: SPEC_HASH,
    feature_set: FEATURE_SET,
    features: r.values,
    model_version: modelVersion,
    scored_at: scoredAt,
    engine_version: ENGINE_VERSION,
  };
}
