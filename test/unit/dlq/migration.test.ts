/** Migration 5 (dead-letter lifecycle): 18.16-safe DDL, and column additions that are safe to repeat. */
import { describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS } from '../../../src/sink/index.js';
import {
  LEGACY_CAPS as legacy,
  MODERN_CAPS as modern,
  recordingConnection,
} from '../sink/fake-connection.js';

const v5 = MIGRATIONS.find((m) => m.version === 5);

describe('migration 5: dead-letter lifecycle', () => {
  it('creates the resolutions table and the unresolved and depth views, keyed like dead_letters', () => {
    const sql = v5?.statements('pdm', legacy).join('\n') ?? '';
    expect(sql).toMatch(
      /CREATE TABLE IF NOT EXISTS `pdm`\.dead_letter_resolutions[\s\S]*ORDER BY \(topic, partition, offset, reason\)/,
    );
    expect(sql).toMatch(
      /CREATE VIEW IF NOT EXISTS `pdm`\.dead_letters_unresolved AS\nSELECT \* FROM `pdm`\.dead_letters FINAL/,
    );
    expect(sql).toMatch(
      /NOT IN \(SELECT topic, partition, offset, reason FROM `pdm`\.dead_letter_resolutions\)/,
    );
    expect(sql).toMatch(/CREATE VIEW IF NOT EXISTS `pdm`\.dead_letter_depth AS/);
    expect(sql).not.toMatch(/DateTime64|LowCardinality|\bTTL\b/);
    expect(v5?.statements('pdm', modern).join('\n')).toMatch(/resolved_at DateTime64\(3, 'UTC'\)/);
    const columns = v5?.columns?.('pdm', legacy) ?? [];
    expect(columns.map((c) => c.name)).toEqual([
      'key_base64',
      'message_ts_ms',
      'replay_count',
      'replayed_from',
    ]);
    for (const c of columns) expect(c.definition).not.toMatch(/DateTime64|LowCardinality|\bTTL\b/);
  });

  function fake(opts: { existing: Set<string>; alterFails?: 'added-concurrently' | 'really' }) {
    const { ch, calls } = recordingConnection({
      exec(sql) {
        const add = /ADD COLUMN `(\w+)`/.exec(sql)?.[1];
        if (add !== undefined) {
          if (opts.alterFails === 'added-concurrently') {
            opts.existing.add(add);
            return Promise.reject(new Error('Code: 44, column already exists'));
          }
          if (opts.alterFails === 'really')
            return Promise.reject(new Error('Code: 497, not enough privileges'));
          opts.existing.add(add);
        }
        return Promise.resolve();
      },
      answer(sql, params) {
        if (sql.includes('schema_migrations')) return [1, 2, 3, 4].map((version) => ({ version }));
        if (sql.includes('system.columns')) {
          const name = String(params?.['name']);
          return [{ n: opts.existing.has(name) ? '1' : '0' }];
        }
        return [{ n: '1' }];
      },
    });
    return { ch, execs: calls.execs };
  }

  it('adds only the columns system.columns does not list', async () => {
    const { ch, execs } = fake({ existing: new Set(['key_base64', 'replay_count']) });
    const report = await migrate(ch, 'pdm');
    expect(report.applied.map((m) => m.version)).toEqual(
      MIGRATIONS.filter((m) => m.version >= 5).map((m) => m.version),
    );
    expect(execs.filter((s) => s.includes('ADD COLUMN') && s.includes('`dead_letters`'))).toEqual([
      'ALTER TABLE `pdm`.`dead_letters` ADD COLUMN `message_ts_ms` Int64 DEFAULT toInt64(toUInt32(message_ts)) * 1000',
      "ALTER TABLE `pdm`.`dead_letters` ADD COLUMN `replayed_from` String DEFAULT ''",
    ]);
  });

  it('accepts a column that a concurrent migrate added, and rethrows a real failure', async () => {
    await expect(
      migrate(fake({ existing: new Set(), alterFails: 'added-concurrently' }).ch, 'pdm'),
    ).resolves.toBeDefined();
    await expect(migrate(fake({ existing: new Set(), alterFails: 'really' }).ch, 'pdm')).rejects.toThrow(
      /privileges/,
    );
  });
});
