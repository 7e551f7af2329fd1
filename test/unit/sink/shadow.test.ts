/**
 * `shadow_predictions` (src/sink/shadow.ts): the RowBinary format the engine writes names every column
 * migration 8 creates, with its type, on both server generations; the live columns are typed like the
 * prediction columns they copy; the agreement query has one figure per class and component.
 */
import { describe, expect, it } from 'vitest';
import { CLASSES } from '../../../src/features/index.js';
import {
  encodeRowBinary,
  MIGRATIONS,
  predictionsFormat,
  shadowAgreementSelect,
  shadowPredictionsFormat,
  type ServerCapabilities,
  type ShadowPredictionRow,
} from '../../../src/sink/index.js';
import { LEGACY_CAPS, MODERN_CAPS } from './fake-connection.js';

/** Columns of the `shadow_predictions` CREATE of migration 8, in the encoder's type names. */
function ddlColumns(caps: ServerCapabilities): Map<string, string> {
  const m8 = MIGRATIONS.find((m) => m.version === 8);
  const create = m8?.statements('pdm', caps).find((s) => s.includes('shadow_predictions ('));
  const body = /\(\n([\s\S]*?)\n\) ENGINE/.exec(create ?? '')?.[1] ?? '';
  const cols = new Map<string, string>();
  for (const line of body.split('\n')) {
    const c = /^\s*(\w+) (.+?),?$/.exec(line);
    if (c?.[1] === undefined || c[2] === undefined) continue;
    cols.set(
      c[1],
      c[2]
        .replace(/^LowCardinality\((.*)\)$/, '$1')
        .replace(/^DateTime\('UTC'\)$/, 'DateTime')
        .replace(/^DateTime64\(3, 'UTC'\)$/, 'DateTime64(3)'),
    );
  }
  return cols;
}

describe.each([
  ['current servers', MODERN_CAPS],
  ['18.x', LEGACY_CAPS],
])('shadow_predictions on %s', (_name, caps) => {
  it('the format writes every column of the DDL, with its type, each once', () => {
    const ddl = ddlColumns(caps);
    const format = shadowPredictionsFormat(caps);
    const written = new Map(format.columns.map((c) => [c.name, c.type as string]));
    expect(written.size).toBe(format.columns.length);
    expect(ddl.size).toBe(29);
    expect(Object.fromEntries(written)).toEqual(Object.fromEntries(ddl));
  });

  it('holds every predictions column, and each live_ column has the type of the column it copies', () => {
    const ddl = ddlColumns(caps);
    for (const c of predictionsFormat(caps).columns) expect(ddl.get(c.name), c.name).toBe(c.type);
    const live = [...ddl.keys()].filter((k) => k.startsWith('live_'));
    expect(live).toHaveLength(9);
    for (const k of live) {
      const copied = k.slice('live_'.length);
      expect(ddl.get(k), k).toBe(copied === 'model_version' ? 'String' : ddl.get(copied));
    }
  });
});

describe('shadowPredictionsFormat', () => {
  it('writes the live columns last, each from its own field', () => {
    const row: ShadowPredictionRow = {
      machine_id: 1,
      bucket_ts: '2026-01-01 00:00:00',
      p_none: 0.5,
      p_comp1: 0.5,
      p_comp2: 0,
      p_comp3: 0,
      p_comp4: 0,
      predicted_class: 'none',
      predicted_index: 0,
      alert: 0,
      alert_class: 'none',
      alert_components: [],
      warming_up: 0,
      model_version: 's',
      spec_hash: 'h',
      scored_at: '2026-01-01 00:00:00',
      source_topic: 't',
      source_partition: 0,
      source_offset: '0',
      engine_version: 'e',
      live_model_version: 'live@1',
      live_p_none: 0.25,
      live_p_comp1: 0.125,
      live_p_comp2: 0.0625,
      live_p_comp3: 0.5,
      live_p_comp4: 0.0625,
      live_predicted_class: 'comp3',
      live_alert: 1,
      live_alert_components: ['comp3'],
    };
    const tail = Buffer.alloc(1 + 6 + 5 * 4 + 1 + 5 + 1 + 1 + 1 + 5);
    let at = 0;
    at = tail.writeUInt8(6, at) + tail.write('live@1', at + 1);
    for (const p of [0.25, 0.125, 0.0625, 0.5, 0.0625]) at = tail.writeFloatLE(p, at);
    at = tail.writeUInt8(5, at) + tail.write('comp3', at + 1);
    at = tail.writeUInt8(1, at); // live_alert
    at = tail.writeUInt8(1, at); // one alerting component
    at = tail.writeUInt8(5, at) + tail.write('comp3', at + 1);
    const buf = encodeRowBinary([row], shadowPredictionsFormat(MODERN_CAPS));
    expect(buf.subarray(buf.length - tail.length)).toEqual(tail);
  });
});

describe('shadowAgreementSelect', () => {
  it('has a mean and an exact p99 of |Δp| per class and alert counts per component', () => {
    const sql = shadowAgreementSelect('pdm');
    for (const c of CLASSES) {
      expect(sql).toContain(`avg(abs(p_${c} - live_p_${c})) AS mean_abs_dp_${c}`);
      expect(sql).toContain(`quantileExact(0.99)(abs(p_${c} - live_p_${c})) AS p99_abs_dp_${c}`);
    }
    for (const c of CLASSES.slice(1)) {
      expect(sql).toContain(`AS live_alerts_${c}`);
      expect(sql).toContain(`AS shadow_alerts_${c}`);
      expect(sql).toContain(`AS both_alerts_${c}`);
    }
    expect(sql).toMatch(/FROM \S*pdm\S*\.shadow_predictions FINAL\nGROUP BY/);
    expect(shadowAgreementSelect('pdm', 'bucket_ts >= {from:DateTime}')).toContain(
      'FINAL\nWHERE bucket_ts >= {from:DateTime}\nGROUP BY',
    );
  });
});
