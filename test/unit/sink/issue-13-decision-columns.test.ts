/** Issue 13: migration 6 adds the package's decision to `predictions`, on ClickHouse 18.16 and current servers. */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../src/sink/index.js';
import { LEGACY_CAPS as legacy, MODERN_CAPS as modern } from './fake-connection.js';

const v6 = MIGRATIONS.find((m) => m.version === 6);

describe('migration 6: prediction decision columns', () => {
  it('adds alert, alert_class, alert_components and warming_up to predictions, without DEFAULT', () => {
    const cols = v6?.columns?.('pdm', legacy) ?? [];
    expect(cols.map((c) => [c.table, c.name, c.definition])).toEqual([
      ['predictions', 'alert', 'UInt8'],
      ['predictions', 'alert_class', 'String'],
      ['predictions', 'alert_components', 'Array(String)'],
      ['predictions', 'warming_up', 'UInt8'],
    ]);
    expect(v6?.columns?.('pdm', modern).find((c) => c.name === 'alert_class')?.definition).toBe(
      'LowCardinality(String)',
    );
  });

  it('re-creates predictions_latest so that 18.16 shows the new columns', () => {
    expect(v6?.statements('pdm', legacy)).toEqual([
      'DROP TABLE IF EXISTS `pdm`.predictions_latest',
      'CREATE VIEW IF NOT EXISTS `pdm`.predictions_latest AS SELECT * FROM `pdm`.predictions FINAL',
    ]);
  });

  it('comes after every earlier migration', () => {
    expect(MIGRATIONS.map((m) => m.version).indexOf(6)).toBe(MIGRATIONS.filter((m) => m.version < 6).length);
  });
});
