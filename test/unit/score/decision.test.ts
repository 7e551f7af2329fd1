/**
 * Issue 13, item 0: the package's decision rule (per-component thresholds, warming-up rows never alert) is
 * what every prediction carries, next to the argmax.
 */
import { describe, expect, it } from 'vitest';
import { CLASSES, FEATURE_COUNT, FEATURE_NAMES, SENSORS } from '../../../src/features/index.js';
import {
  alertClasses,
  alertMask,
  createMicroBatcher,
  decisionRule,
  isWarmingUp,
  loadModelPackage,
  strongestAlert,
  warmUpPairs,
  type Scorer,
} from '../../../src/score/index.js';
import { DEFAULT_PACKAGE } from './package-fixtures.js';

const TH = Float64Array.from([Infinity, 0.4, 0.5, 0.6, 0.7]);
const index = (name: string) => FEATURE_NAMES.indexOf(name);

/** A steady-state row: every 36 h window differs from its 24 h window. */
function steadyRow(): Float64Array {
  return Float64Array.from({ length: FEATURE_COUNT }, (_, i) => 1 + i * 0.25);
}

/** A warming-up row: the 36 h windows equal the 24 h ones (no telemetry in (B − 36 h, B − 24 h]). */
function warmRow(): Float64Array {
  const v = steadyRow();
  for (const s of SENSORS) {
    v[index(`${s}_mean_36h`)] = v[index(`${s}_mean_24h`)] as number;
    v[index(`${s}_std_36h`)] = v[index(`${s}_std_24h`)] as number;
  }
  return v;
}

describe('alertMask', () => {
  it.each([
    { p: [0.9, 0.1, 0.1, 0.1, 0.1], mask: 0b0000, why: 'nothing reaches its threshold' },
    { p: [0.1, 0.4, 0.1, 0.1, 0.1], mask: 0b0001, why: 'P = threshold alerts (≥)' },
    { p: [0.1, 0.39, 0.1, 0.1, 0.1], mask: 0b0000, why: 'just below' },
    { p: [0.0, 0.45, 0.0, 0.6, 0.0], mask: 0b0101, why: 'two components at once' },
    { p: [0.0, 0.3, 0.55, 0.0, 0.0], mask: 0b0010, why: 'not the argmax class: comp2 over its 0.5' },
    { p: [0.0, 0.41, 0.0, 0.0, 0.59], mask: 0b0001, why: 'the argmax (comp4) is below its 0.7' },
  ])('$why', ({ p, mask }) => {
    expect(alertMask(p, TH)).toBe(mask);
  });

  it('never alerts without thresholds (a package without an alert rule)', () => {
    expect(alertMask([0, 1, 1, 1, 1], undefined)).toBe(0);
  });
});

describe('strongestAlert', () => {
  it('picks the largest P / threshold among the alerting components, 0 when none', () => {
    // comp1 0.45/0.4 = 1.125, comp3 0.66/0.6 = 1.1
    expect(strongestAlert([0, 0.45, 0, 0.66, 0], TH, 0b0101)).toBe(1);
    expect(strongestAlert([0, 0.45, 0, 0.72, 0], TH, 0b0101)).toBe(3);
    expect(strongestAlert([0, 0.45, 0, 0.72, 0], TH, 0)).toBe(0);
  });

  it('names the components of a mask in class order', () => {
    expect(alertClasses(0b1010, CLASSES)).toEqual(['comp2', 'comp4']);
    expect(alertClasses(0, CLASSES)).toEqual([]);
  });
});

