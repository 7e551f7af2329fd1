/**
 * Issue 4: "If streaming features differ from the features the model was trained on, every prediction is
 * wrong without anyone noticing." The training set comes from `buildFeatures` (what `features build` runs);
 * the scores come from the streaming feature engine fed as the pipeline feeds it, with telemetry and side
 * inputs on separate topics and the side watermark trailing. Both must give the same rows.
 */
import { describe, expect, it } from 'vitest';
import {
  buildFeatures,
  createFeatureEngine,
  type EventOutcome,
  type FeatureRow,
} from '../../../src/features/index.js';
import type { PdmEvent } from '../../../src/shared/records.js';
import { CONFIG, D, H, T0, err, fail, maint, maxRowDifference, meta, tel } from './helpers.js';

/** 6 machines, 8 days hourly (one with an outage), errors, replacements, failures; reader order. */
function fleet(): PdmEvent[] {
  const timed: PdmEvent[] = [];
  for (let m = 1; m <= 6; m++) {
    for (let h = 0; h < 8 * 24; h++) {
      if (m === 4 && h > 40 && h < 100) continue;
      const ts = T0 + h * H;
      timed.push(
        tel(m, ts, 150 + ((h * m * 7) % 41), 400 + ((h * 11 + m) % 70), 90 + ((h + m) % 17), 35 + (h % 7)),
      );
      if ((h + m) % 13 === 0) timed.push(err(m, ts + 60_000, `error${1 + ((h * m) % 5)}`));
      if ((h + m) % 61 === 0) timed.push(maint(m, ts + 120_000, `comp${1 + (m % 4)}`));
    }
    timed.push(fail(m, T0 + (3 + m) * D + 5 * H, `comp${1 + ((m + 1) % 4)}`));
  }
  const ts = (e: PdmEvent): number => (e.kind === 'machines' ? -Infinity : e.record.ts);
  timed.sort((a, b) => ts(a) - ts(b));
  return [meta(1, 'model1', 2), meta(2, 'model2', 9), meta(3, 'model3', 15), meta(5, 'model4', 20), ...timed];
}

describe('issue 4: training rows = streaming rows', () => {
  it('features build rows equal the streamed rows (≤ 1e-9, same keys, no late events)', async () => {
    const events = fleet();
    const training: FeatureRow[] = [];
    await buildFeatures(events, {
      config: CONFIG,
      labels: true,
      onRows: (rows) => {
        training.push(...rows);
      },
    });

    // Streaming: telemetry delayed by up to 100 min (< 2 h lateness), side inputs on their own topic and
    // lagging behind telemetry by up to a day, the side watermark trailing what was read.
    const telemetry = events
      .filter((e) => e.kind === 'telemetry')
      .map((e, i) => ({ e, key: e.record.ts + ((i * 7919) % 100) * 60_000 }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.e);
    const side = events.filter((e) => e.kind !== 'telemetry');
    /** Event batches, and side watermark ticks ("side inputs are complete up to this ts"). */
    const inputs: (readonly PdmEvent[] | number)[] = [];
    let si = 0;
    const sideTs = (i: number): number => {
      const e = side[i];
      if (e === undefined) return Infinity;
      return e.kind === 'machines' ? -Infinity : e.record.ts;
    };
    for (let ti = 0; ti < telemetry.length; ti += 97) {
      const batch = telemetry.slice(ti, ti + 97);
      inputs.push(batch);
      const last = batch[batch.length - 1];
      const horizon = last?.kind === 'telemetry' ? last.record.ts - D : -Infinity;
      const start = si;
      while (si < side.length && sideTs(si) <= horizon) si++;
      if (si > start) inputs.push(side.slice(start, si), sideTs(si) - 1);
    }
    inputs.push(side.slice(si), Infinity);
    const engine = createFeatureEngine(CONFIG);
    const streamed: FeatureRow[] = [];
    const outcomes: EventOutcome[] = [];
    for (const input of inputs) {
      if (typeof input === 'number') engine.advanceSideWatermark(input);
      else outcomes.push(...engine.ingest(input));
      streamed.push(...engine.closeReady().rows);
    }
    streamed.push(...engine.finish().rows);

    expect(outcomes).toEqual([]);
    expect(training.length).toBeGreaterThan(80);
    expect(maxRowDifference(streamed, training)).toBeLessThanOrEqual(1e-9);
  });
});
