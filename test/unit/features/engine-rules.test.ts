/** One table per rule of ../shared/FEATURES.md, against the engine's batch path (end-of-input rule). */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/shared/errors.js';
import { createFeatureEngine, FEATURE_NAMES } from '../../../src/features/index.js';
import { CONFIG, D, H, T0, err, feat, maint, meta, rowAt, runBatch, silentKeys, tel } from './helpers.js';

const B = T0 + 36 * H;

function meanStd(xs: readonly number[]): [number, number] {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return [mean, xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0];
}

describe('sensor windows (B − W, B]', () => {
  // volt values are powers of two so that each window's membership is visible in its mean.
  const points: [number, number][] = [
    [B - 36 * H, 1],
    [B - 36 * H + 1, 2],
    [B - 24 * H, 4],
    [B - 24 * H + 1, 8],
    [B - 12 * H, 16],
    [B - 12 * H + 1, 32],
    [B, 64],
    [B + 2 * H, 128],
  ];
  const { rows } = runBatch(points.map(([ts, v]) => tel(1, ts, v, 400 + v)));
  const row = rowAt(rows, 1, B);

  it.each([
    { w: 12, members: [32, 64] },
    { w: 24, members: [8, 16, 32, 64] },
    { w: 36, members: [2, 4, 8, 16, 32, 64] },
  ])('$w h window holds exactly $members', ({ w, members }) => {
    expect(row).toBeDefined();
    if (row === undefined) return;
    const [mean, std] = meanStd(members);
    expect(feat(row, `volt_mean_${w}h`)).toBeCloseTo(mean, 12);
    expect(feat(row, `volt_std_${w}h`)).toBeCloseTo(std, 12);
    expect(feat(row, `rotate_mean_${w}h`)).toBeCloseTo(mean + 400, 10);
    expect(feat(row, `rotate_std_${w}h`)).toBeCloseTo(std, 10);
  });

  it('closes every bucket from the first one ≥ the first reading (B − 36 h is itself a bucket)', () => {
    expect(rows.map((r) => r.bucketMs)).toEqual([B - 36 * H, B - 24 * H, B - 12 * H, B]);
    const first = rowAt(rows, 1, B - 36 * H);
    expect(first === undefined ? NaN : feat(first, 'volt_mean_36h')).toBe(1);
  });

  it('std with one value is 0, with two is the sample std (n − 1)', () => {
    const one = runBatch([tel(1, B, 171.5), tel(1, B + 2 * H)]).rows;
    expect(one).toHaveLength(1);
    const r1 = one[0];
    expect(r1 === undefined ? NaN : feat(r1, 'volt_std_12h')).toBe(0);
    expect(r1 === undefined ? NaN : feat(r1, 'volt_mean_36h')).toBe(171.5);
    const two = runBatch([tel(1, B - 1, 170), tel(1, B, 174), tel(1, B + 2 * H)]).rows[0];
    expect(two === undefined ? NaN : feat(two, 'volt_std_12h')).toBeCloseTo(Math.sqrt(8), 12);
  });
});

describe('error counts in (B − 24 h, B]', () => {
  it.each([
    { edge: 'B − 24 h (excluded)', errorId: 'error1', counted: 0 },
    { edge: 'B − 24 h + 1 ms and B − 1 h', errorId: 'error2', counted: 2 },
    { edge: 'B (included)', errorId: 'error3', counted: 1 },
    { edge: 'B + 1 ms (next bucket)', errorId: 'error4', counted: 0 },
    { edge: 'none', errorId: 'error5', counted: 0 },
  ])('$errorId at $edge → counted $counted', ({ errorId, counted }) => {
    const events = [
      err(1, B - 24 * H, 'error1'),
      err(1, B - 24 * H + 1, 'error2'),
      err(1, B - H, 'error2'),
      err(1, B, 'error3'),
      err(1, B + 1, 'error4'),
      tel(1, B),
      tel(1, B + 2 * H),
    ];
    const row = rowAt(runBatch(events).rows, 1, B);
    expect(row === undefined ? NaN : feat(row, `${errorId}_count_24h`)).toBe(counted);
  });
});

