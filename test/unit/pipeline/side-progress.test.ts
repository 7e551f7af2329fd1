import { describe, expect, it } from 'vitest';
import {
  addCheckpoint,
  advancePosition,
  createSideProgress,
  pendingMachines,
  replayStartMs,
  type SideEnds,
} from '../../../src/pipeline/index.js';

const H = 3_600_000;
const ends = (errors: bigint, maintenance: bigint, machines: bigint): SideEnds => ({
  errors,
  maintenance,
  machines,
});
const upTo = (...pairs: [number, number][]) => new Map(pairs);

describe('per-machine side completeness (end-offset checkpoints, issue 9 item 4)', () => {
  it('settles at once for sparse or empty side partitions, without seeing any side event', () => {
    const p = createSideProgress();
    expect(addCheckpoint(p, ends(0n, 0n, 0n), upTo([1, 10 * H]))).toEqual(upTo([1, 10 * H]));
    expect(pendingMachines(p)).toBe(0);
  });

  it('makes no claim for a batch without accepted telemetry', () => {
    const p = createSideProgress();
    expect(addCheckpoint(p, ends(5n, 0n, 0n), new Map())).toBeUndefined();
    expect(p.pending).toHaveLength(0);
  });

  it('waits until every side topic is processed past its end offset', () => {
    const p = createSideProgress();
    expect(addCheckpoint(p, ends(7n, 3n, 0n), upTo([1, 50 * H]))).toBeUndefined();
    expect(advancePosition(p, 'errors', 5n)).toBeUndefined();
    expect(advancePosition(p, 'errors', 7n)).toBeUndefined();
    expect(advancePosition(p, 'maintenance', 3n)).toEqual(upTo([1, 50 * H]));
  });

  it('judges each machine by its own telemetry, not by the fastest machine of the partition', () => {
    const p = createSideProgress();
    // Machine 1 is 20 days ahead of machine 2 in the same partition.
    addCheckpoint(p, ends(10n, 0n, 0n), upTo([1, 500 * H], [2, 20 * H]));
    const done = advancePosition(p, 'errors', 10n);
    expect(done?.get(1)).toBe(500 * H);
    expect(done?.get(2)).toBe(20 * H);
  });

  it('keeps advancing while producers keep writing (never fully caught up)', () => {
    const p = createSideProgress();
    addCheckpoint(p, ends(10n, 0n, 0n), upTo([1, 20 * H]));
    addCheckpoint(p, ends(20n, 0n, 0n), upTo([1, 30 * H], [2, 25 * H]));
    expect(advancePosition(p, 'errors', 15n)).toEqual(upTo([1, 20 * H]));
    expect(advancePosition(p, 'errors', 21n)).toEqual(upTo([1, 30 * H], [2, 25 * H]));
  });

  it('merges a stale read into the pending checkpoint and keeps the larger bound per machine', () => {
    const p = createSideProgress();
    addCheckpoint(p, ends(10n, 4n, 0n), upTo([1, 20 * H]));
    addCheckpoint(p, ends(8n, 4n, 0n), upTo([1, 25 * H], [3, 5 * H]));
    addCheckpoint(p, ends(9n, 2n, 0n), upTo([1, 22 * H]));
    expect(p.pending).toHaveLength(1);
    advancePosition(p, 'maintenance', 4n);
    expect(advancePosition(p, 'errors', 10n)).toEqual(upTo([1, 25 * H], [3, 5 * H]));
  });

  it('keeps checkpoints in order when one topic end is behind the previous read', () => {
    const p = createSideProgress();
    addCheckpoint(p, ends(10n, 0n, 0n), upTo([1, 20 * H]));
    addCheckpoint(p, ends(5n, 3n, 0n), upTo([1, 30 * H]));
    expect(p.pending[1]?.ends).toEqual(ends(10n, 3n, 0n));
    expect(advancePosition(p, 'maintenance', 3n)).toBeUndefined();
    expect(advancePosition(p, 'errors', 10n)?.get(1)).toBe(30 * H);
  });
});

describe('replay start per input', () => {
  it.each([
    ['telemetry', 1_000 * H, 1_000 * H],
    ['errors', 1_000 * H, 1_000 * H],
    ['maintenance', 10_000 * H, 10_000 * H - 365 * 24 * H],
    ['machines', 1_000 * H, 0],
  ] as const)('%s', (kind, from, expected) => {
    expect(replayStartMs(kind, from)).toBe(expected);
  });

  it('replays everything from the earliest offset when nothing was written yet', () => {
    expect(replayStartMs('telemetry', undefined)).toBe(0);
  });
});
