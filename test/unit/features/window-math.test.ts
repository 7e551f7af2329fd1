import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MOMENTS_LENGTH,
  SLOT_STRIDE,
  addReading,
  ceilToBucket,
  floorToBucket,
  mergeSlot,
  sampleStd,
  slotOf,
  windowGeometry,
} from '../../../src/features/window-math.js';
import { H } from './helpers.js';

function twoPass(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { mean, std: xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0 };
}

describe('slot and bucket arithmetic', () => {
  it.each([
    { ts: 0, slot: 0 },
    { ts: 1, slot: 1 },
    { ts: 12 * H, slot: 1 },
    { ts: 12 * H + 1, slot: 2 },
    { ts: -1, slot: -0 },
  ])('slotOf($ts) with 12 h slots = $slot (slots are left-open, right-closed)', ({ ts, slot }) => {
    expect(slotOf(ts, 12 * H)).toBe(slot);
  });

  it.each([
    { ts: 12 * H, ceil: 12 * H, floor: 12 * H },
    { ts: 12 * H + 1, ceil: 24 * H, floor: 12 * H },
    { ts: 12 * H - 1, ceil: 12 * H, floor: 0 },
    { ts: Number.NEGATIVE_INFINITY, ceil: Number.NEGATIVE_INFINITY, floor: Number.NEGATIVE_INFINITY },
  ])('ceil/floor to 12 h buckets of $ts', ({ ts, ceil, floor }) => {
    expect(ceilToBucket(ts, 12 * H)).toBe(ceil);
    expect(floorToBucket(ts, 12 * H)).toBe(floor);
  });

  it('windows are whole numbers of slots', () => {
    expect(windowGeometry(12 * H, 0).windowSlots).toEqual([1, 2, 3]);
    expect(windowGeometry(H, 0).windowSlots).toEqual([12, 24, 36]);
    expect(windowGeometry(8 * H, 0).windowSlots).toEqual([3, 6, 9]);
  });
});

describe('Welford per slot + Chan merge', () => {
  it('std of one value is 0', () => {
    expect(sampleStd(0, 1)).toBe(0);
    expect(sampleStd(8, 2)).toBeCloseTo(Math.sqrt(8), 15);
  });

  it('equals a two-pass mean/std for any split into slots (≤ 1e-9 relative)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 0, maxLength: 30 }), {
          minLength: 1,
          maxLength: 6,
        }),
        (groups) => {
          const all = groups.flat();
          fc.pre(all.length > 0);
          const slots = new Float64Array(groups.length * SLOT_STRIDE);
          groups.forEach((g, i) => {
            for (const x of g) addReading(slots, i * SLOT_STRIDE, x, x * 2, 1000 - x, x / 3);
          });
          const acc = new Float64Array(MOMENTS_LENGTH);
          for (let i = groups.length - 1; i >= 0; i--) mergeSlot(acc, slots, i * SLOT_STRIDE);
          expect(acc[0]).toBe(all.length);
          const sensors = [all, all.map((x) => x * 2), all.map((x) => 1000 - x), all.map((x) => x / 3)];
          sensors.forEach((xs, s) => {
            const ref = twoPass(xs);
            const mean = acc[1 + 2 * s] as number;
            const std = sampleStd(acc[2 + 2 * s] as number, all.length);
            expect(Math.abs(mean - ref.mean) / Math.max(1, Math.abs(ref.mean))).toBeLessThanOrEqual(1e-9);
            expect(Math.abs(std - ref.std) / Math.max(1, ref.std)).toBeLessThanOrEqual(1e-9);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is stable for large offsets with tiny spread (no catastrophic cancellation)', () => {
    const slots = new Float64Array(2 * SLOT_STRIDE);
    const xs = [1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3, 1e9 + 0.4];
    for (const x of xs.slice(0, 2)) addReading(slots, 0, x, x, x, x);
    for (const x of xs.slice(2)) addReading(slots, SLOT_STRIDE, x, x, x, x);
    const acc = new Float64Array(MOMENTS_LENGTH);
    mergeSlot(acc, slots, 0);
    mergeSlot(acc, slots, SLOT_STRIDE);
    expect(sampleStd(acc[2] as number, 4)).toBeCloseTo(twoPass(xs).std, 6);
  });
});
