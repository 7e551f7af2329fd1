/**
 * Hysteresis of the failure-risk alerts, per (machine, component): pure state, no I/O.
 *
 *   not firing ──(the package's decision alerts: P(c) ≥ t_c, not warming up)──▶ firing      emits 'firing'
 *   firing     ──(P(c) < clearRatio × t_c, not warming up)──────────────────────▶ not firing  emits 'resolved'
 *
 * Between the two thresholds the state holds: a component that stays at risk alerts once, not once per
 * bucket. A warming-up row never fires (its alert mask is 0, src/score/decision.ts) and never resolves
 * either: its probabilities describe a shorter history than the model was trained on, so it says nothing
 * either way. A row of a package without an alert rule changes nothing.
 *
 * Every transition records its bucket. Rows of a bucket at or before a (machine, component)'s last
 * transition are ignored: after a restart the state is restored from the stored transitions
 * (risk-alerts.ts) while the engine may re-score buckets that were scored before the crash, and those must
 * not undo a transition decided from later buckets. Rows of later buckets are decided exactly as before the
 * crash (scoring is deterministic), so they reproduce the same transitions, with the same ids.
 */
import { CLASSES } from '../features/index.js';

export const ALERT_STATES = ['firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** What the hysteresis reads of a scored row (a `ScoredLike` satisfies it). */
export interface RiskRow {
  readonly machineId: number;
  readonly bucketMs: number;
  readonly probabilities: ArrayLike<number>;
  /** The package's decision: bit i − 1 for alerting class i (0 for a warming-up row). */
  readonly alertMask: number;
  readonly warmingUp: boolean;
  readonly modelVersion: string;
  /** Threshold per class index of the package that scored the row; absent: no alert rule. */
  readonly alertThresholds?: ArrayLike<number> | undefined;
}

export interface AlertTransition {
  readonly machineId: number;
  /** Class name (comp1..comp4). */
  readonly component: string;
  readonly state: AlertState;
  readonly bucketMs: number;
  /** Bucket of the 'firing' this episode started with (= bucketMs for 'firing'). */
  readonly firedBucketMs: number;
  readonly probability: number;
  readonly threshold: number;
  readonly clearThreshold: number;
  readonly modelVersion: string;
  /** Index of the row in the evaluated list. */
  readonly row: number;
}

/** The last transition of one (machine, component), as stored and restored. */
export interface ComponentAlertState {
  readonly machineId: number;
  readonly component: string;
  readonly state: AlertState;
  readonly bucketMs: number;
  readonly firedBucketMs: number;
}

export interface RiskAlertTracker {
  /** Decides the transitions of `rows`, in order, and updates the state. */
  evaluate(rows: readonly RiskRow[]): AlertTransition[];
  /** Replaces the whole state (the engine's restore, after every assignment). */
  restore(states: Iterable<ComponentAlertState>): void;
  /** (machine, component) pairs firing now. */
  firingCount(): number;
  /** The state, for tests and diagnostics. */
  snapshot(): ComponentAlertState[];
}

export interface RiskAlertTrackerOptions {
  /** Clear threshold = clearRatio × the package's threshold (PDM_ALERT_CLEAR_RATIO), 0 < ratio ≤ 1. */
  readonly clearRatio: number;
  /** Class names by index; index 0 is `none` (never alerts). @default CLASSES */
  readonly classes?: readonly string[];
}

interface Slot {
  firing: boolean;
  bucketMs: number;
  firedBucketMs: number;
}

/** The deterministic id of a transition: consumers dedupe re-published copies on it. */
export function alertId(machineId: number, component: string, bucketMs: number, state: AlertState): string {
  return `${machineId}/${component}/${new Date(bucketMs).toISOString()}/${state}`;
}

export function createRiskAlertTracker(options: RiskAlertTrackerOptions): RiskAlertTracker {
  const { clearRatio } = options;
  if (!(clearRatio > 0 && clearRatio <= 1)) throw new RangeError(`clearRatio ${clearRatio} not in (0, 1]`);
  const classes = options.classes ?? CLASSES;
  const indexOf = new Map(classes.map((c, i) => [c, i]));
  /** Per machine, a slot per class index (undefined until its first transition). */
  let machines = new Map<number, (Slot | undefined)[]>();
  let firing = 0;

  return {
    evaluate(rows) {
      const out: AlertTransition[] = [];
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r] as RiskRow;
        let slots = machines.get(row.machineId);
        // The common case costs one lookup: nothing alerts and nothing was ever decided for the machine.
        if (row.alertMask === 0 && slots === undefined) continue;
        const thresholds = row.alertThresholds;
        if (thresholds === undefined) continue;
        for (let c = 1; c < classes.length; c++) {
          const slot = slots?.[c];
          if (slot !== undefined && row.bucketMs <= slot.bucketMs) continue;
          const threshold = thresholds[c] ?? Infinity;
          if (!Number.isFinite(threshold)) continue;
          const p = row.probabilities[c] ?? 0;
          const clearThreshold = threshold * clearRatio;
          let state: AlertState;
          let firedBucketMs: number;
          if (slot?.firing !== true) {
            if ((row.alertMask & (1 << (c - 1))) === 0) continue;
            state = 'firing';
            firedBucketMs = row.bucketMs;
            firing++;
          } else {
            if (row.warmingUp || p >= clearThreshold) continue;
            state = 'resolved';
            firedBucketMs = slot.firedBucketMs;
            firing--;
          }
          if (slots === undefined) {
            slots = new Array<Slot | undefined>(classes.length);
            machines.set(row.machineId, slots);
          }
          slots[c] = { firing: state === 'firing', bucketMs: row.bucketMs, firedBucketMs };
          out.push({
            machineId: row.machineId,
            component: classes[c] as string,
            state,
            bucketMs: row.bucketMs,
            firedBucketMs,
            probability: p,
            threshold,
            clearThreshold,
            modelVersion: row.modelVersion,
            row: r,
          });
        }
      }
      return out;
    },
    restore(states) {
      const next = new Map<number, (Slot | undefined)[]>();
      let n = 0;
      for (const s of states) {
        const c = indexOf.get(s.component);
        // A component the running classes do not know (a package with other classes wrote it) cannot be
        // decided by this engine: nothing of it is restored.
        if (c === undefined || c === 0) continue;
        let slots = next.get(s.machineId);
        if (slots === undefined) {
          slots = new Array<Slot | undefined>(classes.length);
          next.set(s.machineId, slots);
        }
        const isFiring = s.state === 'firing';
        slots[c] = { firing: isFiring, bucketMs: s.bucketMs, firedBucketMs: s.firedBucketMs };
        if (isFiring) n++;
      }
      machines = next;
      firing = n;
    },
    firingCount: () => firing,
    snapshot() {
      const out: ComponentAlertState[] = [];
      for (const [machineId, slots] of machines) {
        slots.forEach((s, c) => {
          if (s === undefined) return;
          out.push({
            machineId,
            component: classes[c] as string,
            state: s.firing ? 'firing' : 'resolved',
            bucketMs: s.bucketMs,
            firedBucketMs: s.firedBucketMs,
          });
        });
      }
      return out;
    },
  };
}
