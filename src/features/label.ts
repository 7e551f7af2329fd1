/**
 * The training/evaluation label of pdm-v1: label(B) = c (1..4 for comp1..comp4) when the machine has a
 * failure of component c with ts ∈ (B, B + 7 days], the earliest such failure when several; 0 otherwise.
 * Failures at the same earliest instant (the reference data has simultaneous failures) are broken by the
 * lowest component number, so the label does not depend on input order.
 */
import { DAY_MS, type FailureRecord } from '../shared/records.js';
import { COMPONENTS, LABEL_HORIZON_DAYS } from './spec.js';
import { checkCategory, checkKeyAndTime, componentIndex } from './validate.js';

export const LABEL_HORIZON_MS = LABEL_HORIZON_DAYS * DAY_MS;

/**
 * Label of bucket `bucketMs` given the failures of one machine (any order). Records whose `failure` is not
 * comp1..comp4 are not failures of a known component and are skipped: validate input first (the feature
 * engine reports them as INVALID_VALUE).
 */
export function labelFor(
  failuresOfMachine: readonly Pick<FailureRecord, 'ts' | 'failure'>[],
  bucketMs: number,
): number {
  const end = bucketMs + LABEL_HORIZON_MS;
  let bestTs = Number.POSITIVE_INFINITY;
  let best = 0;
  for (const f of failuresOfMachine) {
    if (f.ts <= bucketMs || f.ts > end) continue;
    const c = componentIndex(f.failure) + 1;
    if (c === 0) continue;
    if (f.ts < bestTs || (f.ts === bestTs && c < best)) {
      bestTs = f.ts;
      best = c;
    }
  }
  return best;
}

/** Why a failure event is no label (the same words as the engine's INVALID_VALUE / FUTURE_EVENT). */
export type LabelFailureProblem =
  | { readonly kind: 'INVALID_VALUE'; readonly message: string }
  | { readonly kind: 'FUTURE_EVENT'; readonly message: string };

/**
 * Whether a decoded failure event may label rows: its key, event time and component are valid, and it is not
 * later than `futureLimitMs` (the processing clock plus the allowed future skew). The one test of every
 * path that labels (`features build --labels`, `training-set`), so they use the same failures.
 */
export function labelFailureProblem(r: FailureRecord, futureLimitMs: number): LabelFailureProblem | null {
  const invalid = checkKeyAndTime(r.machineId, r.ts) ?? checkCategory('failure', r.failure, COMPONENTS);
  if (invalid !== null) return { kind: 'INVALID_VALUE', message: invalid };
  if (r.ts > futureLimitMs) {
    return {
      kind: 'FUTURE_EVENT',
      message: `failure ts ${r.ts} is later than the processing clock plus the allowed skew (${futureLimitMs})`,
    };
  }
  return null;
}

/**
 * True when the whole label window (B, B + 7 d] of bucket `bucketMs` lies at or before `labelsUntilMs`,
 * the instant up to which the failures are known: only then is the label final (a failure recorded later
 * could still turn a 0 into a component).
 */
export function labelWindowComplete(bucketMs: number, labelsUntilMs: number): boolean {
  return bucketMs + LABEL_HORIZON_MS <= labelsUntilMs;
}
