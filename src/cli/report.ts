import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { deadLetterDepth } from '../dlq/index.js';
import { CLASSES } from '../features/index.js';
import { loadModelPackage } from '../score/index.js';
import { createClickHouse, quoteIdent, TABLES } from '../sink/index.js';
import { integerOption, USAGE_EXIT_CODE } from './options.js';
import { printShadowReport } from './report-shadow.js';
import { timeOption } from './rescore.js';

/** `LIMIT {top:UInt32}`: a positive integer that fits the parameter's type. */
export const topOption = integerOption(1, 0xffff_ffff);

interface Summary {
  predictions: string;
  machines: string;
  first: string;
  last: string;
}

interface AtRisk {
  machine_id: number;
  bucket_ts: string;
  alert_class: string;
  alert_components: string[];
  predicted_class: string;
  p: number;
  /** Largest P(c) / t_c over the alerting components. */
  over: number;
}

interface LatestCounts {
  machines: string;
  alerting: string;
  warming: string;
  argmax: string;
}

/**
 * The latest bucket of each machine (deduplicated). Rows written before migration 6 have `alert = 0`: they
 * were never decided by the package's rule, so they do not count as at risk.
 */
const latest = (db: string) =>
  `(SELECT * FROM ${db}.${TABLES.predictions} FINAL ORDER BY bucket_ts DESC LIMIT 1 BY machine_id)`;

/** What ops look at: predictions written, machines at risk now, dead letters by reason. Read-only. */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'print what ops look at: predictions written, machines at risk, dead letters by reason (--shadow: the shadow model against the live one)',
    )
    .option('--top <n>', 'machines at risk to list', topOption, 10)
    .option(
      '--shadow',
      'instead: how the shadow model (PDM_SHADOW_MODEL_DIR) agrees with the live one (shadow_agreement)',
    )
    .option('--from <time>', 'with --shadow: first bucket included (ISO-8601 or epoch ms)', timeOption)
    .option('--to <time>', 'with --shadow: first bucket excluded (same forms as --from)', timeOption)
    .action(async (opts: { top: number; shadow?: boolean; from?: number; to?: number }, cmd: Command) => {
      const usage = (message: string): never => cmd.error(`error: ${message}`, { exitCode: USAGE_EXIT_CODE });
      if (opts.shadow !== true && (opts.from !== undefined || opts.to !== undefined))
        usage('--from and --to select the buckets of --shadow; add --shadow');
      if (opts.from !== undefined && opts.to !== undefined && opts.from >= opts.to)
        usage('--from must be before --to (buckets in [from, to))');
      const config = loadConfig();
      const db = quoteIdent(config.clickhouse.database);
      const ch = createClickHouse(config.clickhouse);
      if (opts.shadow === true) {
        try {
          await printShadowReport(ch, config.clickhouse.database, {
            fromMs: opts.from,
            toMs: opts.to,
            top: opts.top,
          });
        } finally {
          await ch.close();
        }
        return;
      }
      try {
        const [s] = await ch.query<Summary>(
          `SELECT toString(count()) AS predictions, toString(uniqExact(machine_id)) AS machines,
  toString(min(bucket_ts)) AS first, toString(max(bucket_ts)) AS last
FROM ${db}.${TABLES.predictions} FINAL`,
        );
        console.log(
          `predictions: ${s?.predictions ?? 0} for ${s?.machines ?? 0} machines, buckets ${s?.first ?? '-'} … ${s?.last ?? '-'} (deduplicated)`,
        );
        // At risk = the package's decision alerts at the machine's latest bucket (P(c) ≥ t_c, not warming
        // up), not the argmax: the argmax of the class-weighted model misses the precision goal. Ranked by the
        // probability of the strongest alerting component.
        const [c] = await ch.query<LatestCounts>(
          `SELECT toString(count()) AS machines, toString(countIf(alert = 1)) AS alerting,
  toString(countIf(warming_up = 1)) AS warming, toString(countIf(predicted_class != 'none')) AS argmax
FROM ${latest(db)}`,
        );
        // Ranked by the package's thresholds: how far the strongest alerting component is over its threshold
        // (P(c) / t_c, the same rule that picks alert_class), then by how many components alert. The
        // thresholds are PDM_MODEL_DIR's (rows of other model versions are ranked by them too).
        const pkg = await loadModelPackage(config.score.modelDir);
        const t = (c: string) => {
          const v = pkg.alertThresholds?.[CLASSES.indexOf(c as (typeof CLASSES)[number])];
          return v !== undefined && Number.isFinite(v) && v > 0 ? v : 1;
        };
        const risk = await ch.query<AtRisk>(
          `SELECT machine_id, toString(bucket_ts) AS bucket_ts, alert_class, alert_components, predicted_class,
  toFloat64(multiIf(alert_class = 'comp1', p_comp1, alert_class = 'comp2', p_comp2, alert_class = 'comp3', p_comp3,
    alert_class = 'comp4', p_comp4, toFloat32(0))) AS p,
  greatest(
    greatest(if(has(alert_components, 'comp1'), p_comp1 / {t1:Float64}, toFloat64(0)),
      if(has(alert_components, 'comp2'), p_comp2 / {t2:Float64}, toFloat64(0))),
    greatest(if(has(alert_components, 'comp3'), p_comp3 / {t3:Float64}, toFloat64(0)),
      if(has(alert_components, 'comp4'), p_comp4 / {t4:Float64}, toFloat64(0)))) AS over
FROM ${latest(db)}
WHERE alert = 1
ORDER BY over DESC, length(alert_components) DESC, machine_id
LIMIT {top:UInt32}`,
          { top: opts.top, t1: t('comp1'), t2: t('comp2'), t3: t('comp3'), t4: t('comp4') },
        );
        console.log(
          `machines at risk at their latest bucket (the model package's alert rule): ${c?.alerting ?? 0} of ${c?.machines ?? 0}; warming up (no alerts yet) ${c?.warming ?? 0}; argmax not none ${c?.argmax ?? 0}${risk.length === 0 ? '' : `; top ${risk.length} by P/threshold:`}`,
        );
        for (const r of risk) {
          const also = r.alert_components.filter((x) => x !== r.alert_class);
          console.log(
            `  machine ${String(r.machine_id).padStart(5)}  ${r.bucket_ts}  ${r.alert_class}  p=${r.p.toFixed(3)} (${r.over.toFixed(2)}× threshold)${also.length > 0 ? `  also ${also.join(', ')}` : ''}${r.predicted_class !== r.alert_class ? `  (most likely: ${r.predicted_class})` : ''}`,
          );
        }
        const depth = await deadLetterDepth(ch, config.clickhouse.database);
        console.log(`dead letters: ${depth.length === 0 ? 'none' : ''}`);
        for (const d of depth)
          console.log(`  ${d.reason.padEnd(20)} ${d.topic.padEnd(24)} ${String(d.count).padStart(8)}`);
      } finally {
        await ch.close();
      }
    });
}