describe('days since last replacement (ts ≤ B, cap 365, none = 365)', () => {
  it.each([
    { name: 'none', events: [], days: 365 },
    { name: '400 days before', events: [maint(1, B - 400 * D)], days: 365 },
    { name: 'exactly 365 days', events: [maint(1, B - 365 * D)], days: 365 },
    { name: '364.5 days', events: [maint(1, B - 364.5 * D)], days: 364.5 },
    { name: 'fractional 1.5 days', events: [maint(1, B - 36 * H)], days: 1.5 },
    { name: 'at B', events: [maint(1, B)], days: 0 },
    { name: 'after B only', events: [maint(1, B + 1)], days: 365 },
    {
      name: 'latest of several, not the first',
      events: [maint(1, B - 10 * D), maint(1, B - 2 * D)],
      days: 2,
    },
    { name: 'other component does not count', events: [maint(1, B - D, 'comp2')], days: 365 },
  ])('$name → $days', ({ events, days }) => {
    const row = rowAt(runBatch([...events, tel(1, B), tel(1, B + 2 * H)]).rows, 1, B);
    expect(row === undefined ? NaN : feat(row, 'comp1_days_since_replacement')).toBe(days);
  });

  it('a replacement between two buckets counts from the next bucket on', () => {
    const rows = runBatch([tel(1, B), maint(1, B + H, 'comp4'), tel(1, B + 12 * H), tel(1, B + 14 * H)]).rows;
    const at = (b: number): number => {
      const r = rowAt(rows, 1, b);
      return r === undefined ? NaN : feat(r, 'comp4_days_since_replacement');
    };
    expect(at(B)).toBe(365);
    expect(at(B + 12 * H)).toBeCloseTo(11 / 24, 15);
  });
});

describe('machine metadata', () => {
  const base = [tel(1, B), tel(1, B + 2 * H)];
  const models = (row: ReturnType<typeof rowAt>): number[] =>
    ['model1', 'model2', 'model3', 'model4'].map((m) => (row === undefined ? NaN : feat(row, `model_${m}`)));

  it.each([
    { name: 'unknown machine', events: [], age: -1, oneHot: [0, 0, 0, 0] },
    { name: 'known', events: [meta(1, 'model2', 7)], age: 7, oneHot: [0, 1, 0, 0] },
    {
      name: 'latest wins',
      events: [meta(1, 'model2', 7), meta(1, 'model4', 8)],
      age: 8,
      oneHot: [0, 0, 0, 1],
    },
    { name: 'other machine only', events: [meta(2, 'model1', 3)], age: -1, oneHot: [0, 0, 0, 0] },
    { name: 'invalid model is rejected', events: [meta(1, 'model9', 3)], age: -1, oneHot: [0, 0, 0, 0] },
  ])('$name → age $age, one-hot $oneHot', ({ events, age, oneHot }) => {
    const row = rowAt(runBatch([...events, ...base]).rows, 1, B);
    expect(row === undefined ? NaN : feat(row, 'age')).toBe(age);
    expect(models(row)).toEqual(oneHot);
  });
});

