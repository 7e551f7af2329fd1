import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, type TelemetryRecord } from '../../../src/shared/records.js';
import { createFleet } from '../../../src/simulate/fleet.js';

/**
 * The degradation planted before failures must be there, in the output records alone (no access to the
 * plan): for each component, the mean of its drifting sensor over the 48 h before its failures against the
 * healthy mean (telemetry outside every 8-day pre-failure window).
 *
 * Margin: 0.5 × the reference data set's sd of that sensor. The planted drift reaches 1.5–3 noise sds at the
 * failure along an x^1.5 ramp of 2–8 days, i.e. ~1.3 sd on average over the last 48 h, so 0.5 sd leaves ~2.5×
 * headroom, while the sampling error of the 48 h means (≥ 15 failures × 48 readings per component, plus
 * per-machine offsets of ~0.14 sd) is below 0.1 sd. A fleet without the drift fails it by a wide margin.
 */
const SENSOR_OF = { comp1: 'volt', comp2: 'rotate', comp3: 'pressure', comp4: 'vibration' } as const;
const DIRECTION = { comp1: 1, comp2: -1, comp3: 1, comp4: 1 } as const;
const REFERENCE_SD = { volt: 15.5, rotate: 52.7, pressure: 11.0, vibration: 5.4 } as const;
const MARGIN_SD = 0.5;

describe('planted degradation', () => {
  const fleet = createFleet({ machines: 20, days: 120, seed: 42 });
  const events = [...fleet.events()];
  const telemetry = new Map<number, TelemetryRecord[]>();
  for (const e of events) {
    if (e.kind !== 'telemetry') continue;
    const rows = telemetry.get(e.record.machineId) ?? [];
    rows.push(e.record);
    telemetry.set(e.record.machineId, rows);
  }
  const failures = events.flatMap((e) => (e.kind === 'failures' ? [e.record] : []));
  const nearFailure = (r: TelemetryRecord): boolean =>
    failures.some((f) => f.machineId === r.machineId && r.ts > f.ts - 8 * DAY_MS && r.ts <= f.ts);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  for (const comp of ['comp1', 'comp2', 'comp3', 'comp4'] as const) {
    it(`${comp}: ${SENSOR_OF[comp]} in the 48 h before a failure differs from healthy by ≥ ${MARGIN_SD} sd`, () => {
      const sensor = SENSOR_OF[comp];
      const ofComp = failures.filter((f) => f.failure === comp);
      expect(ofComp.length).toBeGreaterThanOrEqual(10);
      const healthy = mean(
        [...telemetry.values()]
          .flat()
          .filter((r) => !nearFailure(r))
          .map((r) => r[sensor]),
      );
      const before = mean(
        ofComp.flatMap((f) =>
          (telemetry.get(f.machineId) ?? [])
            .filter((r) => r.ts > f.ts - 48 * HOUR_MS && r.ts <= f.ts)
            .map((r) => r[sensor]),
        ),
      );
      const shiftSd = (DIRECTION[comp] * (before - healthy)) / REFERENCE_SD[sensor];
      expect(shiftSd).toBeGreaterThan(MARGIN_SD);
    });
  }

  it('is specific: before comp1 failures rotate (comp2’s sensor) does not move by the margin', () => {
    const ofComp1 = failures.filter((f) => f.failure === 'comp1');
    const rotateBefore = mean(
      ofComp1.flatMap((f) =>
        (telemetry.get(f.machineId) ?? [])
          .filter((r) => r.ts > f.ts - 48 * HOUR_MS && r.ts <= f.ts)
          .map((r) => r.rotate),
      ),
    );
    const healthy = mean(
      [...telemetry.values()]
        .flat()
        .filter((r) => !nearFailure(r))
        .map((r) => r.rotate),
    );
    expect(Math.abs(rotateBefore - healthy) / REFERENCE_SD.rotate).toBeLessThan(MARGIN_SD / 2);
  });

  it('raises the related error type in the days before failures', () => {
    // comp4 degradation raises error5, the rarest error type at baseline.
    const errors5 = events.flatMap((e) =>
      e.kind === 'errors' && e.record.errorId === 'error5' ? [e.record] : [],
    );
    const comp4 = failures.filter((f) => f.failure === 'comp4');
    const inWindow = errors5.filter((e) =>
      comp4.some((f) => f.machineId === e.machineId && e.ts > f.ts - 3 * DAY_MS && e.ts <= f.ts),
    ).length;
    const perFailureDay = inWindow / (comp4.length * 3);
    const baselinePerMachineDay = (errors5.length - inWindow) / (20 * 120);
    expect(perFailureDay).toBeGreaterThan(5 * baselinePerMachineDay);
  });
});
