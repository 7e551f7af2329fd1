/** Row shapes of the ClickHouse tables (see migrations.ts) and their conversion from engine values. */

/**
 * Whether the server takes DateTime64, LowCardinality and TTL (`ServerCapabilities.modernTypes`, clickhouse.ts).
 * Declared here, not imported: clickhouse.ts encodes rows with row-binary.ts, which needs these row types.
 */
export interface ModernTypes {
  readonly modernTypes: boolean;
}

export const TABLES = {
  predictions: 'predictions',
  featureVectors: 'feature_vectors',
  featureSets: 'feature_sets',
  deadLetters: 'dead_letters',
  riskAlerts: 'risk_alerts',
  /** Shadow scoring (src/sink/shadow.ts, migration 8). */
  shadowPredictions: 'shadow_predictions',
} as const;

export interface PredictionRow {
  readonly machine_id: number;
  readonly bucket_ts: string;
  readonly p_none: number;
  readonly p_comp1: number;
  readonly p_comp2: number;
  readonly p_comp3: number;
  readonly p_comp4: number;
  readonly predicted_class: string;
  readonly predicted_index: number;
  /** 1 when the package's decision alerts for some component (migration 6). */
  readonly alert: number;
  /** Strongest alerting component, `none` when the row does not alert. */
  readonly alert_class: string;
  /** Every alerting component, in class order. */
  readonly alert_components: readonly string[];
  /** 1 while the machine's windows do not cover its history yet; such a row never alerts. */
  readonly warming_up: number;
  readonly model_version: string;
  readonly spec_hash: string;
  readonly scored_at: string;
  readonly source_topic: string;
  readonly source_partition: number;
  readonly source_offset: string;
  readonly engine_version: string;
}

export interface FeatureVectorRow {
  readonly machine_id: number;
  readonly bucket_ts: string;
  readonly spec_hash: string;
  readonly feature_set: string;
  /** RowBinary takes the feature row's own Float64Array: no per-row copy into an array. */
  readonly features: readonly number[] | Float64Array;
  readonly model_version: string;
  readonly scored_at: string;
  readonly engine_version: string;
}

/** One row per spec hash: `feature_names[i]` names `feature_vectors.features[i]` (both 1-based in SQL). */
export interface FeatureSetRow {
  readonly spec_hash: string;
  readonly feature_set: string;
  readonly feature_names: readonly string[];
  readonly registered_at: string;
}

/** One failure-risk alert transition (migration 7, src/pipeline/risk-alerts.ts). */
export interface RiskAlertRow {
  readonly alert_id: string;
  readonly machine_id: number;
  readonly component: string;
  /** `firing` or `resolved`. */
  readonly state: string;
  readonly bucket_ts: string;
  readonly fired_bucket_ts: string;
  readonly probability: number;
  readonly threshold: number;
  readonly clear_threshold: number;
  readonly model_version: string;
  readonly source_topic: string;
  readonly source_partition: number;
  readonly source_offset: string;
  readonly emitted_at: string;
  readonly engine_version: string;
}

export interface DeadLetterRow {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly payload_base64: string;
  readonly payload_bytes: number;
  readonly reason: string;
  readonly stage: string;
  readonly error_message: string;
  readonly schema_id: number;
  readonly machine_id: number;
  readonly message_ts: string;
  readonly dead_lettered_at: string;
  readonly engine_version: string;
}

/** Recent results of {@link formatDateTime}: the engine formats the same few bucket instants for every row. */
const dateTimeCache = new Map<number, string>();

/** `YYYY-MM-DD hh:mm:ss` in UTC: the text form every ClickHouse version parses for DateTime('UTC'). */
export function formatDateTime(epochMs: number): string {
  const seconds = Math.floor(epochMs / 1000);
  let text = dateTimeCache.get(seconds);
  if (text === undefined) {
    if (dateTimeCache.size >= 4_096) dateTimeCache.clear();
    text = new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
    dateTimeCache.set(seconds, text);
  }
  return text;
}

/** Millisecond instant for DateTime64(3) on modern servers, whole seconds on 18.x. */
export function formatInstant(epochMs: number, caps: ModernTypes): string {
  if (!caps.modernTypes) return formatDateTime(epochMs);
  return new Date(epochMs).toISOString().slice(0, 23).replace('T', ' ');
}
