import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PdmEvent } from '../../../src/shared/records.js';
import { createSortedStore } from '../../../src/simulate/csv-sorted-store.js';

const COMPS = ['comp1', 'comp2', 'comp3', 'comp4'];

describe('createSortedStore', () => {
  it('replays any row order as a stable sort by ts (file order among equal ts)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ts: fc.integer({ min: -5, max: 20 }), c: fc.integer({ min: 0, max: 3 }) }), {
          maxLength: 300,
        }),
        (rows) => {
          const store = createSortedStore('maintenance', COMPS);
          // machineId carries the row's file position so that stability is visible in the output.
          const events: PdmEvent[] = rows.map((r, i) => ({
            kind: 'maintenance',
            record: { machineId: i, ts: r.ts * 3_600_000, comp: COMPS[r.c] ?? 'comp1' },
          }));
          for (const e of events) store.add(e);
          expect(store.size).toBe(rows.length);
          const expected = [...events].sort((a, b) =>
            a.kind === 'machines' || b.kind === 'machines' ? 0 : a.record.ts - b.record.ts,
          );
          expect([...store.sortedEvents()]).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('merges machine-major telemetry runs back into time order, values intact', () => {
    const store = createSortedStore('telemetry', []);
    const rows: PdmEvent[] = [];
    for (let m = 1; m <= 3; m++) {
      for (let h = 0; h < 4; h++) {
        rows.push({
          kind: 'telemetry',
          record: {
            machineId: m,
            ts: h * 3_600_000,
            volt: m + h / 10,
            rotate: Number.NaN,
            pressure: -m,
            vibration: Infinity,
          },
        });
      }
    }
    for (const e of rows) store.add(e);
    const out = [...store.sortedEvents()];
    expect(
      out.map((e) => `${e.record.machineId}@${e.kind === 'machines' ? '' : e.record.ts / 3_600_000}`),
    ).toEqual(['1@0', '2@0', '3@0', '1@1', '2@1', '3@1', '1@2', '2@2', '3@2', '1@3', '2@3', '3@3']);
    expect(out[4]).toEqual(rows[5]);
  });

  it('grows past its initial capacity', () => {
    const store = createSortedStore('errors', ['error1', 'error2']);
    for (let i = 0; i < 10_000; i++) {
      store.add({
        kind: 'errors',
        record: { machineId: i % 7, ts: (10_000 - i) * 1000, errorId: i % 2 ? 'error2' : 'error1' },
      });
    }
    const out = [...store.sortedEvents()];
    expect(out).toHaveLength(10_000);
    expect(out[0]).toEqual({ kind: 'errors', record: { machineId: 9_999 % 7, ts: 1000, errorId: 'error2' } });
  });
});
