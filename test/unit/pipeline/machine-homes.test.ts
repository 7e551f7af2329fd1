import { describe, expect, it } from 'vitest';
import { createMachineHomes } from '../../../src/pipeline/machine-homes.js';

describe('machine homes: partition numbers learned from the data (issue 9 item 5)', () => {
  it('takes the first telemetry partition as home and flags any other partition', () => {
    const h = createMachineHomes();
    expect(h.check(5, true, 2)).toEqual({ ok: true });
    expect(h.check(5, true, 2)).toEqual({ ok: true });
    expect(h.check(5, false, 2)).toEqual({ ok: true });
    expect(h.check(5, false, 0)).toEqual({ ok: false, expected: 2, basis: 'telemetry' });
    expect(h.check(5, true, 3)).toEqual({ ok: false, expected: 2, basis: 'telemetry' });
  });

  it('uses the homes seeded from written predictions before anything is seen', () => {
    const h = createMachineHomes();
    h.seed(new Map([[7, 1]]));
    expect(h.check(7, false, 1)).toEqual({ ok: true });
    expect(h.check(7, false, 3)).toEqual({ ok: false, expected: 1, basis: 'telemetry' });
    expect(h.check(7, true, 0)).toEqual({ ok: false, expected: 1, basis: 'telemetry' });
  });

  it('accepts side events before the first telemetry, and flags side events split over partitions', () => {
    const h = createMachineHomes();
    expect(h.check(9, false, 1)).toEqual({ ok: true });
    expect(h.check(9, false, 1)).toEqual({ ok: true });
    expect(h.check(9, false, 2)).toEqual({ ok: false, expected: 1, basis: 'side events' });
  });

  it('reports a conflict when telemetry arrives on another partition than earlier side events', () => {
    const h = createMachineHomes();
    h.check(4, false, 3);
    expect(h.check(4, true, 0)).toEqual({ ok: true, conflictWith: 3 });
    // From then on the telemetry partition is the home.
    expect(h.check(4, false, 3)).toEqual({ ok: false, expected: 0, basis: 'telemetry' });
    expect(h.check(4, true, 0)).toEqual({ ok: true });
  });

  it('a seed overrides what side events suggested', () => {
    const h = createMachineHomes();
    h.check(8, false, 3);
    h.seed(new Map([[8, 0]]));
    expect(h.check(8, false, 3)).toEqual({ ok: false, expected: 0, basis: 'telemetry' });
    expect(h.size).toBe(1);
  });
});
