/**
 * Shadow scoring's table and agreement query (issue 13, item 4).
 *
 * A shadow package (PDM_SHADOW_MODEL_DIR) scores every row the live model scores. Its rows go to
 * `shadow_predictions`, never to `predictions`: the restore, the risk alerts and every reader of the live
 * table are unaffected. Each shadow row carries the live model's answer for the same feature vector
 * (`live_*`), written by the same write group, so agreement is a plain aggregation (no join: 18.16's joins
 * are limited, and a join would pair a shadow row with a live row of another scoring of the same bucket).
 */
import { CLASSES } from '../features/index.js';
import { quoteIdent } from './bind.js';
import { predictionsFormat, type RowBinaryColumn, type RowBinaryFormat } from './row-binary.js';
import { TABLES, type ModernTypes, type PredictionRow } from './tables.js';

export const SHADOW_AGREEMENT_VIEW = 'shadow_agreement';

/** A `predictions` row of the shadow model, plus the live model's answer for the same feature vector. */
export interface ShadowPredictionRow extends PredictionRow {
  readonly live_model_version: string;
  readonly live_p_none: number;
  readonly live_p_comp1: number;
  readonly live_p_comp2: number;
  readonly live_p_comp3: number;
  readonly live_p_comp4: number;
  readonly live_predicted_class: string;
  readonly live_alert: number;
  readonly live_alert_components: readonly string[];
}

/** Every column of `predictions` (same types), then the live model's answer. */
export function shadowPredictionsFormat(caps: ModernTypes): RowBinaryFormat<ShadowPredictionRow> {
  const live: RowBinaryColumn<ShadowPredictionRow>[] = [
    { name: 'live_model_version', type: 'String', value: (r) => r.live_model_version },
    { name: 'live_p_none', type: 'Float32', value: (r) => r.live_p_none },
    { name: 'live_p_comp1', type: 'Float32', value: (r) => r.live_p_comp1 },
    { name: 'live_p_comp2', type: 'Float32', value: (r) => r.live_p_comp2 },
    { name: 'live_p_comp3', type: 'Float32', value: (r) => r.live_p_comp3 },
    { name: 'live_p_comp4', type: 'Float32', value: (r) => r.live_p_comp4 },
    { name: 'live_predicted_class', type: 'String', value: (r) => r.live_predicted_class },
    { name: 'live_alert', type: 'UInt8', value: (r) => r.live_alert },
    { name: 'live_alert_components', type: 'Array(String)', value: (r) => r.live_alert_components },
  ];
  return { columns: [...predictionsFormat(caps).columns, ...live] };
}

