import { describe, expect, it } from 'vitest';
import { MIGRATIONS, quoteIdent, type ServerCapabilities } from '../../../src/sink/index.js';

const legacy: ServerCapabilities = {
  version: '18.16.1',
  major: 18,
  minor: 16,
  queryParams: false,
  modernTypes: false,
};
const modern: ServerCapabilities = {
  version: '24.8.4',
  major: 24,
  minor: 8,
  queryParams: true,
  modernTypes: true,
};
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
    for (const s of MIGRATIONS.flatMap((m) => m.statements('pdm', legacy)))
      expect(s).toMatch(/IF NOT EXISTS/);
  });

  it('quotes only plain identifiers', () => {
    expect(quoteIdent('pdm_1')).toBe('`pdm_1`');
    expect(() => quoteIdent('pdm`; DROP')).toThrow(/identifier/);
  });
});
