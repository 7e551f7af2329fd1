/**
 * How far the side inputs (errors, maintenance, machines) of one partition are known to be complete.
 *
 * After a telemetry batch arrives (plus a grace period), the engine reads the side topics' log end offsets
 * and records a checkpoint per side partition: "every side event with ts ≤ upTo is before offset `end`",
 * where upTo is the partition's largest telemetry event time minus the allowed lateness — producers send
 * side events no later than that relative to telemetry (the spec's lateness contract). Once the engine
 * has processed a side partition past `end`, that partition is complete up to `upTo`. The side watermark
 * of the partition is the minimum over the three side topics, and a bucket closes only at or below it.
 * This works for sparse side topics (no need to see a side event to advance) and while producers keep
 * writing (no need to ever be fully caught up).
 */
export const SIDE_KINDS = ['errors', 'maintenance', 'machines'] as const;
export type SideKind = (typeof SIDE_KINDS)[number];

export interface SidePartitionState {
  /** Next offset the engine will process. */
  position: bigint;
  /** Checkpoints not yet passed, in increasing `end` order. */
  readonly pending: { end: bigint; upTo: number }[];
  /** Event time up to which this side partition is complete. */
  completeUpTo: number;
}

export type SideProgress = Record<SideKind, SidePartitionState>;

export function createSideProgress(): SideProgress {
  const fresh = (): SidePartitionState => ({
    position: 0n,
    pending: [],
    completeUpTo: Number.NEGATIVE_INFINITY,
  });
  return { errors: fresh(), maintenance: fresh(), machines: fresh() };
}

function settle(s: SidePartitionState): void {
  while (s.pending.length > 0 && (s.pending[0]?.end ?? 0n) <= s.position) {
    const cp = s.pending.shift();
    if (cp !== undefined && cp.upTo > s.completeUpTo) s.completeUpTo = cp.upTo;
  }
}

/** Records "side events with ts ≤ upTo are before offset `end`". */
export function addCheckpoint(s: SidePartitionState, end: bigint, upTo: number): void {
  const last = s.pending[s.pending.length - 1];
  // Checkpoints only ever grow; a stale end offset (read earlier) can only make a weaker claim.
  if (last !== undefined && end <= last.end) {
    if (upTo > last.upTo) last.upTo = upTo;
  } else {
    s.pending.push({ end, upTo });
  }
  settle(s);
}

/** The engine processed the side partition up to (excluding) `position`. */
export function advancePosition(s: SidePartitionState, position: bigint): void {
  if (position > s.position) s.position = position;
  settle(s);
}

export function sideWatermarkMs(progress: SideProgress): number {
  let wm = Number.POSITIVE_INFINITY;
  for (const kind of SIDE_KINDS) wm = Math.min(wm, progress[kind].completeUpTo);
  return wm;
}
