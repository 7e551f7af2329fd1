/**
 * Versioned, idempotent ClickHouse DDL. Every statement works on ClickHouse 18.16 (the Debian package of
 * the local stack); where the server is new enough (≥ 20.3: DateTime64, LowCardinality, TTL) the same
 * tables get better types. Tables are ReplacingMergeTree keyed by the logical identity of a row, so a
 * replayed write (after a crash, before the offset commit) does not create a second logical row once
 * parts merge; readers get exactly one row per key with `FINAL` or through the `*_latest` views.
 */
import { ConfigError, PdmError } from '../shared/errors.js';
import { grantAccess, type AccessReport } from './access.js';
import { quoteIdent } from './bind.js';
import type { ClickHouseConnection, ServerCapabilities } from './clickhouse.js';
import { SHADOW_AGREEMENT_VIEW, shadowAgreementSelect, shadowTableDdl } from './shadow.js';
import { currentFeatureSet, registerFeatureSet, type FeatureSetSpec } from './feature-sets.js';

export { currentFeatureSet, registerFeatureSet, type FeatureSetSpec } from './feature-sets.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  statements(db: string, caps: ServerCapabilities): readonly string[];
  /**
   * Columns this migration adds to existing tables, applied before `statements`. ClickHouse 18.16 has no
   * `ADD COLUMN IF NOT EXISTS`, so the runner reads `system.columns` and adds only what is missing: a rerun
   * after a crash, or two `migrate` at once, add each column once.
   */
  columns?(db: string, caps: ServerCapabilities): readonly ColumnAddition[];
}

export interface ColumnAddition {
  readonly table: string;
  readonly name: string;
  /** Type and DEFAULT clause, e.g. `UInt32 DEFAULT 0`. */
  readonly definition: string;
}

