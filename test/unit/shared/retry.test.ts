/**
 * Bounded exponential backoff of src/shared/retry.ts: which errors are retried, how often, how long it
 * waits between attempts, and what the caller sees when it gives up. Delays are kept to a few ms (the
 * waits are real timers) except where the abort path is tested.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, PdmError, TransientError } from '../../../src/shared/errors.js';
import { backoffDelayMs, withRetry, type BackoffOptions } from '../../../src/shared/retry.js';

const transient = (n: number): TransientError =>
  new TransientError(`ClickHouse down (${n})`, { code: 'CLICKHOUSE_UNAVAILABLE', stage: 'sink' });

/** A function failing with `errors[i]` on attempt i, then succeeding with `'ok'`; records its attempts. */
function flaky(errors: readonly unknown[]): { fn: (attempt: number) => Promise<string>; attempts: number[] } {
  const attempts: number[] = [];
  return {
    attempts,
    fn(attempt) {
      attempts.push(attempt);
      const e = errors[attempts.length - 1];
      // Rejects with whatever the case throws, a string included: withRetry must pass it through unchanged.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return e === undefined ? Promise.resolve('ok') : Promise.reject(e);
    },
  };
}

interface RetryCall {
  readonly err: unknown;
  readonly attempt: number;
  readonly delayMs: number;
}

function recordRetries(options: BackoffOptions = {}): { options: BackoffOptions; calls: RetryCall[] } {
  const calls: RetryCall[] = [];
  return {
    calls,
    options: {
      initialMs: 1,
      maxMs: 4,
      ...options,
      onRetry: (err, attempt, delayMs) => calls.push({ err, attempt, delayMs }),
    },
  };
}

describe('backoffDelayMs (exponential, full jitter, bounded)', () => {
  const low = () => 0;
  const high = () => 1;

  it.each([
    // attempt, ceiling with initialMs 200 and maxMs 10_000
    [0, 200],
    [1, 400],
    [2, 800],
    [3, 1_600],
    [5, 6_400],
    [6, 10_000],
    [20, 10_000],
    [1_000, 10_000],
  ])('attempt %i waits between half the ceiling and the ceiling %i ms', (attempt, ceiling) => {
    expect(backoffDelayMs(attempt, 200, 10_000, low)).toBe(ceiling / 2);
    expect(backoffDelayMs(attempt, 200, 10_000, high)).toBe(ceiling);
    const mid = backoffDelayMs(attempt, 200, 10_000, () => 0.5);
    expect(mid).toBeGreaterThanOrEqual(ceiling / 2);
    expect(mid).toBeLessThanOrEqual(ceiling);
  });

  it('never exceeds maxMs, whatever the attempt number and the random draw', () => {
    for (let attempt = 0; attempt < 200; attempt += 7) {
      for (const r of [0, 0.25, 0.5, 0.999, 1]) {
        const d = backoffDelayMs(attempt, 250, 15_000, () => r);
        expect(d).toBeLessThanOrEqual(15_000);
        expect(d).toBeGreaterThan(0);
        expect(Number.isFinite(d)).toBe(true);
      }
    }
  });
});

