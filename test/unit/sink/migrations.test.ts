import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES, FEATURE_SET, SPEC_HASH } from '../../../src/features/index.js';
import { MIGRATIONS, quoteIdent, type ServerCapabilities } from '../../../src/sink/index.js';
import { currentFeatureSet, registerFeatureSet } from '../../../src/sink/migrations.js';
import { LEGACY_CAPS as legacy, MODERN_CAPS as modern, recordingConnection } from './fake-connection.js';

const ddl = (caps: ServerCapabilities) => MIGRATIONS.flatMap((m) => m.statements('pdm', caps)).join('\n');

describe('migrations', () => {
  it('have strictly increasing versions', () => {
    const v = MIGRATIONS.map((m) => m.version);
    expect(v).toEqual([...v].sort((a, b) => a - b));
    expect(new Set(v).size).toBe(v.length);
  });

  it('use no type or clause that ClickHouse 18.16 rejects', () => {
    const sql = ddl(legacy);
    expect(sql).not.toMatch(/DateTime64|LowCardinality|\bTTL\b/);
    expect(sql).toMatch(/ReplacingMergeTree/);
  });

  it('use DateTime64, LowCardinality and a TTL on modern servers', () => {
    const sql = ddl(modern);
    expect(sql).toMatch(/DateTime64\(3, 'UTC'\)/);
    expect(sql).toMatch(/LowCardinality\(String\)/);
    expect(sql).toMatch(/TTL toDateTime\(message_ts\) \+ INTERVAL 180 DAY/);
  });

  it('key every table by the logical identity of its rows so replays deduplicate', () => {
    const sql = ddl(legacy);
    expect(sql).toMatch(/predictions[\s\S]*ORDER BY \(machine_id, bucket_ts, model_version\)/);
    expect(sql).toMatch(/feature_vectors[\s\S]*ORDER BY \(machine_id, bucket_ts, spec_hash\)/);
    expect(sql).toMatch(/dead_letters[\s\S]*ORDER BY \(topic, partition, offset, reason\)/);
    // Idempotent: CREATE … IF NOT EXISTS, or DROP … IF EXISTS (migration 6 re-creates a view).
    for (const s of MIGRATIONS.flatMap((m) => m.statements('pdm', legacy)))
      expect(s).toMatch(/IF NOT EXISTS|^DROP TABLE IF EXISTS/);
  });

  it('quotes only plain identifiers', () => {
    expect(quoteIdent('pdm_1')).toBe('`pdm_1`');
    expect(() => quoteIdent('pdm`; DROP')).toThrow(/identifier/);
  });
});

describe('feature_sets registration (issue 9)', () => {
  function fakeClickHouse(existing: number) {
    // JSONEachRow renders UInt64 as a quoted string on every version.
    return recordingConnection({ answer: () => [{ n: String(existing) }] });
  }

  it('writes the running feature set (name, spec hash, names in order) once per spec hash', async () => {
    const { ch, calls } = fakeClickHouse(0);
    expect(await registerFeatureSet(ch, 'pdm')).toBe(true);
    expect(calls.queries[0]?.sql).toMatch(/FROM `pdm`\.feature_sets WHERE spec_hash = \{spec_hash:String\}/);
    expect(calls.queries[0]?.params).toEqual({ spec_hash: SPEC_HASH });
    expect(calls.inserts).toHaveLength(1);
    expect(calls.inserts[0]?.table).toBe('`pdm`.feature_sets');
    expect(calls.inserts[0]?.rows).toEqual([
      {
        spec_hash: SPEC_HASH,
        feature_set: FEATURE_SET,
        feature_names: FEATURE_NAMES,
        registered_at: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) as unknown,
      },
    ]);
    expect(currentFeatureSet()).toEqual({
      featureSet: FEATURE_SET,
      specHash: SPEC_HASH,
      featureNames: FEATURE_NAMES,
    });
  });

  it('writes nothing when the spec hash is there already', async () => {
    const { ch, calls } = fakeClickHouse(1);
    expect(await registerFeatureSet(ch, 'pdm')).toBe(false);
    expect(calls.inserts).toEqual([]);
  });
});
