import { SENSORS } from '../features/index.js';
import { ConfigError } from '../shared/errors.js';

/**
 * The package's decision rule: which components a row alerts for. The argmax class stays "most likely";
 * what ops act on (alerts, `report`, the failure-risk rules) is this decision, because the argmax of a
 * class-weighted model alerts far below the precision target (0.46–0.48 on unseen fleets).
 *
 * A row alerts for component c iff it is not warming up and P(c) ≥ t_c (the package's per-component
 * thresholds). The decision is a pure function of the feature vector and the package, so the engine,
 * `score` and anything rescoring logged feature vectors reach the same decision for the same row, across
 * restarts, without any per-machine state.
 *
 * Warming up: the 36 h window holds no reading older than the 24 h window, i.e. for every sensor
 * `<s>_mean_36h == <s>_mean_24h` and `<s>_std_36h == <s>_std_24h` exactly. The feature stage computes the
 * nested windows from one running accumulator and snapshots it at each window edge, so the two are
 * bit-identical exactly when no telemetry lies in (B − 36 h, B − 24 h]: the machine's first telemetry is
 * less than 24 h before B (its first two buckets), or it came back from a telemetry gap of ≥ 12 h. Either
 * way the 36 h features describe a shorter history than the model was trained on; at a machine's first
 * bucket the model alerts for 56–60 of 100 machines at precision 0.05–0.07. The figures behind the choice
 * (why 24 h suffices, why suppressing beats training on such rows) are in the package's report.md.
 */
export interface DecisionRule {
  /**
   * Threshold per class index in the package's class order; index 0 (`none`) is Infinity (never alerts).
   * Undefined: the package has no alert rule and nothing alerts.
   */
  readonly thresholds: Float64Array | undefined;
  /** Pairs of feature indices `[a, b]` that are all equal while a machine is warming up; empty: never. */
  readonly warmUpPairs: Int32Array;
}

/** Maximum number of classes an alert bitmask carries (bit i − 1 for class i ≥ 1). */
export const MAX_ALERT_CLASSES = 31;

/** What {@link decisionRule} needs from a package (a `ModelPackage` satisfies it). */
export interface DecisionSource {
  readonly featureNames: readonly string[];
  readonly classes: readonly string[];
  readonly alertThresholds: Float64Array | undefined;
  /** `alertRule.warmingUp` of model.json: 'suppress' (default) or 'score' (the model decides). */
  readonly warmingUp?: 'suppress' | 'score';
}

/** The feature index pairs compared by the warm-up test, located by name in the package's features. */
export function warmUpPairs(featureNames: readonly string[]): Int32Array {
  const index = new Map(featureNames.map((n, i) => [n, i]));
  const pairs: number[] = [];
  for (const s of SENSORS) {
    for (const stat of ['mean', 'std'] as const) {
      const a = index.get(`${s}_${stat}_24h`);
      const b = index.get(`${s}_${stat}_36h`);
      if (a === undefined || b === undefined) {
        throw new ConfigError(`the warm-up rule needs features ${s}_${stat}_24h and ${s}_${stat}_36h`, {
          code: 'MODEL_INVALID',
          stage: 'score',
        });
      }
      pairs.push(a, b);
    }
  }
  return Int32Array.from(pairs);
}

export function decisionRule(pkg: DecisionSource): DecisionRule {
  if (pkg.classes.length - 1 > MAX_ALERT_CLASSES) {
    throw new ConfigError(`at most ${MAX_ALERT_CLASSES} alerting classes fit an alert mask`, {
      code: 'MODEL_INVALID',
      stage: 'score',
    });
  }
  return Object.freeze({
    thresholds: pkg.alertThresholds,
    warmUpPairs: pkg.warmingUp === 'score' ? new Int32Array(0) : warmUpPairs(pkg.featureNames),
  });
}

/** True when the row's 36 h windows add nothing to its 24 h windows (see {@link DecisionRule}). */
export function isWarmingUp(values: ArrayLike<number>, pairs: Int32Array): boolean {
  if (pairs.length === 0) return false;
  for (let i = 0; i < pairs.length; i += 2) {
    if (values[pairs[i] as number] !== values[pairs[i + 1] as number]) return false;
  }
  return true;
}

/** Bit i − 1 set for every class i ≥ 1 with `p[i] ≥ thresholds[i]`; 0 without thresholds. */
export function alertMask(probabilities: ArrayLike<number>, thresholds: Float64Array | undefined): number {
  if (thresholds === undefined) return 0;
  let mask = 0;
  for (let i = 1; i < thresholds.length; i++) {
    if ((probabilities[i] ?? 0) >= (thresholds[i] as number)) mask |= 1 << (i - 1);
  }
  return mask;
}

/**
 * The strongest alert of `mask`: the alerting class with the largest `p / threshold` (first on ties), 0
 * when none. Same rule as train/'s `alert_prediction`.
 */
export function strongestAlert(
  probabilities: ArrayLike<number>,
  thresholds: Float64Array | undefined,
  mask: number,
): number {
  if (mask === 0 || thresholds === undefined) return 0;
  let best = 0;
  let bestRatio = 0;
  for (let i = 1; i < thresholds.length; i++) {
    if ((mask & (1 << (i - 1))) === 0) continue;
    const ratio = (probabilities[i] ?? 0) / (thresholds[i] as number);
    if (best === 0 || ratio > bestRatio) {
      best = i;
      bestRatio = ratio;
    }
  }
  return best;
}

/** The class names of `mask`, in class order. */
export function alertClasses<C extends string>(mask: number, classes: readonly C[]): C[] {
  const out: C[] = [];
  for (let i = 1; i < classes.length; i++) if ((mask & (1 << (i - 1))) !== 0) out.push(classes[i] as C);
  return out;
}
