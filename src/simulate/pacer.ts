/**
 * Pace of the producers: as fast as possible, at most `maxRate` records per wall second, and/or `speed`
 * event-time seconds per wall second (a day of fleet time in 24 s at speed 3600). Pure arithmetic on an
 * injected clock; the caller sleeps.
 */
import { ConfigError } from '../shared/errors.js';

export interface PacerOptions {
  /** Event-time seconds per wall second; unset = no event-time pacing. */
  readonly speed?: number;
  /** Records per wall second; unset = no rate limit. */
  readonly maxRate?: number;
  /** Event time shown at wall time zero; earlier events (history) go at once. @default first ts seen */
  readonly eventTimeOriginMs?: number;
  /** Wall clock in ms. @default performance.now */
  readonly now?: () => number;
}

export interface Pacer {
  /**
   * Milliseconds to wait before the record with event time `ts` (undefined for untimed records) may go,
   * given that `sent` records went before it; 0 when it may go now.
   */
  delayMs(ts: number | undefined, sent: number): number;
  /** Whether the pacer ever delays (false: skip calling it). */
  readonly active: boolean;
}

export function createPacer(options: PacerOptions = {}): Pacer {
  const { speed, maxRate } = options;
  if (speed !== undefined && !(speed > 0 && Number.isFinite(speed))) {
    throw new ConfigError(`speed must be a positive number, got ${speed}`, { stage: 'simulate' });
  }
  if (maxRate !== undefined && !(maxRate > 0 && Number.isFinite(maxRate))) {
    throw new ConfigError(`max-rate must be a positive number, got ${maxRate}`, { stage: 'simulate' });
  }
  const now = options.now ?? (() => performance.now());
  const startedAt = now();
  let origin = options.eventTimeOriginMs;
  return {
    active: speed !== undefined || maxRate !== undefined,
    delayMs(ts, sent) {
      const elapsed = now() - startedAt;
      let due = 0;
      if (speed !== undefined && ts !== undefined) {
        origin ??= ts;
        due = (ts - origin) / speed;
      }
      if (maxRate !== undefined) due = Math.max(due, (sent * 1000) / maxRate);
      return Math.max(0, due - elapsed);
    },
  };
}
