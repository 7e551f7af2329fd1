import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { deadLetterDepth } from '../dlq/index.js';
import { createClickHouse, quoteIdent, TABLES } from '../sink/index.js';
import { usageError } from './options.js';

/** `LIMIT {top:UInt32}`: a positive integer that fits the parameter's type. */
export function topOption(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 0xffff_ffff) {
    throw usageError('must be an integer from 1 to 4294967295');
  }
  return n;
}

interface Summary {
  predictions: string;
  machines: string;
  first: string;
  last: string;
}

interface AtRisk {
  machine_id: number;
  bucket_ts: string;
  predicted_class: string;
  p: number;
}

/** What ops look at: predictions written, machines at risk now, dead letters by reason. Read-only. */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print what ops look at: predictions written, machines at risk, dead letters by reason')
    .option('--top <n>', 'machines at risk to list', topOption, 10)
    .action(async (opts: { top: number }) => {
      const config = loadConfig();
      const db = quoteIdent(config.clickhouse.database);
      const ch = createClickHouse(config.clickhouse);
      try {
        const [s] = await ch.query<Summary>(
          `SELECT toString(count()) AS predictions, toString(uniqExact(machine_id)) AS machines,
  toString(min(bucket_ts)) AS first, toString(max(bucket_ts)) AS last
FROM ${db}.${TABLES.predictions} FINAL`,
        );
        console.log(
          `predictions: ${s?.predictions ?? 0} for ${s?.machines ?? 0} machines, buckets ${s?.first ?? '-'} … ${s?.last ?? '-'} (deduplicated)`,
        );
        // The latest bucket of each machine; at risk = the model predicts a component failure.
        const risk = await ch.query<AtRisk>(
          `SELECT machine_id, toString(bucket_ts) AS bucket_ts, predicted_class,
  greatest(greatest(p_comp1, p_comp2), greatest(p_comp3, p_comp4)) AS p
FROM (SELECT * FROM ${db}.${TABLES.predictions} FINAL ORDER BY bucket_ts DESC LIMIT 1 BY machine_id)
WHERE predicted_class != 'none'
ORDER BY p DESC
LIMIT {top:UInt32}`,
          { top: opts.top },
        );
        console.log(`machines at risk at their latest bucket: ${risk.length === 0 ? 'none' : ''}`);
        for (const r of risk) {
          console.log(
            `  machine ${String(r.machine_id).padStart(5)}  ${r.bucket_ts}  ${r.predicted_class}  p=${r.p.toFixed(3)}`,
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
