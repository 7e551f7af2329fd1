import { describe, expect, it } from 'vitest';
import {
  FilterSyntaxError,
  filterSql,
  isEmptyFilter,
  parseDurationMs,
  parseInstantMs,
  parseNameList,
  parseRecordIds,
} from '../../../src/dlq/index.js';
import { bindParams } from '../../../src/sink/index.js';

describe('dlq filters: parsing', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
  ])('duration %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '15', 'm', '0m', '-5m', '1.5h', '15 minutes', '1y'])('refuses duration %j', (text) => {
    expect(() => parseDurationMs(text)).toThrow(FilterSyntaxError);
  });

  it('reads instants as ISO, ClickHouse text (UTC) or a duration ago', () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    expect(parseInstantMs('2026-11-30T10:00:00Z', now)).toBe(Date.UTC(2026, 10, 30, 10));
    expect(parseInstantMs('2026-11-30 10:00:00', now)).toBe(Date.UTC(2026, 10, 30, 10));
    expect(parseInstantMs('2026-11-30T10:00', now)).toBe(Date.UTC(2026, 10, 30, 10));
    expect(parseInstantMs('2026-11-30', now)).toBe(Date.UTC(2026, 10, 30));
    expect(parseInstantMs('2026-11-30T11:00:00+01:00', now)).toBe(Date.UTC(2026, 10, 30, 10));
    expect(parseInstantMs('2h', now)).toBe(Date.UTC(2026, 10, 30, 10));
    for (const bad of ['yesterday', '2026-13-45', '10:00', "2026-11-30'; DROP"]) {
      expect(() => parseInstantMs(bad, now)).toThrow(FilterSyntaxError);
    }
  });

  it('reads ids as topic:partition:offset, with 64-bit offsets', () => {
    expect(parseRecordIds('pdm.telemetry:2:9007199254740993, t1.errors:0:0')).toEqual([
      { topic: 'pdm.telemetry', partition: 2, offset: '9007199254740993' },
      { topic: 't1.errors', partition: 0, offset: '0' },
    ]);
  });

  it.each([
    '',
    'pdm.telemetry',
    'pdm.telemetry:2',
    'pdm.telemetry:-1:5',
    'pdm.telemetry:2:-5',
    'pdm.telemetry:2:05',
    "a';DROP:1:2",
    'pdm/x:1:2',
    'pdm.telemetry:2:9223372036854775808',
    'pdm.telemetry:99999999999:1',
  ])('refuses ids %j', (text) => {
    expect(() => parseRecordIds(text)).toThrow(FilterSyntaxError);
  });

  it('reads name lists without empty entries or duplicates', () => {
    expect(parseNameList(' a, b,,a ', 'topic')).toEqual(['a', 'b']);
    expect(() => parseNameList(' , ', 'topic')).toThrow(FilterSyntaxError);
  });
});

describe('dlq filters: SQL', () => {
  it('sends no bound at or before the epoch (current servers refuse the DateTime parameter 0)', () => {
    expect(filterSql({ fromMs: 0 })).toEqual({ where: '', params: {} });
    expect(filterSql({ fromMs: -5_000 })).toEqual({ where: '', params: {} });
    expect(filterSql({ toMs: 0 })).toEqual({ where: 'WHERE 0', params: {} });
    expect(isEmptyFilter({ fromMs: 0 })).toBe(false);
  });

  it('an empty filter selects everything and is flagged as empty', () => {
    expect(filterSql({})).toEqual({ where: '', params: {} });
    expect(isEmptyFilter({})).toBe(true);
    expect(isEmptyFilter({ reasons: [] })).toBe(true);
    expect(isEmptyFilter({ topics: ['x'] })).toBe(false);
  });

  it('passes user input only as typed parameters, time on dead_lettered_at', () => {
    const hostile = "x' OR 1=1 --";
    const { where, params } = filterSql({
      reasons: ['UNKNOWN_SCHEMA'],
      topics: [hostile],
      fromMs: 1_700_000_000_500,
      toMs: 1_700_000_100_200,
      ids: [{ topic: hostile, partition: 1, offset: '9223372036854775807' }],
    });
    expect(where).not.toContain(hostile);
    expect(where).toContain('has({reasons:Array(String)}, reason)');
    expect(where).toContain('dead_lettered_at >= {from:DateTime}');
    expect(where).toContain('dead_lettered_at < {to:DateTime}');
    expect(where).not.toContain('message_ts');
    expect(params).toMatchObject({
      from: 1_700_000_000,
      to: 1_700_000_101,
      id0_offset: 9223372036854775807n,
    });
    // The legacy binder (ClickHouse 18.16) renders every value as an escaped literal of its type.
    const sql = bindParams(`SELECT 1 FROM t ${where}`, params);
    expect(sql).toContain("has(['x\\' OR 1=1 --'], topic)");
    expect(sql).toContain('offset = 9223372036854775807');
    expect(sql).toContain('dead_lettered_at >= toDateTime(1700000000)');
  });
});
