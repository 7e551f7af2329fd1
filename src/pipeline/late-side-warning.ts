/**
 * A warning that names the likely cause when side events (errors, maintenance) are dead-lettered as
 * LATE_EVENT: telemetry had already closed their hour when they reached the log.
 *
 * Each such event is in the dead-letter table with its reason and counted in pdm_dead_letters_total, but
 * neither says why. The common cause is not a late device but a producer that holds side events back
 * (librdkafka or Java `linger.ms`, a batching gateway) longer than the side checkpoint's grace
 * (PDM_SIDE_GRACE_MS) while it already sent the telemetry that closes their buckets: a user trial with
 * `linger.ms=2000` made thousands of them at the default grace and none at 5000 ms (README, producer
 * contract item 5). The warning says so once when it starts and then at most once per interval, with the
 * counts since the last one (at the end of the interval, even when no later late event comes, and at a
 * stop), so a steady stream of late events does not flood the log.
 */
import type { DeadLetter } from '../dlq/index.js';
import type { Logger } from '../shared/logger.js';

export type LateSideKind = 'errors' | 'maintenance';

export interface LateSideWarning {
  /** The dead letters of one batch of `kind`: its LATE_EVENT ones are counted (none: nothing to say). */
  record(kind: LateSideKind, deadLetters: readonly Pick<DeadLetter, 'reason'>[]): void;
  /** The engine stops: warns with what is pending now (a stop inside the interval lost them before). */
  close(): void;
}

export interface LateSideWarningOptions {
  readonly log: Logger;
  /** The configured PDM_SIDE_GRACE_MS, quoted in the warning. */
  readonly sideGraceMs: number;
  /**
   * The least time between two warnings; events in between are counted into the next one.
   * @default 60000
   */
  readonly intervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export const LATE_SIDE_WARNING =
  'errors or maintenance events reached the log after telemetry had closed their hour: dead-lettered ' +
  'LATE_EVENT, not in the features. If a producer sends them together with that telemetry, it held them ' +
  'back longer than PDM_SIDE_GRACE_MS (linger.ms, batching, retries): have it send them first, or raise ' +
  'PDM_SIDE_GRACE_MS above its delay (README, producer contract item 5)';

export function createLateSideWarning(options: LateSideWarningOptions): LateSideWarning {
  const intervalMs = options.intervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  let pending = { errors: 0, maintenance: 0 };
  /** When the counts in `pending` started; undefined when none are pending. */
  let sinceMs: number | undefined;
  let lastWarnedMs = Number.NEGATIVE_INFINITY;
  /** Warns with what is pending once the interval is over, also when no later late event comes. */
  let timer: NodeJS.Timeout | undefined;
  const warn = (t: number) => {
    clearTimeout(timer);
    timer = undefined;
    if (sinceMs === undefined) return;
    options.log.warn(
      {
        lateEvents: pending,
        sinceMs: t - sinceMs,
        sideGraceMs: options.sideGraceMs,
        metric: 'pdm_dead_letters_total{reason="LATE_EVENT"}',
      },
      LATE_SIDE_WARNING,
    );
    lastWarnedMs = t;
    pending = { errors: 0, maintenance: 0 };
    sinceMs = undefined;
  };
  return {
    record(kind, deadLetters) {
      let count = 0;
      for (const d of deadLetters) if (d.reason === 'LATE_EVENT') count++;
      if (count === 0) return;
      const t = now();
      pending[kind] += count;
      sinceMs ??= t;
      const waitMs = lastWarnedMs + intervalMs - t;
      if (waitMs <= 0) warn(t);
      else
        timer ??= setTimeout(() => {
          warn(now());
        }, waitMs).unref();
    },
    close() {
      warn(now());
    },
  };
}