describe('silent machines and bucket closing', () => {
  it('buckets without telemetry in (B − 12 h, B] are silent runs, not rows', () => {
    const events = [tel(1, T0 + H), tel(1, T0 + 5 * D), tel(1, T0 + 5 * D + 2 * H)];
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    engine.ingest(events);
    const { rows, silent } = engine.finish();
    expect(rows.map((r) => r.bucketMs)).toEqual([T0 + 12 * H, T0 + 5 * D]);
    expect(silent).toEqual([{ machineId: 1, fromBucketMs: T0 + D, toBucketMs: T0 + 4.5 * D, buckets: 8 }]);
    expect(engine.stats().counts.silentBuckets).toBe(8);
  });

  it.each([
    { name: 'reading at a bucket instant', first: T0, firstBucket: T0 },
    { name: 'reading just after', first: T0 + 1, firstBucket: T0 + 12 * H },
    { name: 'reading just before', first: T0 - 1, firstBucket: T0 },
  ])('first bucket: $name', ({ first, firstBucket }) => {
    const { rows } = runBatch([tel(1, first), tel(1, T0 + 3 * D)]);
    expect(rows[0]?.bucketMs).toBe(firstBucket);
  });

  it.each([
    { maxTs: T0 + 14 * H - 1, closed: [] as number[] },
    { maxTs: T0 + 14 * H, closed: [T0 + 12 * H] },
  ])('B closes iff B ≤ maxTs − lateness (maxTs = T0 + $maxTs)', ({ maxTs, closed }) => {
    const { rows } = runBatch([tel(1, T0 + H), tel(1, maxTs)]);
    expect(rows.map((r) => r.bucketMs)).toEqual(closed);
  });

  it('streaming waits for the side watermark (default −∞) and closes each bucket once', () => {
    const engine = createFeatureEngine(CONFIG);
    engine.ingest([tel(1, T0 + H), tel(1, T0 + 13 * H), tel(1, T0 + 26 * H)]);
    expect(engine.closeReady().rows).toHaveLength(0);
    engine.advanceSideWatermark(T0 + 12 * H - 1);
    expect(engine.closeReady().rows).toHaveLength(0);
    engine.advanceSideWatermark(T0 + 12 * H);
    expect(engine.closeReady().rows.map((r) => r.bucketMs)).toEqual([T0 + 12 * H]);
    engine.advanceSideWatermark(T0 + 10 * H); // going back is ignored
    expect(engine.closeReady().rows).toHaveLength(0);
    expect(engine.finish().rows.map((r) => r.bucketMs)).toEqual([T0 + 24 * H]);
    expect(engine.finish().rows).toHaveLength(0);
  });

  it('rows of one call are in (machineId, bucket) order', () => {
    const events = [3, 1, 2].flatMap((m) => [tel(m, T0 + H), tel(m, T0 + 13 * H), tel(m, T0 + 26 * H)]);
    const { rows } = runBatch(events);
    expect(rows.map((r) => `${r.machineId}@${(r.bucketMs - T0) / H}`)).toEqual([
      '1@12',
      '1@24',
      '2@12',
      '2@24',
      '3@12',
      '3@24',
    ]);
  });
});

