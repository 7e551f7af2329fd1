import { createHash } from 'node:crypto';

/**
 * Feature set `pdm-v1` (../shared/FEATURES.md): names, order, classes and the spec hash. The hash is what a
 * model package must carry to be accepted by the scorer, so anything that changes the meaning or the order
 * of a feature must change the text hashed here (and is a new feature-set version).
 */
export const FEATURE_SET = 'pdm-v1' as const;

export const SENSORS = ['volt', 'rotate', 'pressure', 'vibration'] as const;
export type Sensor = (typeof SENSORS)[number];

/** Fixed by the spec (the bucket length is a setting, the windows are not). */
export const WINDOW_HOURS = [12, 24, 36] as const;
export const ERROR_IDS = ['error1', 'error2', 'error3', 'error4', 'error5'] as const;
export const COMPONENTS = ['comp1', 'comp2', 'comp3', 'comp4'] as const;
export const MODELS = ['model1', 'model2', 'model3', 'model4'] as const;
export const ERROR_WINDOW_HOURS = 24;
export const REPLACEMENT_CAP_DAYS = 365;
export const LABEL_HORIZON_DAYS = 7;

/** Model output classes, in order. */
export const CLASSES = ['none', 'comp1', 'comp2', 'comp3', 'comp4'] as const;
export type ClassName = (typeof CLASSES)[number];

function buildFeatureNames(): readonly string[] {
  const names: string[] = [];
  for (const s of SENSORS) {
    for (const w of WINDOW_HOURS) names.push(`${s}_mean_${w}h`, `${s}_std_${w}h`);
  }
  for (const e of ERROR_IDS) names.push(`${e}_count_24h`);
  for (const c of COMPONENTS) names.push(`${c}_days_since_replacement`);
  names.push('age');
  for (const m of MODELS) names.push(`model_${m}`);
  return Object.freeze(names);
}

/** The 38 feature names in vector order. */
export const FEATURE_NAMES: readonly string[] = buildFeatureNames();
export const FEATURE_COUNT = FEATURE_NAMES.length;

/**
 * Canonical text of the spec's semantics for a given feature order and class list. Editing a rule here (or a
 * name/order above) changes the hash and makes every existing model package incompatible, on purpose.
 */
function specText(featureNames: readonly string[], classes: readonly string[]): string {
  return [
    `feature_set=${FEATURE_SET}`,
    `features=${featureNames.join(',')}`,
    `classes=${classes.join(',')}`,
    'sensor_windows=(B-W,B];mean;sample_std(n-1);std_single=0',
    `error_window=(B-${ERROR_WINDOW_HOURS}h,B];count`,
    `replacement=days_since_last(ts<=B);cap=${REPLACEMENT_CAP_DAYS};none=${REPLACEMENT_CAP_DAYS}`,
    'age=latest;unknown=-1',
    'model=one_hot;unknown=all_zero',
    'silent=no_telemetry_in_(B-12h,B]_not_scored',
    `label=earliest_failure_in_(B,B+${LABEL_HORIZON_DAYS}d];tie=lowest_component`,
    // Revision 2 (FEATURES.md "Revisions"): which events count at all is part of what a feature means.
    'revision=2',
    'event_time=[2000-01-01T00:00:00Z,2100-01-01T00:00:00Z);outside=INVALID_VALUE',
    'future=ts>processing_clock+allowed_skew;FUTURE_EVENT;not_used',
    'dead_letter=changes_no_state(watermark,duplicates,silent)',
    'lateness=per_machine;late=ts<=last_closed_bucket_of_machine',
    'duplicates=telemetry(machineId,ts);errors(machineId,ts,errorId);maintenance(machineId,ts,comp)',
    'metadata_tombstone=deletes;age=-1;model=unknown',
  ].join('\n');
}

/** sha256 (hex) of the spec text for this feature order and class list; SPEC_HASH is it for pdm-v1. */
export function specHash(featureNames: readonly string[], classes: readonly string[]): string {
  return createHash('sha256').update(specText(featureNames, classes)).digest('hex');
}

/** sha256 of the spec text, hex. Model packages must carry exactly this value. */
export const SPEC_HASH: string = specHash(FEATURE_NAMES, CLASSES);
