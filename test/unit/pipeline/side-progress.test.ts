import { describe, expect, it } from 'vitest';
import {
  addCheckpoint,
  advancePosition,
  createSideProgress,
  replayStartMs,
  sideWatermarkMs,
} from '../../../src/pipeline/index.js';

const H = 3_600_000;

describe('side watermark of a partition (end-offset checkpoints)', () => {
  it('is -Infinity before any checkpoint', () => {
    expect(sideWatermarkMs(createSideProgress())).toBe(Number.NEGATIVE_INFINITY);
  });

  it('advances for a sparse or empty side partition without seeing any of its events', () => {
    const p = createSideProgress();
    for (const s of Object.values(p)) addCheckpoint(s, 0n, 10 * H);
    expect(sideWatermarkMs(p)).toBe(10 * H);
  });

  it('waits until the side partition is processed past the checkpoint end', () => {
    const p = createSideProgress();
    addCheckpoint(p.machines, 0n, 50 * H);
    addCheckpoint(p.maintenance, 0n, 50 * H);
    addCheckpoint(p.errors, 7n, 50 * H);
    expect(sideWatermarkMs(p)).toBe(Number.NEGATIVE_INFINITY);
    advancePosition(p.errors, 5n);
    expect(sideWatermarkMs(p)).toBe(Number.NEGATIVE_INFINITY);
    advancePosition(p.errors, 7n);
    expect(sideWatermarkMs(p)).toBe(50 * H);
  });

  it('keeps advancing while producers keep writing (never fully caught up)', () => {
    const p = createSideProgress();
    addCheckpoint(p.machines, 0n, 99 * H);
    addCheckpoint(p.maintenance, 0n, 99 * H);
    addCheckpoint(p.errors, 10n, 20 * H);
    addCheckpoint(p.errors, 20n, 30 * H);
    advancePosition(p.errors, 15n); // past the first checkpoint, the log has grown since
    expect(sideWatermarkMs(p)).toBe(20 * H);
    advancePosition(p.errors, 21n);
    expect(sideWatermarkMs(p)).toBe(30 * H);
  });

  it('never moves backwards on a stale end offset or a smaller upTo', () => {
    const p = createSideProgress();
    addCheckpoint(p.errors, 10n, 20 * H);
    addCheckpoint(p.errors, 8n, 25 * H); // read earlier: merged into the pending checkpoint
    advancePosition(p.errors, 10n);
    expect(p.errors.completeUpTo).toBe(25 * H);
    addCheckpoint(p.errors, 10n, 5 * H);
    expect(p.errors.completeUpTo).toBe(25 * H);
  });

  it('is the minimum over the three side topics', () => {
    const p = createSideProgress();
    addCheckpoint(p.errors, 0n, 30 * H);
    addCheckpoint(p.maintenance, 0n, 20 * H);
    addCheckpoint(p.machines, 0n, 40 * H);
    expect(sideWatermarkMs(p)).toBe(20 * H);
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