/** `shadow_predictions` DDL (migration 8); `lowCard` and `instant` are the server's types (migrations.ts). */
export function shadowTableDdl(db: string, t: { lowCard: string; instant: string }): string {
  const probabilities = (prefix: string) => CLASSES.map((c) => `  ${prefix}p_${c} Float32,`).join('\n');
  // Keyed like `predictions` plus the live version it was compared with: a group re-scored after a crash
  // writes the same key again and merges away; a hot-swap of either model starts new keys.
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.${TABLES.shadowPredictions} (
  machine_id UInt32,
  bucket_ts DateTime('UTC'),
${probabilities('')}
  predicted_class ${t.lowCard},
  predicted_index UInt8,
  alert UInt8,
  alert_class ${t.lowCard},
  alert_components Array(String),
  warming_up UInt8,
  model_version ${t.lowCard},
  spec_hash ${t.lowCard},
  scored_at ${t.instant},
  source_topic ${t.lowCard},
  source_partition Int32,
  source_offset Int64,
  engine_version ${t.lowCard},
  live_model_version ${t.lowCard},
${probabilities('live_')}
  live_predicted_class ${t.lowCard},
  live_alert UInt8,
  live_alert_components Array(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(bucket_ts)
ORDER BY (machine_id, bucket_ts, model_version, live_model_version)`;
}

/** The agreement columns, in order; `report --shadow` and the tests read them by these names. */
export interface ShadowAgreement {
  readonly shadow_model_version: string;
  readonly live_model_version: string;
  readonly rows: number;
  readonly warming_up_rows: number;
  readonly first_bucket: string;
  readonly last_bucket: string;
  /** Share of rows whose argmax class is the same. */
  readonly same_class_share: number;
  /** Per class of CLASSES: mean and p99 (exact) of |P_shadow(c) − P_live(c)|. */
  readonly mean_abs_dp: Readonly<Record<string, number>>;
  readonly p99_abs_dp: Readonly<Record<string, number>>;
  readonly live_alert_rows: number;
  readonly shadow_alert_rows: number;
  readonly both_alert_rows: number;
  /** Per alerting component: rows where the live / the shadow decision alerts for it, and both. */
  readonly live_alerts: Readonly<Record<string, number>>;
  readonly shadow_alerts: Readonly<Record<string, number>>;
  readonly both_alerts: Readonly<Record<string, number>>;
}

const COMPONENTS = CLASSES.filter((c) => c !== 'none');

/**
 * The agreement of each (shadow version, live version) pair over deduplicated rows. The view is this query
 * over every row; `report --shadow` runs it with `where` (a condition with query parameters).
 */
export function shadowAgreementSelect(db: string, where?: string): string {
  const perClass = CLASSES.flatMap((c) => [
    `avg(abs(p_${c} - live_p_${c})) AS mean_abs_dp_${c}`,
    `quantileExact(0.99)(abs(p_${c} - live_p_${c})) AS p99_abs_dp_${c}`,
  ]);
  const perComponent = COMPONENTS.flatMap((c) => [
    `countIf(has(live_alert_components, '${c}')) AS live_alerts_${c}`,
    `countIf(has(alert_components, '${c}')) AS shadow_alerts_${c}`,
    `countIf(has(live_alert_components, '${c}') AND has(alert_components, '${c}')) AS both_alerts_${c}`,
  ]);
  return `SELECT model_version AS shadow_model_version, live_model_version,
  count() AS rows, countIf(warming_up = 1) AS warming_up_rows,
  min(bucket_ts) AS first_bucket, max(bucket_ts) AS last_bucket,
  avg(predicted_class = live_predicted_class) AS same_class_share,
  ${perClass.join(',\n  ')},
  countIf(live_alert = 1) AS live_alert_rows, countIf(alert = 1) AS shadow_alert_rows,
  countIf(alert = 1 AND live_alert = 1) AS both_alert_rows,
  ${perComponent.join(',\n  ')}
FROM ${quoteIdent(db)}.${TABLES.shadowPredictions} FINAL${where === undefined ? '' : `\nWHERE ${where}`}
GROUP BY shadow_model_version, live_model_version
ORDER BY shadow_model_version, live_model_version`;
}

/** A row of {@link shadowAgreementSelect} as the HTTP JSON formats return it (UInt64 may be text). */
export function parseShadowAgreement(r: Readonly<Record<string, unknown>>): ShadowAgreement {
  const n = (k: string) => Number(r[k] ?? 0);
  const byName = (prefix: string, names: readonly string[]) =>
    Object.fromEntries(names.map((c) => [c, n(`${prefix}${c}`)]));
  return {
    shadow_model_version: String(r['shadow_model_version']),
    live_model_version: String(r['live_model_version']),
    rows: n('rows'),
    warming_up_rows: n('warming_up_rows'),
    first_bucket: String(r['first_bucket']),
    last_bucket: String(r['last_bucket']),
    same_class_share: n('same_class_share'),
    mean_abs_dp: byName('mean_abs_dp_', CLASSES),
    p99_abs_dp: byName('p99_abs_dp_', CLASSES),
    live_alert_rows: n('live_alert_rows'),
    shadow_alert_rows: n('shadow_alert_rows'),
    both_alert_rows: n('both_alert_rows'),
    live_alerts: byName('live_alerts_', COMPONENTS),
    shadow_alerts: byName('shadow_alerts_', COMPONENTS),
    both_alerts: byName('both_alerts_', COMPONENTS),
  };
}
