/**
 * The `feature_sets` table's rows: which feature each index of `feature_vectors.features` holds, one row per
 * spec hash, written by every `migrate()` (migrations.ts).
 */
import { FEATURE_NAMES, FEATURE_SET, SPEC_HASH } from '../features/index.js';
import { quoteIdent } from './bind.js';
import type { ClickHouseConnection } from './clickhouse.js';
import { formatInstant, TABLES, type FeatureSetRow } from './tables.js';

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