describe('withRetry', () => {
  it('returns the first success without waiting or calling onRetry', async () => {
    const f = flaky([]);
    const r = recordRetries();
    await expect(withRetry(f.fn, r.options)).resolves.toBe('ok');
    expect(f.attempts).toEqual([0]);
    expect(r.calls).toEqual([]);
  });

  it('retries retryable (transient) errors until the call succeeds, passing the attempt number', async () => {
    const f = flaky([transient(1), transient(2), transient(3)]);
    const r = recordRetries();
    await expect(withRetry(f.fn, r.options)).resolves.toBe('ok');
    expect(f.attempts).toEqual([0, 1, 2, 3]);
  });

  it('calls onRetry before each wait with the error, the 1-based retry number and the bounded delay', async () => {
    const errors = [transient(1), transient(2), transient(3), transient(4), transient(5)];
    const f = flaky(errors);
    const r = recordRetries({ initialMs: 2, maxMs: 8 });
    await withRetry(f.fn, r.options);
    expect(r.calls.map((c) => c.err)).toEqual(errors);
    expect(r.calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5]);
    // Ceilings 2, 4, 8, 8, 8 (bounded by maxMs); full jitter keeps each delay in [ceiling/2, ceiling].
    const ceilings = [2, 4, 8, 8, 8];
    r.calls.forEach((c, i) => {
      const ceiling = ceilings[i] ?? Number.NaN;
      expect(c.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
      expect(c.delayMs).toBeLessThanOrEqual(ceiling);
    });
  });

  it('waits at least the delay it announced before the next attempt', async () => {
    const stamps: number[] = [];
    const announced: number[] = [];
    await withRetry(
      () => {
        stamps.push(performance.now());
        return stamps.length < 3 ? Promise.reject(transient(stamps.length)) : Promise.resolve();
      },
      { initialMs: 20, maxMs: 40, onRetry: (_e, _a, delayMs) => announced.push(delayMs) },
    );
    expect(announced).toHaveLength(2);
    for (let i = 0; i < announced.length; i++) {
      const waited = (stamps[i + 1] ?? 0) - (stamps[i] ?? 0);
      // Timers may fire a millisecond early relative to performance.now(); never much earlier.
      expect(waited).toBeGreaterThanOrEqual((announced[i] ?? 0) - 2);
    }
  });

  it.each([
    ['a plain Error', new Error('bug')],
    ['a non-retryable PdmError', new PdmError('schema mismatch', { code: 'CLICKHOUSE_60', stage: 'sink' })],
    ['a ConfigError', new ConfigError('bad setting')],
    ['a thrown string', 'oops'],
  ])('does not retry %s: rethrows it at once, unchanged, without onRetry', async (_name, error) => {
    const f = flaky([error]);
    const r = recordRetries();
    await expect(withRetry(f.fn, r.options)).rejects.toBe(error);
    expect(f.attempts).toEqual([0]);
    expect(r.calls).toEqual([]);
  });

  it('stops at the first non-retryable error after transient ones', async () => {
    const fatal = new Error('bug');
    const f = flaky([transient(1), transient(2), fatal, transient(4)]);
    await expect(withRetry(f.fn, recordRetries().options)).rejects.toBe(fatal);
    expect(f.attempts).toEqual([0, 1, 2]);
  });

  it('uses retryOn instead of the default classification when given', async () => {
    const plain = new Error('flaky network');
    const f = flaky([plain, plain]);
    await expect(withRetry(f.fn, { ...recordRetries().options, retryOn: () => true })).resolves.toBe('ok');
    expect(f.attempts).toEqual([0, 1, 2]);

    const t = transient(1);
    const g = flaky([t]);
    await expect(withRetry(g.fn, { ...recordRetries().options, retryOn: () => false })).rejects.toBe(t);
    expect(g.attempts).toEqual([0]);
  });

  it('gives up after maxAttempts attempts with the last error (maxAttempts − 1 onRetry calls)', async () => {
    const errors = [transient(1), transient(2), transient(3), transient(4)];
    const f = flaky(errors);
    const r = recordRetries({ maxAttempts: 3 });
    await expect(withRetry(f.fn, r.options)).rejects.toBe(errors[2]);
    expect(f.attempts).toEqual([0, 1, 2]);
    expect(r.calls.map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('with maxAttempts 1 makes exactly one attempt', async () => {
    const t = transient(1);
    const f = flaky([t]);
    await expect(withRetry(f.fn, recordRetries({ maxAttempts: 1 }).options)).rejects.toBe(t);
    expect(f.attempts).toEqual([0]);
  });

  it('keeps retrying by default (no attempt limit): 25 transient failures, then success', async () => {
    const f = flaky(Array.from({ length: 25 }, (_, i) => transient(i)));
    await expect(withRetry(f.fn, { initialMs: 1, maxMs: 1 })).resolves.toBe('ok');
    expect(f.attempts).toHaveLength(26);
  });

  it('rethrows the real failure, not an AbortError, when aborted while waiting', async () => {
    const abort = new AbortController();
    const t = transient(1);
    let calls = 0;
    const p = withRetry(
      () => {
        calls++;
        return Promise.reject(t);
      },
      {
        initialMs: 60_000,
        maxMs: 60_000,
        signal: abort.signal,
        onRetry: () => {
          setImmediate(() => {
            abort.abort();
          });
        },
      },
    );
    await expect(p).rejects.toBe(t);
    expect(calls).toBe(1);
  });

  it('does not retry once the signal is already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    const t = transient(1);
    const f = flaky([t]);
    const r = recordRetries({ signal: abort.signal });
    await expect(withRetry(f.fn, r.options)).rejects.toBe(t);
    expect(f.attempts).toEqual([0]);
    expect(r.calls).toEqual([]);
  });
});
