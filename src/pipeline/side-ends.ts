/**
 * Reads of the side topics' log end offsets for side checkpoints (side-progress.ts), off the batch path.
 *
 * A telemetry batch known to be in the log at F (its fetch, or an earlier high watermark past it:
 * log-arrival.ts) may claim side completeness only against end offsets read at or after F + grace.
 * Waiting for that inside the batch handler stalled every fetch round by the grace period; here a batch
 * asks for a read and goes on, and the answer arrives later. One read (every side topic, all
 * partitions) answers every request whose `notBefore` it satisfies, so a fetch round costs one read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelayMs } from '../shared/retry.js';
import { SIDE_KINDS, type SideKind } from './side-progress.js';

export type SideEndOffsets = Readonly<Record<SideKind, ReadonlyMap<number, string>>>;

export interface SideEndsReader {
  /**
   * End offsets read at or after `notBeforeMs`; undefined when the request is cancelled first (an
   * assignment change or a stop: the restore then rebuilds whatever the answer would have closed).
   */
  request(notBeforeMs: number): Promise<SideEndOffsets | undefined>;
  /**
   * End offsets of every side topic read elsewhere (the restore reads them at each assignment), all read at
   * or after `readAtMs`: kept as the latest read when newer, so the requests they satisfy need no read.
   */
  offer(readAtMs: number, ends: SideEndOffsets): void;
  /** Answers every request not answered yet with undefined. */
  cancelAll(): void;
  close(): void;
}

export interface SideEndsReaderOptions {
  /** Log end offsets of every partition of a side topic. */
  readonly read: (kind: SideKind) => Promise<Map<number, string>>;
  readonly log: Logger;
}

interface Request {
  readonly notBeforeMs: number;
  readonly then: (ends: SideEndOffsets | undefined) => void;
}

export function createSideEndsReader(options: SideEndsReaderOptions): SideEndsReader {
  let waiting: Request[] = [];
  let latest: { readAtMs: number; ends: SideEndOffsets } | undefined;
  let running = false;
  let closed = false;
  const abort = new AbortController();
  /** Aborted to cut the loop's current sleep short. */
  let wake: AbortController | undefined;

  /** One read of every side topic; retried while requests wait; undefined once none waits any more. */
  async function readAll(): Promise<{ readAtMs: number; ends: SideEndOffsets } | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (closed || waiting.length === 0) return undefined;
      const readAtMs = Date.now();
      try {
        const reads = await Promise.all(SIDE_KINDS.map(async (k) => [k, await options.read(k)] as const));
        return { readAtMs, ends: Object.fromEntries(reads) as Record<SideKind, Map<number, string>> };
      } catch (err) {
        // Kafka unreachable: the source's outage policy decides when to give up; buckets just stay open.
        const delayMs = backoffDelayMs(attempt, 200, 5_000);
        options.log.warn(
          { attempt: attempt + 1, delayMs, err: errorMessage(err) },
          'side topics end offsets: read failed, retrying',
        );
        if (!(await pause(delayMs))) return undefined;
      }
    }
  }

  /** Sleeps `ms`; false when closed meanwhile. A request or a cancel cuts the sleep short (re-plan). */
  async function pause(ms: number): Promise<boolean> {
    const w = new AbortController();
    wake = w;
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([abort.signal, w.signal]) });
    } catch {
      // Woken early: the caller re-plans from the current requests.
    } finally {
      if (wake === w) wake = undefined;
    }
    return !closed;
  }

  async function loop(): Promise<void> {
    running = true;
    try {
      while (!closed && waiting.length > 0) {
        const wait = Math.min(...waiting.map((r) => r.notBeforeMs)) - Date.now();
        if (wait > 0) {
          await pause(wait);
          continue;
        }
        const read = await readAll();
        if (read !== undefined) keep(read);
      }
    } finally {
      running = false;
    }
  }

  function cancelAll(): void {
    const cancelled = waiting;
    waiting = [];
    wake?.abort();
    for (const r of cancelled) r.then(undefined);
  }

  /**
   * Keeps `read` as the latest read unless a newer one is kept already (an offer, a restore's read, may be
   * newer than a read that was in flight), then answers what the latest read satisfies.
   */
  function keep(read: { readAtMs: number; ends: SideEndOffsets }): void {
    if (latest === undefined || read.readAtMs > latest.readAtMs) latest = read;
    answer();
  }

  function answer(): void {
    const read = latest;
    if (read === undefined) return;
    const ready = waiting.filter((r) => r.notBeforeMs <= read.readAtMs);
    if (ready.length === 0) return;
    waiting = waiting.filter((r) => r.notBeforeMs > read.readAtMs);
    for (const r of ready) r.then(read.ends);
  }

  return {
    request(notBeforeMs) {
      if (closed) return Promise.resolve(undefined);
      if (latest !== undefined && latest.readAtMs >= notBeforeMs) return Promise.resolve(latest.ends);
      return new Promise((then) => {
        waiting.push({ notBeforeMs, then });
        if (running) {
          wake?.abort();
          return;
        }
        loop().catch((err: unknown) => {
          options.log.error({ err: errorMessage(err) }, 'side end offsets reader stopped (programmer error)');
        });
      });
    },
    offer(readAtMs, ends) {
      if (!closed) keep({ readAtMs, ends });
    },
    cancelAll,
    close() {
      closed = true;
      cancelAll();
      abort.abort();
    },
  };
}
