import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/shared/errors.js';
import { createPacer } from '../../../src/simulate/pacer.js';

describe('createPacer', () => {
  it('never delays without speed or max rate', () => {
    const p = createPacer({ now: () => 0 });
    expect(p.active).toBe(false);
    expect(p.delayMs(1e12, 1e9)).toBe(0);
  });

  it('limits records per second', () => {
    let t = 1000;
    const p = createPacer({ maxRate: 100, now: () => t });
    expect(p.delayMs(undefined, 0)).toBe(0);
    // The 50th record is due 500 ms after the start.
    expect(p.delayMs(undefined, 50)).toBe(500);
    t = 1400;
    expect(p.delayMs(undefined, 50)).toBe(100);
    t = 2000;
    expect(p.delayMs(undefined, 50)).toBe(0);
  });

  it('maps event time to wall time at the given speed, history going at once', () => {
    let t = 0;
    const origin = Date.UTC(2026, 0, 1);
    const p = createPacer({ speed: 3600, eventTimeOriginMs: origin, now: () => t });
    expect(p.delayMs(origin - 86_400_000, 0)).toBe(0);
    // One event hour is one wall second at speed 3600.
    expect(p.delayMs(origin + 3_600_000, 10)).toBe(1000);
    t = 250;
    expect(p.delayMs(origin + 3_600_000, 10)).toBe(750);
  });

  it('takes the later of both limits, and the first ts as origin when none is given', () => {
    const p = createPacer({ speed: 1000, maxRate: 10, now: () => 0 });
    expect(p.delayMs(5_000_000, 0)).toBe(0);
    expect(p.delayMs(5_001_000, 1)).toBe(100);
    expect(p.delayMs(5_500_000, 1)).toBe(500);
  });

  it('refuses non-positive settings', () => {
    expect(() => createPacer({ speed: 0 })).toThrow(ConfigError);
    expect(() => createPacer({ maxRate: -1 })).toThrow(ConfigError);
  });
});
