import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/shared/errors.js';
import { DAY_MS, HOUR_MS, type PdmEvent } from '../../../src/shared/records.js';
import { createFleet } from '../../../src/simulate/fleet.js';

const RANK = { machines: -1, telemetry: 0, errors: 1, maintenance: 2, failures: 3 } as const;
const tsOf = (e: PdmEvent): number => (e.kind === 'machines' ? Number.NEGATIVE_INFINITY : e.record.ts);

describe('createFleet', () => {
  it('is deterministic: same seed ⇒ identical records, another seed ⇒ different records', () => {
    const a = [...createFleet({ machines: 4, days: 10, seed: 7 }).events()];
    const b = [...createFleet({ machines: 4, days: 10, seed: 7 }).events()];
    const c = [...createFleet({ machines: 4, days: 10, seed: 8 }).events()];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // A second iteration of the same fleet object starts over and gives the same records.
    const f = createFleet({ machines: 2, days: 3, seed: 7 });
    expect([...f.events()]).toEqual([...f.events()]);
  });

  it('keeps machine m the same whatever the fleet size', () => {
    const small = [...createFleet({ machines: 2, days: 20, seed: 3 }).events()];
    const large = [...createFleet({ machines: 5, days: 20, seed: 3 }).events()];
    const firstTwo = (es: PdmEvent[]): PdmEvent[] => es.filter((e) => e.record.machineId <= 2);
    expect(firstTwo(large)).toEqual(firstTwo(small));
  });

  it('emits machines first, then non-decreasing ts with telemetry, errors, maintenance, failures on ties', () => {
    const events = [...createFleet({ machines: 10, days: 60, seed: 42 }).events()];
    expect(events.slice(0, 10).map((e) => e.kind)).toEqual(new Array(10).fill('machines'));
    for (let i = 1; i < events.length; i++) {
      const p = events[i - 1] as PdmEvent;
      const e = events[i] as PdmEvent;
      const order = tsOf(p) - tsOf(e) || RANK[p.kind] - RANK[e.kind];
      if (order > 0) expect.fail(`event ${i} out of order: ${JSON.stringify(p)} then ${JSON.stringify(e)}`);
    }
  });

  it('emits hourly telemetry for every machine and tick, and reports the count in advance', () => {
    const startMs = Date.UTC(2026, 0, 1);
    const fleet = createFleet({ machines: 3, days: 2, startMs, intervalMinutes: 30, seed: 1 });
    const tel = [...fleet.events()].filter((e) => e.kind === 'telemetry');
    expect(tel).toHaveLength(3 * 96);
    expect(fleet.telemetryCount).toBe(3 * 96);
    expect(tel[0]?.record.ts).toBe(startMs);
    expect(tel.at(-1)?.record.ts).toBe(startMs + 2 * DAY_MS - 30 * 60_000);
  });

  it('has maintenance history before the first telemetry and a replacement at each failure', () => {
    const fleet = createFleet({ machines: 20, days: 120, seed: 42 });
    const events = [...fleet.events()];
    const start = fleet.clock.startMs;
    const maint = events.filter((e) => e.kind === 'maintenance');
    expect(maint.filter((e) => e.record.ts < start - 60 * DAY_MS).length).toBeGreaterThan(20);
    const failures = events.filter((e) => e.kind === 'failures');
    expect(failures.map((e) => e.record)).toEqual(fleet.failures);
    for (const f of failures) {
      const replaced = maint.some(
        (m) =>
          m.record.machineId === f.record.machineId &&
          m.record.ts === f.record.ts &&
          m.record.comp === f.record.failure,
      );
      expect(replaced).toBe(true);
    }
    // "Dozens of failures" for 20 machines × 120 days (MTBF 70–130 days per component ⇒ ~100 expected).
    expect(failures.length).toBeGreaterThanOrEqual(50);
    expect(failures.length).toBeLessThanOrEqual(160);
    // Every failure comes after at least two days of telemetry, so its degradation is observable.
    expect(Math.min(...failures.map((f) => f.record.ts))).toBeGreaterThanOrEqual(start + 2 * DAY_MS);
  });

  it('imitates the reference statistics', () => {
    const events = [...createFleet({ machines: 30, days: 60, seed: 5 }).events()];
    const tel = events.flatMap((e) => (e.kind === 'telemetry' ? [e.record] : []));
    const stats = (f: (r: (typeof tel)[number]) => number): { mean: number; sd: number } => {
      const xs = tel.map(f);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean, sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) };
    };
    const reference = {
      volt: [170.8, 15.5],
      rotate: [446.6, 52.7],
      pressure: [100.9, 11.0],
      vibration: [40.4, 5.4],
    } as const;
    for (const [sensor, [mean, sd]] of Object.entries(reference)) {
      const s = stats((r) => r[sensor as keyof typeof reference]);
      expect(Math.abs(s.mean - mean) / mean).toBeLessThan(0.02);
      expect(Math.abs(s.sd - sd) / sd).toBeLessThan(0.1);
    }
    const machines = events.flatMap((e) => (e.kind === 'machines' ? [e.record] : []));
    expect(machines.every((m) => m.age >= 0 && m.age <= 20 && /^model[1-4]$/.test(m.model))).toBe(true);
    const errorTypes = new Set(events.flatMap((e) => (e.kind === 'errors' ? [e.record.errorId] : [])));
    expect([...errorTypes].sort()).toEqual(['error1', 'error2', 'error3', 'error4', 'error5']);
    expect(tel.every((r) => r.ts % HOUR_MS === 0)).toBe(true);
  });

  it('refuses impossible options with a ConfigError', () => {
    expect(() => createFleet({ machines: 0 })).toThrow(ConfigError);
    expect(() => createFleet({ days: -1 })).toThrow(ConfigError);
    expect(() => createFleet({ intervalMinutes: 0 })).toThrow(ConfigError);
    expect(() => createFleet({ seed: 1.5 })).toThrow(ConfigError);
    expect(() => createFleet({ startMs: Number.NaN })).toThrow(ConfigError);
  });
});
