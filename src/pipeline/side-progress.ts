/**
 * How far the side inputs (errors, maintenance, machines) of one partition are known to be complete, per
 * machine (FEATURES.md revision 2: lateness is judged strictly per machine).
 *
 * The producer contract is per machine: a side event with ts ≤ T − allowed lateness is produced before
 * that machine's telemetry with ts T. So after a telemetry batch arrives (plus a grace period), the engine
 * reads the side topics' log end offsets and records a checkpoint: "for each machine m of this batch,
 * every side event of m with ts ≤ maxTs(m) − lateness is before these end offsets". Once the engine has
 * processed every side partition past its end offset, the checkpoint settles and those machines' side
 * inputs are complete up to their own bound. A machine that is behind the others of its partition is
 * judged by its own telemetry, never by the partition's fastest machine (which made its side events
 * late before revision 2). This works for sparse side topics (no side event needs to be seen) and while
 * producers keep writing (the engine never needs to be fully caught up).
 */
export const SIDE_KINDS = ['errors', 'maintenance', 'machines'] as const;
export type SideKind = (typeof SIDE_KINDS)[number];

export type SideEnds = Record<SideKind, bigint>;

interface Checkpoint {
  readonly ends: SideEnds;
  /** machineId → event time up to which that machine's side events are before `ends`. */
  readonly upTo: Map<number, number>;
}

export interface SideProgress {
  /** Next offset the engine will process, per side topic. */
  readonly position: Record<SideKind, bigint>;
  /** Checkpoints not yet settled, in non-decreasing `ends` order. */
  readonly pending: Checkpoint[];
}

export function createSideProgress(): SideProgress {
  return { position: { errors: 0n, maintenance: 0n, machines: 0n }, pending: [] };
}

function passed(p: SideProgress, ends: SideEnds): boolean {
  for (const k of SIDE_KINDS) if (p.position[k] < ends[k]) return false;
  return true;
}

/** Settles every checkpoint the positions passed; returns what became complete (machineId → upTo). */
function settle(p: SideProgress): Map<number, number> | undefined {
  let out: Map<number, number> | undefined;
  while (p.pending.length > 0 && passed(p, (p.pending[0] as Checkpoint).ends)) {
    const cp = p.pending.shift() as Checkpoint;
    if (out === undefined) {
      out = cp.upTo;
    } else {
      for (const [m, t] of cp.upTo) if (t > (out.get(m) ?? Number.NEGATIVE_INFINITY)) out.set(m, t);
    }
  }
  return out;
}

/**
 * Records "side events of machine m with ts ≤ upTo.get(m) are before `ends`"; returns what is complete
 * already (when the side partitions are processed past `ends`).
 */
export function addCheckpoint(
  p: SideProgress,
  ends: SideEnds,
  upTo: ReadonlyMap<number, number>,
): Map<number, number> | undefined {
  if (upTo.size === 0) return undefined;
  const last = p.pending[p.pending.length - 1];
  // End offsets only grow; a checkpoint whose ends are not beyond the last one's settles with it (a stale
  // read can only make a weaker claim), so merge instead of queueing one per batch.
  if (last !== undefined && SIDE_KINDS.every((k) => ends[k] <= last.ends[k])) {
    for (const [m, t] of upTo) if (t > (last.upTo.get(m) ?? Number.NEGATIVE_INFINITY)) last.upTo.set(m, t);
  } else {
    const ordered: SideEnds = { ...ends };
    if (last !== undefined)
      for (const k of SIDE_KINDS) if (ordered[k] < last.ends[k]) ordered[k] = last.ends[k];
    p.pending.push({ ends: ordered, upTo: new Map(upTo) });
  }
  return settle(p);
}

/** The engine processed side topic `kind` up to (excluding) `position`; returns what became complete. */
export function advancePosition(
  p: SideProgress,
  kind: SideKind,
  position: bigint,
): Map<number, number> | undefined {
  if (position > p.position[kind]) p.position[kind] = position;
  return settle(p);
}

/** Machines waiting for side completeness (for metrics and tests). */
export function pendingMachines(p: SideProgress): number {
  let n = 0;
  for (const cp of p.pending) n += cp.upTo.size;
  return n;
}
