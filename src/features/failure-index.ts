/**
 * The failures that label rows, per machine, collected from a failure stream in any order (the failures
 * topic read from Kafka by `training-set`). Each failure is tested once with {@link labelFailureProblem},
 * the test `features build --labels` applies, and a failure seen again (same machine, ts and component: a
 * producer that resent) is kept once, so the failure list written next to a training set has no doubles.
 * Labels themselves come from {@link labelFor}, the one label rule.
 */
import type { FailureRecord } from '../shared/records.js';
import { labelFailureProblem, labelFor } from './label.js';

export interface FailureIndexCounts {
  /** Distinct usable failures. */
  used: number;
  /** Invalid key, event time or component (INVALID_VALUE). */
  invalid: number;
  /** Later than the processing clock plus the allowed skew (FUTURE_EVENT). */
  future: number;
  /** Usable failures seen before (same machine, ts, component). */
  duplicates: number;
}

export type FailureAddOutcome = 'used' | 'duplicate' | 'INVALID_VALUE' | 'FUTURE_EVENT';

export interface FailureIndex {
  add(record: FailureRecord): FailureAddOutcome;
  /** pdm-v1 label of bucket `bucketMs` of `machineId` from the failures added so far. */
  labelOf(machineId: number, bucketMs: number): number;
  /** Distinct usable failures in (ts, machineId, component) order. */
  failures(): FailureRecord[];
  /** Machines with at least one usable failure. */
  readonly machines: () => number;
  readonly counts: Readonly<FailureIndexCounts>;
}

/** `futureLimitMs`: the processing clock plus the allowed future skew (see labelFailureProblem). */
export function createFailureIndex(futureLimitMs: number): FailureIndex {
  const byMachine = new Map<number, FailureRecord[]>();
  const seen = new Set<string>();
  const counts: FailureIndexCounts = { used: 0, invalid: 0, future: 0, duplicates: 0 };
  return {
    add(record) {
      const problem = labelFailureProblem(record, futureLimitMs);
      if (problem !== null) {
        if (problem.kind === 'INVALID_VALUE') counts.invalid++;
        else counts.future++;
        return problem.kind;
      }
      const key = `${record.machineId}/${record.ts}/${record.failure}`;
      if (seen.has(key)) {
        counts.duplicates++;
        return 'duplicate';
      }
      seen.add(key);
      let list = byMachine.get(record.machineId);
      if (list === undefined) byMachine.set(record.machineId, (list = []));
      list.push({ machineId: record.machineId, ts: record.ts, failure: record.failure });
      counts.used++;
      return 'used';
    },
    labelOf(machineId, bucketMs) {
      return labelFor(byMachine.get(machineId) ?? [], bucketMs);
    },
    failures() {
      return [...byMachine.values()]
        .flat()
        .sort((a, b) => a.ts - b.ts || a.machineId - b.machineId || a.failure.localeCompare(b.failure));
    },
    machines: () => byMachine.size,
    counts,
  };
}
