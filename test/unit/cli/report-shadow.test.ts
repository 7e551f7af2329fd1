/**
 * `report --shadow` (src/cli/report-shadow.ts): the bucket range becomes query parameters (never text in
 * the SQL), an empty table says how to get shadow rows, and each pair of versions prints its agreement and
 * the machines the two models decide differently.
 */
import { describe, expect, it } from 'vitest';
import { formatShadowAgreement, printShadowReport } from '../../../src/cli/report-shadow.js';
import { parseShadowAgreement } from '../../../src/sink/index.js';
import { recordingConnection } from '../sink/fake-connection.js';

const AGREEMENT = {
  shadow_model_version: 'pdm-shadow/2',
  live_model_version: 'pdm-default/1',
  rows: '1200',
  warming_up_rows: '30',
  first_bucket: '2026-06-01 00:00:00',
  last_bucket: '2026-06-08 12:00:00',
  same_class_share: 0.9125,
  mean_abs_dp_none: 0.05,
  p99_abs_dp_none: 0.3,
  mean_abs_dp_comp1: 0.01234,
  p99_abs_dp_comp1: 0.25,
  live_alert_rows: '40',
  shadow_alert_rows: '35',
  both_alert_rows: '30',
  live_alerts_comp1: '12',
  shadow_alerts_comp1: '10',
  both_alerts_comp1: '9',
};

describe('report --shadow', () => {
  it('prints the agreement of each pair and the machines decided differently', async () => {
    const { ch, calls } = recordingConnection({
      answer: (sql) =>
        sql.includes('GROUP BY shadow_model_version')
          ? [AGREEMENT]
          : [
              {
                machine_id: 17,
                bucket_ts: '2026-06-08 12:00:00',
                shadow_model_version: 'pdm-shadow/2',
                live_model_version: 'pdm-default/1',
                alert_components: [],
                live_alert_components: ['comp1', 'comp3'],
              },
            ],
    });
    const out: string[] = [];
    const pairs = await printShadowReport(
      ch,
      'pdm',
      { fromMs: Date.UTC(2026, 5, 2), toMs: Date.UTC(2026, 5, 3) + 1, top: 5 },
      (l) => out.push(l),
    );
    expect(pairs).toBe(1);
    expect(out[0]).toBe(
      'shadow pdm-shadow/2 vs live pdm-default/1: 1,200 rows, buckets 2026-06-01 00:00:00 … 2026-06-08 12:00:00 (30 warming up)',
    );
    expect(out).toContain('  same most likely class (argmax): 91.3 %');
    expect(out.find((l) => l.startsWith('    mean'))).toMatch(
      /^ {4}mean {11} {2}0\.0500 {2}0\.0123 {2}0\.0000/,
    );
    expect(out).toContain('    any component        40      35      30');
    expect(out).toContain('    comp1                12      10       9');
    expect(out).toContain('machines whose latest bucket the two models decide differently: 1');
    expect(out).toContain('  machine    17  2026-06-08 12:00:00  live: comp1, comp3  shadow: no alert');
    // The range as DateTime parameters in whole seconds (an end inside a second rounds up), in both queries.
    expect(calls.queries).toHaveLength(2);
    for (const q of calls.queries) {
      expect(q.sql).toContain('bucket_ts >= {from:DateTime} AND bucket_ts < {to:DateTime}');
      expect(q.params).toMatchObject({
        from: Date.UTC(2026, 5, 2) / 1000,
        to: Date.UTC(2026, 5, 3) / 1000 + 1,
      });
    }
    expect(calls.queries[1]?.params).toMatchObject({ top: 5 });
  });

  it('without rows says how to get them, and asks nothing more', async () => {
    const { ch, calls } = recordingConnection();
    const out: string[] = [];
    expect(await printShadowReport(ch, 'pdm', { top: 10 }, (l) => out.push(l))).toBe(0);
    expect(out).toEqual([
      'shadow: no shadow predictions in this range (`run` writes them when PDM_SHADOW_MODEL_DIR names a second model package)',
    ]);
    expect(calls.queries).toHaveLength(1);
    expect(calls.queries[0]?.sql).not.toContain('WHERE');
  });

  it('a range ending at or before the epoch selects nothing; one starting there has no lower bound', async () => {
    const { ch, calls } = recordingConnection();
    await printShadowReport(ch, 'pdm', { fromMs: 0, toMs: -5, top: 1 }, () => undefined);
    expect(calls.queries[0]?.sql).toMatch(/WHERE 0\n/);
    expect(calls.queries[0]?.params).toEqual({});
  });

  it('bounds past what a DateTime holds (2106) are not sent: 18.16 would wrap them', async () => {
    const after2106 = Date.UTC(2108, 0, 1);
    const { ch, calls } = recordingConnection();
    await printShadowReport(
      ch,
      'pdm',
      { fromMs: Date.UTC(2026, 0, 1), toMs: after2106, top: 1 },
      () => undefined,
    );
    expect(calls.queries[0]?.sql).toContain('WHERE bucket_ts >= {from:DateTime}\n');
    expect(calls.queries[0]?.params).toEqual({ from: Date.UTC(2026, 0, 1) / 1000 });
    const late = recordingConnection();
    await printShadowReport(late.ch, 'pdm', { fromMs: after2106, top: 1 }, () => undefined);
    expect(late.calls.queries[0]?.sql).toMatch(/WHERE 0\n/);
    expect(late.calls.queries[0]?.params).toEqual({});
  });

  it('formats missing per-class figures as zero', () => {
    const lines = formatShadowAgreement(parseShadowAgreement({ ...AGREEMENT, p99_abs_dp_comp1: undefined }));
    expect(lines.find((l) => l.startsWith('    p99'))).toContain('0.3000  0.0000');
  });
});
