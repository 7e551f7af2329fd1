/**
 * `pdm-stream report --shadow [--from T] [--to T]`: how the shadow model (PDM_SHADOW_MODEL_DIR) agrees with
 * the live one on the rows both scored, from `shadow_predictions` (src/sink/shadow.ts): the same query as
 * the `shadow_agreement` view, limited to buckets in [from, to), then the machines whose latest bucket the
 * two models decide differently.
 */
import { CLASSES } from '../features/index.js';
import {
  dateTimeRange,
  parseShadowAgreement,
  quoteIdent,
  shadowAgreementSelect,
  TABLES,
  type ClickHouseConnection,
  type QueryParams,
  type QueryParamValue,
  type ShadowAgreement,
} from '../sink/index.js';

export interface ShadowReportOptions {
  readonly fromMs?: number | undefined;
  readonly toMs?: number | undefined;
  /** Machines with different decisions at their latest bucket to list. */
  readonly top: number;
}

interface Disagreement {
  machine_id: number;
  bucket_ts: string;
  shadow_model_version: string;
  live_model_version: string;
  alert_components: string[];
  live_alert_components: string[];
}

/** `bucket_ts` in [from, to): whole seconds (bucket ≥ fromMs ⇔ s ≥ ⌈fromMs/1000⌉, < toMs ⇔ s < ⌈toMs/1000⌉). */
function rangeSql(opts: ShadowReportOptions): { where: string | undefined; params: QueryParams } {
  const clauses: string[] = [];
  const params: Record<string, QueryParamValue> = {};
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.ceil(ms / 1000));
  dateTimeRange('bucket_ts', seconds(opts.fromMs), seconds(opts.toMs), clauses, params);
  return { where: clauses.length === 0 ? undefined : clauses.join(' AND '), params };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const num = (x: number) => x.toLocaleString('en-US');

/** The lines `report --shadow` prints for one (shadow, live) pair. */
export function formatShadowAgreement(a: ShadowAgreement): string[] {
  const components = CLASSES.filter((c) => c !== 'none');
  const cell = (v: string) => v.padStart(8);
  const lines = [
    `shadow ${a.shadow_model_version} vs live ${a.live_model_version}: ${num(a.rows)} rows, buckets ${a.first_bucket} … ${a.last_bucket} (${num(a.warming_up_rows)} warming up)`,
    `  same most likely class (argmax): ${pct(a.same_class_share)}`,
    `  |P_shadow − P_live| ${CLASSES.map(cell).join('')}`,
    `    mean           ${CLASSES.map((c) => cell((a.mean_abs_dp[c] ?? 0).toFixed(4))).join('')}`,
    `    p99            ${CLASSES.map((c) => cell((a.p99_abs_dp[c] ?? 0).toFixed(4))).join('')}`,
    `  rows alerting     ${['live', 'shadow', 'both'].map(cell).join('')}`,
    `    any component  ${[a.live_alert_rows, a.shadow_alert_rows, a.both_alert_rows].map((v) => cell(num(v))).join('')}`,
  ];
  for (const c of components) {
    lines.push(
      `    ${c.padEnd(15)}${[a.live_alerts[c], a.shadow_alerts[c], a.both_alerts[c]].map((v) => cell(num(v ?? 0))).join('')}`,
    );
  }
  return lines;
}

/** Prints the shadow agreement; returns the number of (shadow, live) pairs found. */
export async function printShadowReport(
  ch: ClickHouseConnection,
  database: string,
  opts: ShadowReportOptions,
  print: (line: string) => void = console.log,
): Promise<number> {
  const { where, params } = rangeSql(opts);
  const rows = await ch.query<Record<string, unknown>>(shadowAgreementSelect(database, where), params);
  if (rows.length === 0) {
    print(
      'shadow: no shadow predictions in this range (`run` writes them when PDM_SHADOW_MODEL_DIR names a second model package)',
    );
    return 0;
  }
  for (const r of rows) for (const line of formatShadowAgreement(parseShadowAgreement(r))) print(line);
  const db = quoteIdent(database);
  // Each machine's latest bucket per pair of versions, where the two decisions name other components.
  const differ = await ch.query<Disagreement>(
    `SELECT machine_id, toString(bucket_ts) AS bucket_ts, model_version AS shadow_model_version,
  live_model_version, alert_components, live_alert_components
FROM (
  SELECT machine_id, bucket_ts, model_version, live_model_version, alert_components, live_alert_components
  FROM ${db}.${TABLES.shadowPredictions} FINAL${where === undefined ? '' : `\n  WHERE ${where}`}
  ORDER BY bucket_ts DESC
  LIMIT 1 BY machine_id, model_version, live_model_version
)
WHERE arrayStringConcat(alert_components, ',') != arrayStringConcat(live_alert_components, ',')
ORDER BY machine_id, shadow_model_version, live_model_version
LIMIT {top:UInt32}`,
    { ...params, top: opts.top },
  );
  print(
    `machines whose latest bucket the two models decide differently: ${differ.length === 0 ? 'none' : differ.length === opts.top ? `${differ.length} or more (the first ${opts.top} shown; --top shows more)` : String(differ.length)}`,
  );
  const show = (c: readonly string[]) => (c.length === 0 ? 'no alert' : c.join(', '));
  for (const d of differ) {
    print(
      `  machine ${String(d.machine_id).padStart(5)}  ${d.bucket_ts}  live: ${show(d.live_alert_components)}  shadow: ${show(d.alert_components)}${rows.length > 1 ? `  (${d.shadow_model_version} vs ${d.live_model_version})` : ''}`,
    );
  }
  return rows.length;
}
