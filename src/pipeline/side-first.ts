/**
 * Side topics first: a telemetry partition is paused while a side partition of the same number is
 * catching up to its log end.
 *
 * A bucket closes only once its machine's side inputs are complete up to it, which in a backlog means read
 * to the side topics' end offsets (side-progress.ts). The side topics are small (about 2 % of the records),
 * but the broker hands them out a few hundred records per fetch, and while telemetry shares the fetch
 * rounds each round lasts as long as processing a megabyte of telemetry per partition: the side topics were
 * read last and nothing could be written until then. Pausing telemetry while they catch up makes those
 * rounds a few milliseconds long; then telemetry streams and its buckets close as it goes, so a backlog
 * writes predictions from the start and open buckets do not pile up in memory.
 *
 * Not event-time alignment by record timestamps: those are producer clocks, and the completeness rule must
 * not depend on them (a device with a wrong clock would make the engine skip side events).
 *
 * A side partition only holds telemetry back while it makes progress: if no batch of it arrived for
 * `stallMs` (a compacted tail that fetches return nothing for, a slow broker), telemetry resumes and the
 * buckets simply wait for the side checkpoint as before.
 */
import type { TopicPartition } from '../ingest/index.js';
import { SIDE_KINDS, type SideKind } from './side-progress.js';

export interface SideFirstOptions {
  readonly telemetryTopic: string;
  readonly pause: (tps: readonly TopicPartition[]) => void;
  readonly resume: (tps: readonly TopicPartition[]) => void;
  /** @default 500 */
  readonly stallMs?: number;
  readonly now?: () => number;
}

export interface SideFirst {
  /** A side batch was processed: `next` is the offset after it, `highWatermark` the log end it saw. */
  sideBatch(partition: number, kind: SideKind, next: bigint, highWatermark: bigint): void;
  /**
   * Where a side partition starts after an assignment (`position`) and its log end: telemetry of the
   * partition is held from the first fetch on while the side is behind (same rule as {@link sideBatch};
   * otherwise the first fetch brings a megabyte of telemetry per partition only to leave it).
   */
  sideStart(partition: number, kind: SideKind, position: bigint, end: bigint): void;
  /**
   * A telemetry batch of `partition` arrived. True: take it. False: the partition is paused now (its
   * sides are catching up); leave the batch, it is fetched again after the resume.
   */
  takeTelemetry(partition: number): boolean;
  /** Forget everything (a new assignment: the source resumed every partition). */
  reset(): void;
  close(): void;
}

interface SideLag {
  readonly behind: Record<SideKind, boolean>;
  lastSideBatchMs: number;
}

export function createSideFirst(options: SideFirstOptions): SideFirst {
  const stallMs = options.stallMs ?? 500;
  const now = options.now ?? Date.now;
  const lags = new Map<number, SideLag>();
  const paused = new Set<number>();
  let timer: NodeJS.Timeout | undefined;

  const tp = (partition: number): TopicPartition => ({ topic: options.telemetryTopic, partition });
  const catchingUp = (lag: SideLag | undefined): boolean =>
    lag !== undefined && SIDE_KINDS.some((k) => lag.behind[k]) && now() - lag.lastSideBatchMs < stallMs;

  function release(partition: number): void {
    if (!paused.delete(partition)) return;
    options.resume([tp(partition)]);
    if (paused.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  /** Records where a side partition is; its lag entry. */
  function progress(partition: number, kind: SideKind, next: bigint, end: bigint): SideLag {
    let lag = lags.get(partition);
    if (lag === undefined) {
      lag = { behind: { errors: false, maintenance: false, machines: false }, lastSideBatchMs: 0 };
      lags.set(partition, lag);
    }
    lag.behind[kind] = next < end;
    lag.lastSideBatchMs = now();
    return lag;
  }

  /** Pauses the partition's telemetry (if it is not already). */
  function hold(partition: number): void {
    if (paused.has(partition)) return;
    paused.add(partition);
    options.pause([tp(partition)]);
    // A side partition that stops making progress must not hold telemetry back for good.
    timer ??= setInterval(
      () => {
        for (const p of [...paused]) if (!catchingUp(lags.get(p))) release(p);
      },
      Math.max(10, Math.floor(stallMs / 2)),
    );
    timer.unref();
  }

  return {
    sideBatch(partition, kind, next, highWatermark) {
      if (!catchingUp(progress(partition, kind, next, highWatermark))) release(partition);
    },
    sideStart(partition, kind, position, end) {
      if (catchingUp(progress(partition, kind, position, end))) hold(partition);
    },
    takeTelemetry(partition) {
      if (!catchingUp(lags.get(partition))) return true;
      hold(partition);
      return false;
    },
    reset() {
      lags.clear();
      paused.clear();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
    close() {
      this.reset();
    },
  };
}