function types(caps: ServerCapabilities) {
  return {
    lowCard: caps.modernTypes ? 'LowCardinality(String)' : 'String',
    instant: caps.modernTypes ? "DateTime64(3, 'UTC')" : "DateTime('UTC')",
    now: caps.modernTypes ? 'now64(3)' : 'now()',
  };
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'predictions',
    statements(db, caps) {
      const t = types(caps);
      return [
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.predictions (
  machine_id UInt32,
  bucket_ts DateTime('UTC'),
  p_none Float32,
  p_comp1 Float32,
  p_comp2 Float32,
  p_comp3 Float32,
  p_comp4 Float32,
  predicted_class ${t.lowCard},
  predicted_index UInt8,
  model_version ${t.lowCard},
  spec_hash ${t.lowCard},
  scored_at ${t.instant},
  source_topic ${t.lowCard},
  source_partition Int32,
  source_offset Int64,
  engine_version ${t.lowCard}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(bucket_ts)
ORDER BY (machine_id, bucket_ts, model_version)`,
      ];
    },
  },
  {
    version: 2,
    name: 'feature_vectors',
    statements(db, caps) {
      const t = types(caps);
      return [
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.feature_vectors (
  machine_id UInt32,
  bucket_ts DateTime('UTC'),
  spec_hash ${t.lowCard},
  feature_set ${t.lowCard},
  features Array(Float64),
  model_version ${t.lowCard},
  scored_at ${t.instant},
  engine_version ${t.lowCard}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(bucket_ts)
ORDER BY (machine_id, bucket_ts, spec_hash)`,
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.feature_sets (
  spec_hash String,
  feature_set String,
  feature_names Array(String),
  registered_at ${t.instant}
) ENGINE = ReplacingMergeTree()
ORDER BY spec_hash`,
      ];
    },
  },
  {
    version: 3,
    name: 'dead_letters',
    statements(db, caps) {
      const t = types(caps);
      // TTL only where supported: 18.16 rejects the clause. Partitioned by the message's own Kafka
      // timestamp (not the write time) so a replayed dead letter lands in the same partition and merges.
      const ttl = caps.modernTypes ? '\nTTL toDateTime(message_ts) + INTERVAL 180 DAY' : '';
      return [
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.dead_letters (
  topic ${t.lowCard},
  partition Int32,
  offset Int64,
  key Nullable(String),
  payload_base64 String,
  payload_bytes UInt32,
  reason ${t.lowCard},
  stage ${t.lowCard},
  error_message String,
  schema_id Int64,
  machine_id Int64,
  message_ts DateTime('UTC'),
  dead_lettered_at ${t.instant},
  engine_version ${t.lowCard}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(message_ts)
ORDER BY (topic, partition, offset, reason)${ttl}`,
      ];
    },
  },
  {
    version: 4,
    name: 'deduplicated views',
    statements(db) {
      const d = quoteIdent(db);
      return [
        `CREATE VIEW IF NOT EXISTS ${d}.predictions_latest AS SELECT * FROM ${d}.predictions FINAL`,
        `CREATE VIEW IF NOT EXISTS ${d}.feature_vectors_latest AS SELECT * FROM ${d}.feature_vectors FINAL`,
        `CREATE VIEW IF NOT EXISTS ${d}.dead_letters_latest AS SELECT * FROM ${d}.dead_letters FINAL`,
      ];
    },
  },
  {
    version: 5,
    name: 'dead-letter lifecycle: exact key and timestamp, replay count, resolutions, unresolved depth',
    columns() {
      // Replay re-publishes the original record: `key` is UTF-8 text (lossy for binary keys) and
      // `message_ts` whole seconds within 1970..2106, so the exact bytes and milliseconds get their own
      // columns. Rows written before this migration read `message_ts` in ms through the DEFAULT.
      return [
        { table: 'dead_letters', name: 'key_base64', definition: 'Nullable(String)' },
        {
          table: 'dead_letters',
          name: 'message_ts_ms',
          definition: 'Int64 DEFAULT toInt64(toUInt32(message_ts)) * 1000',
        },
        // Loop guard: `pdm-replay-count` of the record (0 unless `dlq replay` re-published it).
        { table: 'dead_letters', name: 'replay_count', definition: 'UInt32 DEFAULT 0' },
        // `pdm-replayed-from` (topic/partition/offset of the dead letter it was replayed from), or ''.
        { table: 'dead_letters', name: 'replayed_from', definition: "String DEFAULT ''" },
      ];
    },
    statements(db, caps) {
      const d = quoteIdent(db);
      const t = types(caps);
      // One row per resolved dead letter, keyed like dead_letters. No TTL: a dead letter must not outlive
      // its resolution and come back as unresolved.
      // Current servers: the dead-letter TTL counts from dead_lettered_at, not from message_ts (the
      // producer's clock: an absurd timestamp is stored as 1970, which expired the row at once, and a
      // far-future one kept it forever). 18.16 has no TTL.
      const ttl = caps.modernTypes
        ? [`ALTER TABLE ${d}.dead_letters MODIFY TTL toDateTime(dead_lettered_at) + INTERVAL 180 DAY`]
        : [];
      return [
        ...ttl,
        `CREATE TABLE IF NOT EXISTS ${d}.dead_letter_resolutions (
  topic ${t.lowCard},
  partition Int32,
  offset Int64,
  reason ${t.lowCard},
  action ${t.lowCard},
  note String,
  resolved_at ${t.instant},
  replay_count UInt32,
  replayed_to_partition Int32,
  replayed_to_offset Int64,
  engine_version ${t.lowCard}
) ENGINE = ReplacingMergeTree()
ORDER BY (topic, partition, offset, reason)`,
        // Resolutions are never undone, so any row for a key resolves it, merged or not. 18.16 fixes a
        // view's columns when it is created: a later column of dead_letters needs this view re-created.
        `CREATE VIEW IF NOT EXISTS ${d}.dead_letters_unresolved AS
SELECT * FROM ${d}.dead_letters FINAL
WHERE (topic, partition, offset, reason) NOT IN (SELECT topic, partition, offset, reason FROM ${d}.dead_letter_resolutions)`,
        `CREATE VIEW IF NOT EXISTS ${d}.dead_letter_depth AS
SELECT reason, topic, count() AS depth, min(dead_lettered_at) AS oldest_at, max(dead_lettered_at) AS newest_at
FROM ${d}.dead_letters_unresolved
GROUP BY reason, topic`,
      ];
    },
  },
  {
    version: 6,
    name: "predictions: the package's decision (alert, alert_class, alert_components, warming_up)",
    columns(_db, caps) {
      const t = types(caps);
      // No DEFAULT clauses: rows written before this migration were decided by argmax only; they read as
      // "no alert" (0, '', []), never as a decision the package did not make.
      return [
        { table: 'predictions', name: 'alert', definition: 'UInt8' },
        { table: 'predictions', name: 'alert_class', definition: t.lowCard },
        { table: 'predictions', name: 'alert_components', definition: 'Array(String)' },
        { table: 'predictions', name: 'warming_up', definition: 'UInt8' },
      ];
    },
    statements(db) {
      const d = quoteIdent(db);
      // 18.16 fixes a view's columns when it is created: re-create predictions_latest so that it shows the
      // new columns. Dropping and creating is harmless when a concurrent migrate does the same.
      return [
        `DROP TABLE IF EXISTS ${d}.predictions_latest`,
        `CREATE VIEW IF NOT EXISTS ${d}.predictions_latest AS SELECT * FROM ${d}.predictions FINAL`,
      ];
    },
  },
  {
    version: 7,
    name: 'risk_alerts: every failure-risk alert transition (firing, resolved) the engine published',
    statements(db, caps) {
      const t = types(caps);
      // Keyed by the transition's identity (alert_id is derived from the same four fields): a transition
      // re-published after a crash is a second physical row of the same key and merges away. The engine
      // restores its hysteresis state from here (src/pipeline/risk-alerts.ts). No TTL: an alert still
      // firing must not expire and come back as a new one after a restart.
      return [
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.risk_alerts (
  alert_id String,
  machine_id UInt32,
  component ${t.lowCard},
  state ${t.lowCard},
  bucket_ts DateTime('UTC'),
  fired_bucket_ts DateTime('UTC'),
  probability Float64,
  threshold Float64,
  clear_threshold Float64,
  model_version ${t.lowCard},
  source_topic ${t.lowCard},
  source_partition Int32,
  source_offset Int64,
  emitted_at ${t.instant},
  engine_version ${t.lowCard}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(bucket_ts)
ORDER BY (machine_id, component, bucket_ts, state)`,
      ];
    },
  },
  {
    version: 8,
    name: 'shadow_predictions and the shadow_agreement view: a second model scoring every row apart (shadow)',
    statements(db, caps) {
      const d = quoteIdent(db);
      return [
        shadowTableDdl(db, types(caps)),
        `CREATE VIEW IF NOT EXISTS ${d}.${SHADOW_AGREEMENT_VIEW} AS\n${shadowAgreementSelect(db)}`,
      ];
    },
  },
];

/**
 * Adds the columns of `additions` that `system.columns` does not list. When an ALTER fails, the column is
 * looked up again: another `migrate` running at the same time may have added it (not an error).
 */
async function addMissingColumns(
  ch: ClickHouseConnection,
  db: string,
  additions: readonly ColumnAddition[],
): Promise<void> {
  const exists = async (a: ColumnAddition): Promise<boolean> => {
    const rows = await ch.query<{ n: number | string }>(
      `SELECT count() AS n FROM system.columns
WHERE database = {db:String} AND table = {table:String} AND name = {name:String}`,
      { db, table: a.table, name: a.name },
    );
    return Number(rows[0]?.n ?? 0) > 0;
  };
  for (const a of additions) {
    if (await exists(a)) continue;
    try {
      await ch.exec(
        `ALTER TABLE ${quoteIdent(db)}.${quoteIdent(a.table)} ADD COLUMN ${quoteIdent(a.name)} ${a.definition}`,
      );
    } catch (err) {
      if (!(await exists(a))) throw err;
    }
  }
}

export interface MigrationReport {
  readonly server: ServerCapabilities;
  readonly applied: readonly { version: number; name: string }[];
  readonly alreadyApplied: number;
  /** The feature set row of this engine; `written` is false when its spec hash was already there. */
  readonly featureSet: FeatureSetSpec & { readonly written: boolean };
  /** Roles granted on servers with SQL access control (src/sink/access.ts), or why not. */
  readonly access: AccessReport;
}

/**
 * Applies pending migrations in order, recording each in `<db>.schema_migrations`, then registers the
 * engine's feature set in `feature_sets`. Safe to run twice and concurrently: every statement is
 * `IF NOT EXISTS`, and the record is written after the statements.
 */
export async function migrate(ch: ClickHouseConnection, db: string): Promise<MigrationReport> {
  const server = await ch.capabilities();
  const d = quoteIdent(db);
  // Nothing pending → no DDL at all: the engine runs this at start as a user without DDL rights
  // (deploy/clickhouse/); the migrator applies what is pending (`pdm-stream migrate`).
  let done = await appliedVersions(ch, db);
  if (done === undefined || MIGRATIONS.some((m) => !done?.has(m.version))) {
    try {
      await ch.exec(`CREATE DATABASE IF NOT EXISTS ${d}`);
      await ch.exec(
        `CREATE TABLE IF NOT EXISTS ${d}.schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime('UTC'),
  server_version String
) ENGINE = ReplacingMergeTree() ORDER BY version`,
      );
    } catch (err) {
      throw ddlDenied(err, db);
    }
    done = (await appliedVersions(ch, db)) ?? new Set<number>();
  }
  const applied: { version: number; name: string }[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    if (m.columns !== undefined) await addMissingColumns(ch, db, m.columns(db, server));
    for (const sql of m.statements(db, server)) await ch.exec(sql);
    await ch.insert(`${d}.schema_migrations`, [
      {
        version: m.version,
        name: m.name,
        applied_at: Math.floor(Date.now() / 1000),
        server_version: server.version,
      },
    ]);
    applied.push({ version: m.version, name: m.name });
  }
  const featureSet = currentFeatureSet();
  const written = await registerFeatureSet(ch, db, featureSet);
  const access = await grantAccess(ch, db, server);
  return { server, applied, alreadyApplied: done.size, featureSet: { ...featureSet, written }, access };
}

/** Versions recorded in `<db>.schema_migrations`, or undefined when the table is not there yet. */
async function appliedVersions(ch: ClickHouseConnection, db: string): Promise<Set<number> | undefined> {
  const [t] = await ch.query<{ n: number | string }>(
    'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {table:String}',
    { db, table: 'schema_migrations' },
  );
  if (Number(t?.n ?? 0) === 0) return undefined;
  const rows = await ch.query<{ version: number | string }>(
    `SELECT version FROM ${quoteIdent(db)}.schema_migrations`,
  );
  return new Set(rows.map((r) => Number(r.version)));
}

/**
 * ClickHouse's answers to DDL from a user who may not run it: 392 (18.x `allow_ddl=0`), 164 (`readonly`),
 * 497 (access denied by grants), 291 (database not allowed for the user).
 */
const DDL_DENIED = new Set(['CLICKHOUSE_392', 'CLICKHOUSE_164', 'CLICKHOUSE_497', 'CLICKHOUSE_291']);

function ddlDenied(err: unknown, db: string): unknown {
  if (!(err instanceof PdmError) || !DDL_DENIED.has(err.code)) return err;
  return new ConfigError(
    `database ${db} has pending migrations and this ClickHouse user may not run DDL: run \`pdm-stream migrate\` ` +
      `as the migrator user (deploy/clickhouse/), then start again (${err.message})`,
    { code: 'MIGRATION_NOT_PERMITTED', stage: 'sink', cause: err },
  );
}
