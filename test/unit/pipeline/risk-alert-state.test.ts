import { describe, expect, it } from 'vitest';
import {
  alertId,
  createRiskAlertTracker,
  type ComponentAlertState,
  type RiskRow,
} from '../../../src/pipeline/risk-alert-state.js';

const CLASSES = ['none', 'comp1', 'comp2', 'comp3', 'comp4'];
/** comp1 alerts at 0.5 and clears below 0.4 (ratio 0.8); comp2 at 0.6 / 0.48. */
const THRESHOLDS = Float64Array.from([Infinity, 0.5, 0.6, 0.5, 0.5]);
const H = 3_600_000;

/** A row of machine 1 at bucket `b` (hours) with P(comp1) = p1 (and P(comp2) = p2), decided like decision.ts. */
function row(b: number, p1: number, opts: { p2?: number; warm?: boolean; machine?: number } = {}): RiskRow {
  const p = [0, p1, opts.p2 ?? 0, 0, 0];
  let mask = 0;
  if (opts.warm !== true)
    for (let i = 1; i < 5; i++) if ((p[i] ?? 0) >= (THRESHOLDS[i] ?? 1)) mask |= 1 << (i - 1);
  return {
    machineId: opts.machine ?? 1,
    bucketMs: b * H,
    probabilities: p,
    alertMask: mask,
    warmingUp: opts.warm === true,
    modelVersion: 'm/1',
    alertThresholds: THRESHOLDS,
  };
}

/** Transitions as `<bucket h> <component> <state>`. */
function run(rows: RiskRow[], restored: ComponentAlertState[] = []): string[] {
  const t = createRiskAlertTracker({ clearRatio: 0.8, classes: CLASSES });
  t.restore(restored);
  return t.evaluate(rows).map((x) => `${x.bucketMs / H} ${x.component} ${x.state}`);
}

describe('risk alert hysteresis', () => {
  const cases: { name: string; rows: RiskRow[]; restored?: ComponentAlertState[]; want: string[] }[] = [
    { name: 'below the threshold: nothing', rows: [row(1, 0.2), row(2, 0.49)], want: [] },
    { name: 'crossing up fires once', rows: [row(1, 0.2), row(2, 0.5)], want: ['2 comp1 firing'] },
    {
      name: 'staying above does not fire again',
      rows: [row(1, 0.6), row(2, 0.7), row(3, 0.55)],
      want: ['1 comp1 firing'],
    },
    {
      name: 'between the low and the high threshold keeps firing',
      rows: [row(1, 0.6), row(2, 0.45), row(3, 0.4), row(4, 0.55)],
      want: ['1 comp1 firing'],
    },
    {
      name: 'below the low threshold resolves, then a new crossing fires again',
      rows: [row(1, 0.6), row(2, 0.39), row(3, 0.45), row(4, 0.5)],
      want: ['1 comp1 firing', '2 comp1 resolved', '4 comp1 firing'],
    },
    {
      name: 'warming up never fires',
      rows: [row(1, 0.9, { warm: true }), row(2, 0.95, { warm: true })],
      want: [],
    },
    {
      name: 'warming up neither resolves a firing alert',
      rows: [row(1, 0.6), row(2, 0.01, { warm: true }), row(3, 0.3)],
      want: ['1 comp1 firing', '3 comp1 resolved'],
    },
    {
      name: 'components and machines are independent',
      rows: [row(1, 0.6, { p2: 0.7 }), row(1, 0.6, { machine: 2 }), row(2, 0.1, { p2: 0.5 })],
      want: ['1 comp1 firing', '1 comp2 firing', '1 comp1 firing', '2 comp1 resolved'],
    },
    {
      name: 'restored firing: no second firing while above the low threshold',
      restored: [
        { machineId: 1, component: 'comp1', state: 'firing', bucketMs: 1 * H, firedBucketMs: 1 * H },
      ],
      rows: [row(2, 0.6), row(3, 0.45), row(4, 0.3)],
      want: ['4 comp1 resolved'],
    },
    {
      name: 'restored: re-scored buckets up to the last transition are ignored',
      restored: [
        { machineId: 1, component: 'comp1', state: 'firing', bucketMs: 5 * H, firedBucketMs: 5 * H },
      ],
      rows: [row(3, 0.1), row(4, 0.2), row(5, 0.6), row(6, 0.7)],
      want: [],
    },
    {
      name: 'restored resolved: fires again on the next crossing',
      restored: [
        { machineId: 1, component: 'comp1', state: 'resolved', bucketMs: 2 * H, firedBucketMs: 1 * H },
      ],
      rows: [row(2, 0.9), row(3, 0.9)],
      want: ['3 comp1 firing'],
    },
  ];
  it.each(cases)('$name', ({ rows, restored, want }) => {
    expect(run(rows, restored)).toEqual(want);
  });

  it('a resolved transition names the bucket it fired at; ids are deterministic', () => {
    const t = createRiskAlertTracker({ clearRatio: 0.8, classes: CLASSES });
    const out = t.evaluate([row(1, 0.6), row(2, 0.45), row(3, 0.1)]);
    expect(out.map((x) => [x.state, x.firedBucketMs / H, x.threshold, x.clearThreshold])).toEqual([
      ['firing', 1, 0.5, 0.4],
      ['resolved', 1, 0.5, 0.4],
    ]);
    expect(out[1]?.row).toBe(2);
    expect(alertId(7, 'comp2', Date.UTC(2026, 3, 1, 12), 'firing')).toBe(
      '7/comp2/2026-04-01T12:00:00.000Z/firing',
    );
    expect(t.firingCount()).toBe(0);
    expect(t.snapshot()).toEqual([
      { machineId: 1, component: 'comp1', state: 'resolved', bucketMs: 3 * H, firedBucketMs: 1 * H },
    ]);
  });

  it('a row without thresholds (no alert rule) changes nothing; a bad ratio is refused', () => {
    const t = createRiskAlertTracker({ clearRatio: 1, classes: CLASSES });
    const bare: RiskRow = { ...row(1, 0.9), alertThresholds: undefined };
    expect(t.evaluate([bare])).toEqual([]);
    expect(() => createRiskAlertTracker({ clearRatio: 0 })).toThrow(RangeError);
    expect(() => createRiskAlertTracker({ clearRatio: 1.5 })).toThrow(RangeError);
  });

  it('restore replaces the state and counts what fires', () => {
    const t = createRiskAlertTracker({ clearRatio: 0.8, classes: CLASSES });
    t.evaluate([row(1, 0.9, { p2: 0.9 })]);
    expect(t.firingCount()).toBe(2);
    t.restore([
      { machineId: 9, component: 'comp3', state: 'firing', bucketMs: H, firedBucketMs: H },
      { machineId: 9, component: 'unknown', state: 'firing', bucketMs: H, firedBucketMs: H },
    ]);
    expect(t.firingCount()).toBe(1);
    expect(t.snapshot().map((s) => `${s.machineId} ${s.component}`)).toEqual(['9 comp3']);
  });
});