describe('warming up', () => {
  const pairs = warmUpPairs(FEATURE_NAMES);

  it('compares the 24 h and 36 h mean and std of every sensor', () => {
    expect(pairs.length).toBe(SENSORS.length * 2 * 2);
  });

  it('is true exactly when every 36 h window equals its 24 h window', () => {
    expect(isWarmingUp(warmRow(), pairs)).toBe(true);
    expect(isWarmingUp(steadyRow(), pairs)).toBe(false);
    for (const s of SENSORS) {
      for (const stat of ['mean', 'std']) {
        const v = warmRow();
        v[index(`${s}_${stat}_36h`)] = (v[index(`${s}_${stat}_36h`)] as number) + 1e-12;
        expect(isWarmingUp(v, pairs), `${s}_${stat}_36h differs`).toBe(false);
      }
    }
  });

  it('a package that lets the model decide cold start has no warm-up test', () => {
    const rule = decisionRule({
      featureNames: FEATURE_NAMES,
      classes: CLASSES,
      alertThresholds: TH,
      warmingUp: 'score',
    });
    expect(isWarmingUp(warmRow(), rule.warmUpPairs)).toBe(false);
  });

  it('refuses a package without the windows the test reads', () => {
    expect(() => decisionRule({ featureNames: ['a'], classes: CLASSES, alertThresholds: TH })).toThrow(
      /warm-up rule needs/,
    );
  });
});

describe('the micro-batcher applies the decision to every row', () => {
  /** Probabilities chosen per row by its first feature value. */
  const PROBS: Record<number, number[]> = {
    1: [0.1, 0.45, 0.05, 0.35, 0.05], // argmax comp1, alerts comp1
    2: [0.5, 0.3, 0.1, 0.05, 0.05], // argmax none, no alert
    3: [0.1, 0.2, 0.05, 0.05, 0.6], // argmax comp4 but below its 0.7: no alert
    4: [0.05, 0.45, 0.0, 0.5, 0.0], // argmax comp3 (below 0.6), alerts comp1
  };
  const scorer: Scorer = {
    score(rows, n) {
      const out = new Float32Array(n * 5);
      for (let r = 0; r < n; r++) out.set(PROBS[rows[r * FEATURE_COUNT] as number] ?? [], r * 5);
      return Promise.resolve(out);
    },
    close: () => Promise.resolve(),
  };
  const rule = decisionRule({ featureNames: FEATURE_NAMES, classes: CLASSES, alertThresholds: TH });

  it('alert mask, strongest alert and warming-up flag next to the argmax', async () => {
    const batcher = createMicroBatcher({
      scorer,
      maxRows: 3,
      maxWaitMs: 0,
      nFeatures: FEATURE_COUNT,
      classes: CLASSES,
      modelVersion: 't/1',
      decision: rule,
    });
    const row = (key: number, warm: boolean) => {
      const values = warm ? warmRow() : steadyRow();
      values[0] = key;
      return { machineId: key, bucketMs: 0, values };
    };
    const out = await batcher.submit([
      row(1, false),
      row(2, false),
      row(3, false),
      row(4, false),
      row(1, true),
    ]);
    await batcher.close();
    expect(out.map((r) => [r.predictedClass, r.alertMask, r.alertClass, r.alertIndex, r.warmingUp])).toEqual([
      ['comp1', 0b0001, 'comp1', 1, false],
      ['none', 0, 'none', 0, false],
      ['comp4', 0, 'none', 0, false],
      ['comp3', 0b0001, 'comp1', 1, false],
      // Same probabilities as the first row, but warming up: most likely comp1, no alert.
      ['comp1', 0, 'none', 0, true],
    ]);
  });
});

describe('the committed package', () => {
  it('carries per-component thresholds and suppresses warming-up rows', async () => {
    const pkg = await loadModelPackage(DEFAULT_PACKAGE);
    expect(pkg.alertThresholds).toBeDefined();
    expect(pkg.warmingUp).toBe('suppress');
    const rule = decisionRule(pkg);
    expect(rule.warmUpPairs.length).toBeGreaterThan(0);
    for (const c of CLASSES.slice(1)) expect(pkg.meta.alertRule?.thresholds[c]).toBeGreaterThan(0);
  });
});
