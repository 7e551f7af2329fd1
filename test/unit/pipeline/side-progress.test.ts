import { describe, expect, it } from 'vitest';
import { createSideProgress, isCaughtUp, sideWatermarkMs } from '../../../src/pipeline/index.js';
import { replayStartMs } from '../../../src/pipeline/index.js';

const H = 3_600_000;

describe('side watermark of a partition', () => {
  it('is -Infinity until the end offsets are known', () => {
    expect(sideWatermarkMs(createSideProgress(), 2 * H)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('is +Infinity when every side partition is consumed to its end offset', () => {
    const p = createSideProgress();
    for (const s of Object.values(p)) {
      s.position = 5n;
      s.end = 5n;
    }
    expect(sideWatermarkMs(p, 2 * H)).toBe(Number.POSITIVE_INFINITY);
  });

  it('falls back to the lagging topic’s event time minus the lateness', () => {
    const p = createSideProgress();
    p.machines.position = 3n;
    p.machines.end = 3n;
    p.maintenance.position = 10n;
    p.maintenance.end = 10n;
    p.errors.position = 4n;
    p.errors.end = 6n;
    p.errors.maxTs = 100 * H;
    expect(isCaughtUp(p.errors)).toBe(false);
    expect(sideWatermarkMs(p, 2 * H)).toBe(98 * H);
  });

  it('treats unconsumed machine metadata as unknown: nothing closes', () => {
    const p = createSideProgress();
    p.errors.end = 0n;
    p.maintenance.end = 0n;
    p.machines.position = 0n;
    p.machines.end = 1n;
    expect(sideWatermarkMs(p, 0)).toBe(Number.NEGATIVE_INFINITY);
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
