/**
 * Issue 9: `feature_sets` was created but never written, so feature indexes could not be named in SQL.
 * On the running ClickHouse (18.16 locally): migrate() writes one row per spec hash, idempotently, and the
 * README's query names a feature of `feature_vectors` by index through it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, FEATURE_SET, SPEC_HASH } from '../../src/features/index.js';
import { createClickHouse, formatDateTime, migrate, quoteIdent } from '../../src/sink/index.js';
import { registerFeatureSet } from '../../src/sink/migrations.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';

const database = `pdm_it_fs_${uniqueToken()}`;
const config = testConfig({ CLICKHOUSE_DATABASE: database });
const ch = createClickHouse(config.clickhouse);
const db = quoteIdent(database);

afterAll(async () => {
  await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
});

interface FeatureSetRead {
  spec_hash: string;
  feature_set: string;
  feature_names: string[];
}

describe('feature_sets on the running ClickHouse', () => {
  it('migrate() writes the running feature set once, whatever the number of runs', async () => {
    const first = await migrate(ch, database);
    expect(first.featureSet).toEqual({
      featureSet: FEATURE_SET,
      specHash: SPEC_HASH,
      featureNames: FEATURE_NAMES,
      written: true,
    });
    expect((await migrate(ch, database)).featureSet.written).toBe(false);
    // Physical rows, not FINAL: idempotence must not rely on merges.
    const rows = await ch.query<FeatureSetRead>(
      `SELECT spec_hash, feature_set, feature_names FROM ${db}.feature_sets`,
    );
    expect(rows).toEqual([{ spec_hash: SPEC_HASH, feature_set: FEATURE_SET, feature_names: FEATURE_NAMES }]);
  });

  it('keeps one row per spec hash when the spec changes', async () => {
    const next = { featureSet: 'pdm-test', specHash: `test-${uniqueToken()}`, featureNames: ['a', 'b'] };
    expect(await registerFeatureSet(ch, database, next)).toBe(true);
    expect(await registerFeatureSet(ch, database, next)).toBe(false);
    const hashes = await ch.query<{ spec_hash: string }>(
      `SELECT spec_hash FROM ${db}.feature_sets ORDER BY spec_hash`,
    );
    expect(hashes.map((h) => h.spec_hash)).toEqual([SPEC_HASH, next.specHash].sort());
  });

  it('the README query names a feature by index (arrayElement + indexOf)', async () => {
    const features = FEATURE_NAMES.map((_, i) => i + 0.5);
    await ch.insert(`${db}.feature_vectors`, [
      {
        machine_id: 7,
        bucket_ts: formatDateTime(Date.UTC(2026, 0, 2)),
        spec_hash: SPEC_HASH,
        feature_set: FEATURE_SET,
        features,
        model_version: 'test/1',
        scored_at: formatDateTime(Date.now()),
        engine_version: 'test',
      },
    ]);
    const name = FEATURE_NAMES[7] ?? '';
    // Same text as the README example, with the database and the feature name as the only differences.
    const rows = await ch.query<{ machine_id: number; bucket_ts: string; value: number }>(
      `SELECT machine_id, toString(bucket_ts) AS bucket_ts,
       arrayElement(features, indexOf(feature_names, {name:String})) AS value
FROM ${db}.feature_vectors_latest
ANY INNER JOIN (SELECT spec_hash, feature_names FROM ${db}.feature_sets FINAL) USING spec_hash
WHERE machine_id = {m:UInt32}
ORDER BY bucket_ts`,
      { name, m: 7 },
    );
    expect(rows).toEqual([{ machine_id: 7, bucket_ts: '2026-01-02 00:00:00', value: 7.5 }]);
  });
});
