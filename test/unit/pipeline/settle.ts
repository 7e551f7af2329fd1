/** Observing whether a promise has settled, without waiting for it. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Tracked<T> {
  readonly promise: Promise<T>;
  readonly state: () => 'pending' | 'resolved' | 'rejected';
  readonly value: () => T | undefined;
  readonly error: () => unknown;
}

/** Wraps `p` so its state can be read synchronously; the rejection is handled (read it with `error()`). */
export function track<T>(p: Promise<T>): Tracked<T> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T | undefined;
  let error: unknown;
  void p.then(
    (v) => {
      state = 'resolved';
      value = v;
    },
    (e: unknown) => {
      state = 'rejected';
      error = e;
    },
  );
  return { promise: p, state: () => state, value: () => value, error: () => error };
}

/** Lets every ready callback, microtask and 0-ms timer run (a few turns of the event loop, plus `ms`). */
export async function drain(ms = 0): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  if (ms > 0) await sleep(ms);
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `cond` every few ms until it holds; throws after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A promise with its resolve and reject, for tests that settle it by hand. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve: (v: T) => void = () => undefined;
  let reject: (e: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
