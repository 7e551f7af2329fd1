/** Network probes of the local stack: is a port taken, does an HTTP endpoint answer, wait until ready. */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when something accepts TCP connections on host:port. */
export function isListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/** Best effort: which program listens on a port (from `ss`), for the "port taken" message. */
export function whoListens(port: number): string | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', timeout: 2_000 });
    const users = /users:\(\((.*?)\)\)/.exec(out)?.[1];
    return users ?? (out.trim() === '' ? undefined : out.trim());
  } catch {
    // ss missing or not permitted: the message simply names the port without the program.
    return undefined;
  }
}

/** GET `url` and return status and body text, or undefined when nothing answers in time. */
export async function httpGet(
  url: string,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    // Refused, reset or timed out: "not ready" is the answer the callers need.
    return undefined;
  }
}

/**
 * Polls `check` until it returns true, `stillAlive` returns false (the process died), or `timeoutMs`
 * passes. Returns what happened rather than throwing, so the caller can add the service log to its error.
 */
export async function waitUntil(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; stillAlive?: () => boolean },
): Promise<'ready' | 'timeout' | 'exited'> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return 'ready';
    if (options.stillAlive !== undefined && !options.stillAlive()) return 'exited';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(options.intervalMs ?? 250);
  }
}
