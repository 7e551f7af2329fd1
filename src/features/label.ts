/**
 * The training/evaluation label of pdm-v1: label(B) = c (1..4 for comp1..comp4) when the machine has a
 * failure of component c with ts ∈ (B, B + 7 days], the earliest such failure when several; 0 otherwise.
 * Failures at the same earliest instant (the reference data has simultaneous failures) are broken by the
 * lowest component number, so the label does not depend on input order.
 */
import { DAY_MS, type FailureRecord } from '../shared/records.js';
import { LABEL_HORIZON_DAYS } from './spec.js';
import { componentIndex } from './validate.js';

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
