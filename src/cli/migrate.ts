import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { redactUrl } from '../shared/logger.js';
import { createClickHouse, migrate } from '../sink/index.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the ClickHouse database and tables (idempotent, versioned)')
    .action(async () => {
      const config = loadConfig();
      const ch = createClickHouse(config.clickhouse);
      try {
        const report = await migrate(ch, config.clickhouse.database);
        const s = report.server;
        console.log(
          `ClickHouse ${s.version} at ${redactUrl(config.clickhouse.url)} (query parameters: ${s.queryParams ? 'server-side' : 'typed client binding'}, types: ${s.modernTypes ? 'DateTime64/LowCardinality/TTL' : 'DateTime/String, no TTL'})`,
        );
        for (const m of report.applied) console.log(`applied  ${String(m.version).padStart(3)}  ${m.name}`);
        const f = report.featureSet;
        console.log(
          `feature set ${f.featureSet} (${f.featureNames.length} features, spec ${f.specHash.slice(0, 12)}…) ${f.written ? 'registered in' : 'already in'} ${config.clickhouse.database}.feature_sets`,
        );
        const a = report.access;
        console.log(
          a.granted
            ? `access: roles ${a.roles.join(', ')} granted (see deploy/clickhouse/access.sql for their users)`
            : `access: no grants (${a.reason})`,
        );
        console.log(
          report.applied.length === 0
            ? `database ${config.clickhouse.database} is up to date (${report.alreadyApplied} migrations)`
            : `database ${config.clickhouse.database}: ${report.applied.length} applied, ${report.alreadyApplied} already there`,
        );
      } finally {
        await ch.close();
      }
    });
}