describe('late, duplicate and invalid events are typed outcomes with their batch index', () => {
  it('events at or before the last closed bucket are LATE_EVENT and change nothing', () => {
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    engine.ingest([tel(1, T0 + H), tel(1, T0 + 14 * H)]);
    expect(engine.closeReady().rows.map((r) => r.bucketMs)).toEqual([T0 + 12 * H]);
    const outcomes = engine.ingest([
      tel(1, T0 + 12 * H + 1, 200),
      tel(1, T0 + 12 * H, 900),
      err(1, T0 + 11 * H),
      maint(1, T0 + 12 * H, 'comp3'),
      err(1, T0 + 13 * H, 'error5'),
    ]);
    expect(outcomes.map((o) => [o.kind, o.index, o.recordKind])).toEqual([
      ['LATE_EVENT', 1, 'telemetry'],
      ['LATE_EVENT', 2, 'errors'],
      ['LATE_EVENT', 3, 'maintenance'],
    ]);
    engine.ingest([tel(1, T0 + 26 * H)]);
    const row = engine.closeReady().rows[0];
    expect(row?.bucketMs).toBe(T0 + 24 * H);
    // 12 h window = readings at 12h+1 (200) and 14h (170): the late 900 is not in it.
    expect(row === undefined ? NaN : feat(row, 'volt_mean_12h')).toBe(185);
    expect(row === undefined ? NaN : feat(row, 'error5_count_24h')).toBe(1);
    expect(row === undefined ? NaN : feat(row, 'error1_count_24h')).toBe(0);
    expect(row === undefined ? NaN : feat(row, 'comp3_days_since_replacement')).toBe(365);
    expect(engine.stats().counts.late).toBe(3);
  });

  it('a second reading with the same (machineId, ts) is a DUPLICATE; the first one is kept', () => {
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    const outcomes = engine.ingest([tel(1, T0 + H, 170), tel(2, T0 + H, 300), tel(1, T0 + H, 999)]);
    expect(outcomes).toEqual([
      { kind: 'DUPLICATE', index: 2, recordKind: 'telemetry', machineId: 1, ts: T0 + H },
    ]);
    expect(engine.ingest([tel(1, T0 + H, 999)]).map((o) => o.kind)).toEqual(['DUPLICATE']);
    engine.ingest([tel(1, T0 + 14 * H)]);
    const row = engine.finish().rows.find((r) => r.machineId === 1);
    expect(row === undefined ? NaN : feat(row, 'volt_mean_12h')).toBe(170);
    expect(engine.stats().counts.duplicates).toBe(2);
  });

  it.each([
    { name: 'NaN volt', event: tel(1, T0, NaN), message: /volt NaN is not finite/ },
    { name: '+Infinity rotate', event: tel(1, T0, 170, Infinity), message: /rotate Infinity/ },
    { name: '−Infinity pressure', event: tel(1, T0, 170, 450, -Infinity), message: /pressure -Infinity/ },
    {
      name: 'vibration above range',
      event: tel(1, T0, 170, 450, 100, 500.5),
      message: /outside the physical range/,
    },
    { name: 'volt below range', event: tel(1, T0, -0.1), message: /outside/ },
    { name: 'fractional ts', event: tel(1, T0 + 0.5), message: /ts/ },
    { name: 'negative machineId', event: tel(-1, T0), message: /machineId/ },
    { name: 'unknown errorId', event: err(1, T0, 'error6'), message: /errorId "error6"/ },
    { name: 'unknown comp', event: maint(1, T0, 'comp0'), message: /comp "comp0"/ },
    { name: 'negative age', event: meta(1, 'model1', -1), message: /age/ },
    {
      name: 'unknown failure',
      event: { kind: 'failures', record: { machineId: 1, ts: T0, failure: 'x' } } as const,
      message: /failure/,
    },
  ])('$name → INVALID_VALUE', ({ event, message }) => {
    const engine = createFeatureEngine(CONFIG);
    const outcomes = engine.ingest([tel(1, T0 - H), event]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ kind: 'INVALID_VALUE', index: 1, recordKind: event.kind });
    expect(outcomes[0]?.kind === 'INVALID_VALUE' ? outcomes[0].message : '').toMatch(message);
    expect(engine.stats().counts.invalid).toBe(1);
  });

  it('range bounds are inclusive and invalid readings do not move the watermark', () => {
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    expect(engine.ingest([tel(1, T0 + H, 0, 5000, 1000, 500)])).toEqual([]);
    expect(engine.ingest([tel(1, T0 + 40 * H, NaN)])).toHaveLength(1);
    expect(engine.closeReady().rows).toHaveLength(0);
  });

  it('failures are labels only: counted, no outcome, no row', () => {
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    expect(engine.ingest([{ kind: 'failures', record: { machineId: 1, ts: T0, failure: 'comp1' } }])).toEqual(
      [],
    );
    expect(engine.finish().rows).toHaveLength(0);
    expect(engine.stats().counts.failuresIgnored).toBe(1);
    expect(engine.stats().machines).toBe(0);
  });
});

