import { describe, expect, it } from 'vitest';
import {
  buildFeatures,
  featureCsvHeader,
  FEATURE_NAMES,
  formatFeatureRows,
  labelFor,
  type FeatureRow,
} from '../../../src/features/index.js';
import { PdmError } from '../../../src/shared/errors.js';
import type { PdmEvent } from '../../../src/shared/records.js';
import { CONFIG, D, H, T0, err, fail, maint, maxRowDifference, meta, runBatch, tel } from './helpers.js';
import { naiveFeatures } from './naive.js';

/** Three machines over 12 days, in the reader's order: metadata first, then by ts (telemetry first on ties). */
function sortedFleet(): PdmEvent[] {
  const timed: PdmEvent[] = [];
  for (let m = 1; m <= 3; m++) {
    for (let h = 0; h < 12 * 24; h++) {
      if (m === 2 && h >= 50 && h < 90) continue;
      const ts = T0 + h * H;
      timed.push(tel(m, ts, 160 + ((h * m) % 23), 420 + ((h * 7) % 50), 95 + (h % 13), 38 + ((h + m) % 9)));
      if ((h * m) % 17 === 0) timed.push(err(m, ts, `error${1 + (h % 5)}`));
      if (h % 97 === m) timed.push(maint(m, ts, `comp${1 + (h % 4)}`));
    }
  }
  timed.push(
    fail(1, T0 + 5 * D, 'comp2'),
    fail(3, T0 + 9 * D + 3 * H, 'comp4'),
    fail(3, T0 + 9 * D + 3 * H, 'comp1'),
  );
  const rank = { telemetry: 0, errors: 1, maintenance: 2, failures: 3, machines: -1 } as const;
  const ts = (e: PdmEvent): number => (e.kind === 'machines' ? -Infinity : e.record.ts);
  timed.sort((a, b) => ts(a) - ts(b) || rank[a.kind] - rank[b.kind]);
  return [meta(1, 'model1', 3), meta(3, 'model4', 11), ...timed];
}

async function build(events: readonly PdmEvent[], labels: boolean, batchEvents?: number) {
  const rows: FeatureRow[] = [];
  const labelList: number[] = [];
  const summary = await buildFeatures(events, {
    config: CONFIG,
    labels,
    ...(batchEvents === undefined ? {} : { batchEvents }),
    onRows: (r, l) => {
      rows.push(...r);
      if (l !== undefined) labelList.push(...l);
    },
  });
  return { rows, labels: labelList, summary };
}

