import { describe, expect, it } from 'vitest';
import { firstValueFrom, from, of, toArray, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  createFeatureEngine,
  featureRows,
  sideWatermark,
  type FeatureBatch,
  type FeatureInput,
  type FeatureRow,
} from '../../../src/features/index.js';
import { PdmError } from '../../../src/shared/errors.js';
import type { PdmEvent } from '../../../src/shared/records.js';
import {
  CONFIG,
  D,
  H,
  T0,
  err,
  maint,
  maxRowDifference,
  meta,
  runBatch,
  silentKeys,
  tel,
} from './helpers.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/** Expected row, computed by a batch run over the same events. */
function batchRow(events: readonly PdmEvent[], bucketMs: number): FeatureRow {
  const row = runBatch(events).rows.find((r) => r.bucketMs === bucketMs);
  if (row === undefined) throw new Error(`no batch row at ${bucketMs}`);
  return row;
}

describe('featureRows operator (marbles)', () => {
  const a = [tel(1, T0 + H, 170), tel(1, T0 + 14 * H, 180), err(1, T0 + 2 * H, 'error3')];
  const c = [tel(1, T0 + 5 * H, 999)];
  const d = [tel(1, T0 + 15 * H, 175)];
  const e = [tel(1, T0 + 26 * H, 172)];
  const all = [...a, ...d, ...e];
  const inputs: Record<string, FeatureInput> = { a, b: sideWatermark(T0 + 12 * H), c, d, e };

  it('emits one batch per input that closed something or had outcomes, nothing otherwise', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const engine = createFeatureEngine(CONFIG);
      const source = cold<FeatureInput>('a-b-c-d-e-|', inputs);
      const expected: Record<string, FeatureBatch> = {
        x: { rows: [batchRow(all, T0 + 12 * H)], silent: [], outcomes: [], input: null },
        y: {
          rows: [],
          silent: [],
          outcomes: [
            {
              kind: 'LATE_EVENT',
              index: 0,
              recordKind: 'telemetry',
              machineId: 1,
              message: `telemetry ts ${T0 + 5 * H} is at or before the last closed bucket ${T0 + 12 * H} of machine 1`,
            },
          ],
          input: c,
        },
      };
      expectObservable(source.pipe(featureRows(engine))).toBe('--x-y-----|', expected);
    });
  });

  it('closes by the end-of-input rule on completion when asked to', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const engine = createFeatureEngine(CONFIG);
      const source = cold<FeatureInput>('a-b-c-d-e-|', inputs);
      const x = { rows: [batchRow(all, T0 + 12 * H)], silent: [], outcomes: [], input: null };
      const y = {
        rows: [],
        silent: [],
        outcomes: [expect.objectContaining({ kind: 'LATE_EVENT' })],
        input: c,
      };
      const z = { rows: [batchRow(all, T0 + 24 * H)], silent: [], outcomes: [], input: null };
      expectObservable(source.pipe(featureRows(engine, { finishOnComplete: true }))).toBe('--x-y-----(z|)', {
        x,
        y,
        z,
      });
    });
  });

  it('forwards silent runs and source errors', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
      const gap = [tel(2, T0 + H), tel(2, T0 + 3 * D + 2 * H)];
      const source = cold<FeatureInput>('g-#', { g: gap }, new Error('broker gone'));
      expectObservable(source.pipe(featureRows(engine))).toBe(
        'g-#',
        {
          g: {
            rows: [expect.objectContaining({ machineId: 2, bucketMs: T0 + 12 * H })],
            silent: [{ machineId: 2, fromBucketMs: T0 + D, toBucketMs: T0 + 3 * D, buckets: 5 }],
            outcomes: [],
            input: gap,
          },
        },
        new Error('broker gone'),
      );
    });
  });

  it('turns an engine failure into an error notification', async () => {
    const engine = createFeatureEngine(CONFIG);
    engine.close();
    await expect(
      firstValueFrom(of<FeatureInput>([tel(1, T0)]).pipe(featureRows(engine))),
    ).rejects.toBeInstanceOf(PdmError);
  });
});

