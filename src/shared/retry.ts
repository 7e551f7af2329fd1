import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable } from './errors.js';

export interface BackoffOptions {
  /** First delay. @default 200 */
  readonly initialMs?: number;
  /** Largest delay. @default 10_000 */
  readonly maxMs?: number;
  /** Give up after this many attempts; `Infinity` retries until aborted. @default Infinity */
  readonly maxAttempts?: number;
  /** Stops waiting and rethrows the last error. */
  readonly signal?: AbortSignal;
  /** Called before each wait, e.g. to log or count. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Which errors are worth retrying. @default isRetryable */
  readonly retryOn?: (err: unknown) => boolean;
}

/** Exponential backoff with full jitter, bounded by `maxMs`. */
export function backoffDelayMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Runs `fn` until it succeeds, retrying only errors that `retryOn` accepts. */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: BackoffOptions = {},
): Promise<T> {
  const initialMs = options.initialMs ?? 200;
  const maxMs = options.maxMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const retryOn = options.retryOn ?? isRetryable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!retryOn(err) || attempt + 1 >= maxAttempts || options.signal?.aborted === true) throw err;
      const delayMs = backoffDelayMs(attempt, initialMs, maxMs);
      options.onRetry?.(err, attempt + 1, delayMs);
      try {
        await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
      } catch {
        // Aborted while waiting: the caller wants the real failure, not the AbortError.
        throw err;
      }
    }
  }
}