describe('buildFeatures (batch path)', () => {
  it('gives the engine rows and the naive rows, whatever the batch size', async () => {
    const events = sortedFleet();
    const naive = naiveFeatures(events, CONFIG);
    for (const batchEvents of [1, 7, 8192]) {
      const { rows, summary } = await build(events, false, batchEvents);
      expect(maxRowDifference(rows, naive.rows)).toBeLessThanOrEqual(1e-9);
      // Same set as the engine alone; the order is the close order (per close pass: machineId, bucket).
      expect(rows.map((r) => `${r.machineId}@${r.bucketMs}`).sort()).toEqual(
        runBatch(events)
          .rows.map((r) => `${r.machineId}@${r.bucketMs}`)
          .sort(),
      );
      expect(summary.rows).toBe(naive.rows.length);
      expect(summary.counts.silentBuckets).toBe(naive.silent.length);
      expect(summary.counts.late).toBe(0);
    }
  });

  it('labels every row with labelFor over the failures of its machine', async () => {
    const events = sortedFleet();
    const { rows, labels, summary } = await build(events, true, 50);
    expect(labels).toHaveLength(rows.length);
    const failures = events.flatMap((e) => (e.kind === 'failures' ? [e.record] : []));
    rows.forEach((r, i) => {
      expect(labels[i]).toBe(
        labelFor(
          failures.filter((f) => f.machineId === r.machineId),
          r.bucketMs,
        ),
      );
    });
    const counts = [0, 1, 2, 3, 4].map((c) => labels.filter((l) => l === c).length);
    // machine 1: comp2 at T0 + 5 d labels its buckets in [T0 − 2 d, T0 + 5 d): T0 … T0 + 4.5 d, 10 of them;
    // machine 3: simultaneous comp4 + comp1 at T0 + 9 d + 3 h → comp1 (lowest) for T0 + 2.5 d … T0 + 9 d, 14.
    expect(counts[2]).toBe(10);
    expect(counts[1]).toBe(14);
    expect(counts[4]).toBe(0);
    expect(summary.labelFailures).toBe(3);
    expect(summary.rows).toBe(rows.length);
  });

  it('with zero lateness an error at B still counts for B (batches end only where the time changes)', async () => {
    const events = [tel(1, T0), err(1, T0, 'error2'), tel(1, T0 + 12 * H), err(1, T0 + 12 * H, 'error3')];
    const rows: FeatureRow[] = [];
    const summary = await buildFeatures(events, {
      config: { ...CONFIG, allowedLatenessMs: 0 },
      batchEvents: 1,
      onRows: (r) => {
        rows.push(...r);
      },
    });
    expect(summary.counts.late).toBe(0);
    const e = (name: string, i: number): number => rows[i]?.values[FEATURE_NAMES.indexOf(name)] ?? NaN;
    expect([e('error2_count_24h', 0), e('error2_count_24h', 1), e('error3_count_24h', 1)]).toEqual([1, 1, 1]);
  });

  it('refuses a failure that arrives after the labels it would change were written', async () => {
    const hourly = Array.from({ length: 72 }, (_, h) => tel(1, T0 + h * H));
    // Rows up to T0 + 2 d are labelled once the input passed T0 + 9 d; a failure at T0 + 1 d is then too late.
    const events = [...hourly, tel(1, T0 + 9 * D), tel(1, T0 + 9 * D + H), fail(1, T0 + D)];
    await expect(build(events, true, 1)).rejects.toThrow(PdmError);
    await expect(build(events, true, 1)).rejects.toThrow(/not in event-time order/);
  });

  it('reports outcomes with their events', async () => {
    const bad = tel(1, T0 + H, NaN);
    const seen: string[] = [];
    await buildFeatures([tel(1, T0), bad, tel(1, T0)], {
      config: CONFIG,
      onRows: () => undefined,
      onOutcome: (o, e) => seen.push(`${o.kind}:${e === bad ? 'bad' : 'dup'}`),
    });
    expect(seen).toEqual(['INVALID_VALUE:bad', 'DUPLICATE:dup']);
  });
});

describe('feature CSV format', () => {
  it('has the contract header', () => {
    expect(featureCsvHeader(false)).toBe(`machineId,bucketTs,${FEATURE_NAMES.join(',')}\n`);
    expect(featureCsvHeader(true).trimEnd().split(',')).toEqual([
      'machineId',
      'bucketTs',
      ...FEATURE_NAMES,
      'label',
    ]);
  });

  it('prints shortest round-trip numbers that parse back bit for bit', () => {
    const values = Float64Array.from({ length: 38 }, (_, i) =>
      i === 0 ? 0.1 + 0.2 : i === 1 ? 1 / 3 : i - 1.5,
    );
    values[33] = -1;
    const line = formatFeatureRows([{ machineId: 7, bucketMs: T0, values }], [3]);
    const cells = line.trimEnd().split(',');
    expect(cells).toHaveLength(41);
    expect(cells.slice(0, 2)).toEqual(['7', String(T0)]);
    expect(cells[2]).toBe('0.30000000000000004');
    expect(cells[35]).toBe('-1');
    expect(cells[40]).toBe('3');
    expect(Float64Array.from(cells.slice(2, 40).map(Number))).toEqual(values);
  });
});
