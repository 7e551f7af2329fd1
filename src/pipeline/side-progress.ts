/**
 * How far the side inputs (errors, maintenance, machines) of one partition are known to be complete.
 * A side partition is complete "up to forever" when the engine has consumed everything in it (position ≥
 * log end offset fetched after the telemetry that wants to close a bucket); otherwise up to its largest
 * event time minus the allowed lateness (machines have no event time: not caught up means unknown). The
 * side watermark of the partition is the minimum over the three, and a bucket closes only below it.
 */
export const SIDE_KINDS = ['errors', 'maintenance', 'machines'] as const;
export type SideKind = (typeof SIDE_KINDS)[number];

export interface SidePartitionState {
  /** Next offset the engine will process. */
  position: bigint;
  /** Log end offset last seen; undefined until known (then not caught up). */
  end: bigint | undefined;
  /** Largest event time processed, -Infinity before the first. */
  maxTs: number;
}

export type SideProgress = Record<SideKind, SidePartitionState>;

export function createSideProgress(): SideProgress {
  const fresh = (): SidePartitionState => ({ position: 0n, end: undefined, maxTs: Number.NEGATIVE_INFINITY });
  return { errors: fresh(), maintenance: fresh(), machines: fresh() };
}

export function isCaughtUp(s: SidePartitionState): boolean {
  return s.end !== undefined && s.position >= s.end;
}

export function sideWatermarkMs(progress: SideProgress, allowedLatenessMs: number): number {
  let wm = Number.POSITIVE_INFINITY;
  for (const kind of SIDE_KINDS) {
    const s = progress[kind];
    if (isCaughtUp(s)) continue;
    const complete = kind === 'machines' ? Number.NEGATIVE_INFINITY : s.maxTs - allowedLatenessMs;
    if (complete < wm) wm = complete;
  }
  return wm;
}