/** A small fleet: 4 machines, 5 days hourly, errors, replacements, metadata, a gap, a duplicate. */
function fleet(): PdmEvent[] {
  const events: PdmEvent[] = [meta(1, 'model1', 4), meta(2, 'model3', 12), meta(4, 'model2', 0)];
  for (let m = 1; m <= 4; m++) {
    for (let h = 0; h < 5 * 24; h++) {
      if (m === 3 && h > 30 && h < 70) continue;
      const ts = T0 + h * H + m * 60_000;
      events.push(
        tel(m, ts, 150 + ((h * 7 + m) % 40), 400 + ((h * 13) % 90), 90 + (h % 20), 35 + ((h * m) % 11)),
      );
      if ((h + m) % 9 === 0) events.push(err(m, ts + 1000, `error${1 + ((h + m) % 5)}`));
      if ((h + 2 * m) % 41 === 0) events.push(maint(m, ts - 5 * D, `comp${1 + (h % 4)}`));
    }
  }
  const original = events.find(
    (e) => e.kind === 'telemetry' && e.record.machineId === 2 && e.record.ts > T0 + 10 * H,
  );
  if (original !== undefined) events.push(original);
  return events;
}

describe('streaming through the operator equals batch', () => {
  it.each([{ seed: 1 }, { seed: 2 }, { seed: 3 }])(
    'jittered arrival (seed $seed) with side-watermark ticks',
    async ({ seed }) => {
      const events = fleet();
      const expected = runBatch(events);
      // Deterministic jitter < lateness (2 h), metadata first, side inputs first at equal arrival time.
      let state = seed;
      const rnd = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const ordered = events
        .map((e, i) => ({
          e,
          i,
          key: e.kind === 'machines' ? -Infinity : e.record.ts + Math.floor(rnd() * CONFIG.allowedLatenessMs),
        }))
        .sort(
          (x, y) =>
            x.key - y.key || Number(x.e.kind === 'telemetry') - Number(y.e.kind === 'telemetry') || x.i - y.i,
        );
      // Side inputs are complete up to just before the earliest side event not delivered yet.
      const pendingSideTs: number[] = new Array<number>(ordered.length + 1).fill(Infinity);
      for (let i = ordered.length - 1; i >= 0; i--) {
        const x = ordered[i];
        const ts =
          x === undefined || x.e.kind === 'telemetry' || x.e.kind === 'machines' ? Infinity : x.e.record.ts;
        pendingSideTs[i] = Math.min(ts, pendingSideTs[i + 1] ?? Infinity);
      }
      const inputs: FeatureInput[] = [];
      for (let i = 0; i < ordered.length;) {
        const n = 1 + Math.floor(rnd() * 40);
        inputs.push(ordered.slice(i, i + n).map((x) => x.e));
        i += n;
        inputs.push(sideWatermark((pendingSideTs[Math.min(i, ordered.length)] ?? Infinity) - 1));
      }
      const engine = createFeatureEngine(CONFIG);
      const source: Observable<FeatureInput> = from(inputs);
      const batches = await firstValueFrom(
        source.pipe(featureRows(engine, { finishOnComplete: true }), toArray()),
      );
      const rows = batches.flatMap((b) => b.rows);
      const silent = batches.flatMap((b) => b.silent);
      expect(batches.flatMap((b) => b.outcomes).map((o) => o.kind)).toEqual(['DUPLICATE']);
      expect(rows.length).toBeGreaterThan(30);
      expect(maxRowDifference(rows, expected.rows)).toBeLessThanOrEqual(1e-9);
      expect(silentKeys(silent, CONFIG.bucketMs)).toEqual(silentKeys(expected.silent, CONFIG.bucketMs));
      expect(silent.length).toBeGreaterThan(0);
    },
  );
});
