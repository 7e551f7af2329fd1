/**
 * Versioned, idempotent ClickHouse DDL. Every statement works on ClickHouse 18.16 (the Debian package of
 * the local stack); where the server is new enough (≥ 20.3: DateTime64, LowCardinality, TTL) the same
 * tables get better types. Tables are ReplacingMergeTree keyed by the logical identity of a row, so a
 * replayed write (after a crash, before the offset commit) does not create a second logical row once
 * parts merge; readers get exactly one row per key with `FINAL` or through the `*_latest` views.
 */
import { FEATURE_NAMES, FEATURE_SET, SPEC_HASH } from '../features/index.js';
import type { ClickHouseConnection, ServerCapabilities } from './clickhouse.js';
import { formatInstant, TABLES, type FeatureSetRow } from './tables.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  statements(db: string, caps: ServerCapabilities): readonly string[];
}

/** Identifiers cannot be query parameters; the database name is validated by the config schema and quoted. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`not a plain identifier: ${name}`);
  return `\`${name}\``;
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
];

/** A feature set as `feature_sets` stores it: the meaning of each index of `feature_vectors.features`. */
export interface FeatureSetSpec {
  readonly featureSet: string;
  readonly specHash: string;
  readonly featureNames: readonly string[];
}

/** The running engine's feature set (src/features), read when called so that it is never a stale copy. */
export function currentFeatureSet(): FeatureSetSpec {
  return { featureSet: FEATURE_SET, specHash: SPEC_HASH, featureNames: FEATURE_NAMES };
}

export interface MigrationReport {
  readonly server: ServerCapabilities;
  readonly applied: readonly { version: number; name: string }[];
  readonly alreadyApplied: number;
  /** The feature set row of this engine; `written` is false when its spec hash was already there. */
  readonly featureSet: FeatureSetSpec & { readonly written: boolean };
}

/**
 * Writes one `feature_sets` row for `spec` unless a row with its spec hash exists, so that SQL can name the
 * features of `feature_vectors` by index. Runs on every `migrate()`, not as a versioned migration: the spec
 * hash changes with the feature spec, not with the DDL. Two engines starting at once may both insert; the
 * table is a ReplacingMergeTree keyed by `spec_hash` and the rows are identical but for `registered_at`, so
 * `FINAL` reads one.
 */
export async function registerFeatureSet(
  ch: ClickHouseConnection,
  db: string,
  spec: FeatureSetSpec = currentFeatureSet(),
): Promise<boolean> {
  const table = `${quoteIdent(db)}.${TABLES.featureSets}`;
  const [row] = await ch.query<{ n: number | string }>(
    `SELECT count() AS n FROM ${table} WHERE spec_hash = {spec_hash:String}`,
    { spec_hash: spec.specHash },
  );
  if (Number(row?.n ?? 0) > 0) return false;
  const caps = await ch.capabilities();
  const insert: FeatureSetRow = {
    spec_hash: spec.specHash,
    feature_set: spec.featureSet,
    feature_names: spec.featureNames,
    registered_at: formatInstant(Date.now(), caps),
  };
  await ch.insert(table, [insert]);
  return true;
}

/**
 * Applies pending migrations in order, recording each in `<db>.schema_migrations`, then registers the
 * engine's feature set in `feature_sets`. Safe to run twice and concurrently: every statement is
 * `IF NOT EXISTS`, and the record is written after the statements.
 */
export async function migrate(ch: ClickHouseConnection, db: string): Promise<MigrationReport> {
  const server = await ch.capabilities();
  const d = quoteIdent(db);
  await ch.exec(`CREATE DATABASE IF NOT EXISTS ${d}`);
  await ch.exec(
    `CREATE TABLE IF NOT EXISTS ${d}.schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime('UTC'),
  server_version String
) ENGINE = ReplacingMergeTree() ORDER BY version`,
  );
  const done = new Set(
    (await ch.query<{ version: number | string }>(`SELECT version FROM ${d}.schema_migrations`)).map((r) =>
      Number(r.version),
    ),
  );
  const applied: { version: number; name: string }[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
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
  return { server, applied, alreadyApplied: done.size, featureSet: { ...featureSet, written } };
}