describe('restart: buckets already written close without output', () => {
  const events = [tel(1, T0 + H), tel(1, T0 + 13 * H), tel(1, T0 + 3 * D), tel(1, T0 + 5 * D)];
  it.each([
    { name: 'resumeAfter of the machine', resumeAfter: new Map([[1, T0 + 24 * H]]) },
    { name: 'resumeAfter of other machines only', resumeAfter: new Map([[2, T0 + 40 * D]]), none: true },
  ])('$name suppresses rows and silent buckets ≤ the mark', ({ resumeAfter, none }) => {
    const full = runBatch(events);
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity, resumeAfter });
    engine.ingest(events);
    if (none === true) {
      const all = engine.finish();
      expect(all.rows.map((r) => r.bucketMs)).toEqual(full.rows.map((r) => r.bucketMs));
      expect(engine.stats().counts.suppressedBuckets).toBe(0);
      return;
    }
    const resumed = engine.finish();
    expect(resumed.rows.map((r) => r.bucketMs)).toEqual(
      full.rows.map((r) => r.bucketMs).filter((b) => b > T0 + D),
    );
    expect(resumed.rows.map((r) => Array.from(r.values))).toEqual(
      full.rows.filter((r) => r.bucketMs > T0 + D).map((r) => Array.from(r.values)),
    );
    expect(silentKeys(resumed.silent, CONFIG.bucketMs)).toEqual(
      silentKeys(full.silent, CONFIG.bucketMs).filter((k) => Number(k.split('@')[1]) > T0 + D),
    );
    expect(engine.stats().counts.suppressedBuckets).toBe(2);
  });
});

describe('settings', () => {
  it.each([
    { bucketMs: 12 * H, slotMs: 12 * H },
    { bucketMs: H, slotMs: H },
    { bucketMs: 24 * H, slotMs: 12 * H },
    { bucketMs: 5 * 60_000, slotMs: 5 * 60_000 },
    { bucketMs: 25 * H, slotMs: H },
  ])('bucket $bucketMs ms → slot $slotMs ms', ({ bucketMs, slotMs }) => {
    expect(createFeatureEngine({ ...CONFIG, bucketMs }).slotMs).toBe(slotMs);
  });

  it.each([{ bucketMs: 7_000 }, { bucketMs: 0 }, { bucketMs: 1.5 }])(
    'bucket $bucketMs ms is a ConfigError',
    ({ bucketMs }) => {
      expect(() => createFeatureEngine({ ...CONFIG, bucketMs })).toThrow(ConfigError);
    },
  );

  it('emits 38 values in FEATURE_NAMES order', () => {
    const row = runBatch([tel(1, B), tel(1, B + 2 * H)]).rows[0];
    expect(row?.values).toHaveLength(FEATURE_NAMES.length);
    expect(FEATURE_NAMES).toHaveLength(38);
  });
});

describe('bounded state', () => {
  it('per-machine typed-array bytes stop growing once the 36 h window is full (hourly, 60 days)', () => {
    const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Infinity });
    const sizes: number[] = [];
    for (let day = 0; day < 60; day++) {
      const batch = [];
      for (let h = 0; h < 24; h++) {
        const ts = T0 + day * D + h * H;
        batch.push(tel(1, ts, 170 + (h % 5)));
        if (h % 7 === 0) batch.push(err(1, ts + 1, 'error2'));
        if (h === 3 && day % 10 === 0) batch.push(maint(1, ts + 2, 'comp1'));
      }
      engine.ingest(batch);
      engine.closeReady();
      sizes.push(engine.stats().typedArrayBytes);
    }
    expect(Math.max(...sizes.slice(3))).toBe(Math.max(...sizes.slice(50)));
    // The arrays keep room for a day's batch between closes (sorted-records.ts dropFront): 1216 bytes here,
    // where shrinking back after every close held 1024 at the cost of two reallocations per array and day.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1280);
    // Buckets T0 … T0 + 59.5 d: the last reading (T0 + 60 d − 1 h) minus 2 h lateness closes T0 + 59.5 d.
    expect(engine.stats().counts.rows).toBe(120);
  });
});
