/**
 * Issue 9, feature spec revision 2 (../shared/FEATURES.md "Event time, lateness, duplicates"): storable
 * event-time range, FUTURE_EVENT against the processing clock, dead-lettered events change no state,
 * lateness strictly per machine, duplicate errors and maintenance events, metadata tombstones, and the
 * feature geometry checked when settings are loaded.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  createRecordDecoder,
  loadProjectSchemas,
  type SchemaRegistryClient,
} from '../../../src/decode/index.js';
import {
  buildFeatures,
  checkEventTime,
  createFeatureEngine,
  FEATURE_DEAD_LETTER_REASONS,
  formatInstant,
  isDeadLetterOutcome,
  type EventOutcome,
  type FeatureEngine,
  type FeatureEngineOptions,
  type FeatureRow,
} from '../../../src/features/index.js';
import { ConfigError, DEAD_LETTER_REASONS } from '../../../src/shared/errors.js';
import { machineTombstone, type PdmEvent } from '../../../src/shared/records.js';
import {
  CONFIG,
  D,
  H,
  T0,
  err,
  fail,
  feat,
  maint,
  maxRowDifference,
  meta,
  rowAt,
  runBatch,
  silentKeys,
  tel,
} from './helpers.js';

const MIN_TS = Date.UTC(2000, 0, 1);
const END_TS = Date.UTC(2100, 0, 1);
const B = T0 + 36 * H;

function engine(options: Partial<FeatureEngineOptions> = {}): FeatureEngine {
  return createFeatureEngine({ ...CONFIG, sideWatermarkMs: Number.POSITIVE_INFINITY, ...options });
}

function at(
  machineId: number,
  ts: number,
  kind: 'telemetry' | 'errors' | 'maintenance' | 'failures',
): PdmEvent {
  switch (kind) {
    case 'telemetry':
      return tel(machineId, ts);
    case 'errors':
      return err(machineId, ts);
    case 'maintenance':
      return maint(machineId, ts);
    case 'failures':
      return fail(machineId, ts);
  }
}

const TIMED_KINDS = ['telemetry', 'errors', 'maintenance', 'failures'] as const;

function tombstone(machineId: number): PdmEvent {
  return { kind: 'machines', record: machineTombstone(machineId) };
}

/** Streaming-style run: the events in batches of `batch`, closeReady after each, then finish. */
function runStream(
  events: readonly PdmEvent[],
  batch: number,
  options: Partial<FeatureEngineOptions> = {},
): { rows: FeatureRow[]; silent: string[]; outcomes: EventOutcome[]; engine: FeatureEngine } {
  const e = engine(options);
  const rows: FeatureRow[] = [];
  const silentRuns = [];
  const outcomes: EventOutcome[] = [];
  for (let i = 0; i < events.length; i += batch) {
    outcomes.push(...e.ingest(events.slice(i, i + batch)));
    const r = e.closeReady();
    rows.push(...r.rows);
    silentRuns.push(...r.silent);
  }
  const r = e.finish();
  rows.push(...r.rows);
  silentRuns.push(...r.silent);
  return { rows, silent: silentKeys(silentRuns, CONFIG.bucketMs), outcomes, engine: e };
}

function hourly(machineId: number, from: number, hours: number): PdmEvent[] {
  return Array.from({ length: hours }, (_, h) => tel(machineId, from + h * H, 170 + (h % 7), 450 + h));
}

describe('issue 9: event times outside [2000-01-01, 2100-01-01) are INVALID_VALUE on every topic', () => {
  const cases = [
    {
      ts: MIN_TS - 1,
      outcome: 'INVALID_VALUE',
      text: '(1999-12-31T23:59:59.999Z) is outside the storable range',
    },
    { ts: MIN_TS, outcome: null, text: '' },
    { ts: END_TS - 1, outcome: null, text: '' },
    {
      ts: END_TS,
      outcome: 'INVALID_VALUE',
      text: 'ts 4102444800000 (2100-01-01T00:00:00.000Z) is outside the storable range [2000-01-01, 2100-01-01)',
    },
    {
      ts: 0,
      outcome: 'INVALID_VALUE',
      text: 'ts 0 (1970-01-01T00:00:00.000Z) is outside the storable range',
    },
    { ts: -1, outcome: 'INVALID_VALUE', text: '(1969-12-31T23:59:59.999Z)' },
    { ts: 9e15, outcome: 'INVALID_VALUE', text: 'ts 9000000000000000 (beyond the JavaScript date range)' },
    { ts: 8.64e15 + 1, outcome: 'INVALID_VALUE', text: '(beyond the JavaScript date range)' },
    { ts: -9e15, outcome: 'INVALID_VALUE', text: '(beyond the JavaScript date range)' },
    { ts: 1e300, outcome: 'INVALID_VALUE', text: 'is not an epoch-millisecond integer' },
    { ts: Number.NaN, outcome: 'INVALID_VALUE', text: 'ts NaN is not an epoch-millisecond integer' },
  ] as const;
  const table = TIMED_KINDS.flatMap((kind) => cases.map((c) => ({ kind, ...c })));

  it.each(table)('$kind ts $ts → $outcome', ({ kind, ts, outcome, text }) => {
    // A clock past 2100, so that only the storable range decides.
    const e = engine({ nowMs: () => END_TS + D });
    const outcomes = e.ingest([at(4, ts, kind)]);
    if (outcome === null) {
      expect(outcomes).toEqual([]);
      return;
    }
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ kind: outcome, index: 0, recordKind: kind, machineId: 4 });
    expect(
      outcomes[0] !== undefined && isDeadLetterOutcome(outcomes[0]) ? outcomes[0].message : '',
    ).toContain(text);
    expect(e.stats().machines).toBe(0);
    expect(e.stats().counts.invalid).toBe(1);
  });
});

describe('issue 9: checkEventTime, also for Kafka record timestamps', () => {
  it.each([
    { ts: MIN_TS, problem: null },
    { ts: END_TS - 1, problem: null },
    { ts: 9e15, problem: 'record timestamp 9000000000000000 (beyond the JavaScript date range) is outside' },
    { ts: 0, problem: 'record timestamp 0 (1970-01-01T00:00:00.000Z) is outside the storable range' },
    { ts: 1.5, problem: 'record timestamp 1.5 is not an epoch-millisecond integer' },
  ])('$ts → $problem', ({ ts, problem }) => {
    const got = checkEventTime(ts, 'record timestamp');
    if (problem === null) expect(got).toBeNull();
    else expect(got).toContain(problem);
  });

  it('formats any number without throwing', () => {
    for (const x of [Number.MAX_VALUE, -Number.MAX_VALUE, Number.NaN, Infinity, 8.64e15, -8.64e15 - 1]) {
      expect(() => formatInstant(x)).not.toThrow();
    }
    expect(formatInstant(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
  });

  it('the feature stage only gives dead-letter reasons the DLQ knows', () => {
    for (const r of FEATURE_DEAD_LETTER_REASONS) expect(DEAD_LETTER_REASONS).toContain(r);
  });
});

describe('issue 9: FUTURE_EVENT, later than the processing clock plus the allowed future skew', () => {
  const NOW = T0 + 10 * D;
  const table = TIMED_KINDS.flatMap((kind) => [
    { kind, skew: undefined, ts: NOW + H, future: false },
    { kind, skew: undefined, ts: NOW + H + 1, future: true },
    { kind, skew: 0, ts: NOW, future: false },
    { kind, skew: 0, ts: NOW + 1, future: true },
    { kind, skew: 5 * H, ts: NOW + 5 * H, future: false },
    { kind, skew: 5 * H, ts: NOW + 5 * H + 1, future: true },
  ]);

  it.each(table)('$kind at ts − now = $ts with skew $skew → future $future', ({ kind, skew, ts, future }) => {
    const e = engine({ nowMs: () => NOW, ...(skew === undefined ? {} : { futureSkewMs: skew }) });
    const outcomes = e.ingest([at(3, ts, kind)]);
    if (!future) {
      expect(outcomes).toEqual([]);
      return;
    }
    expect(outcomes).toEqual([
      {
        kind: 'FUTURE_EVENT',
        index: 0,
        recordKind: kind,
        machineId: 3,
        message:
          `${kind} ts ${ts} (${new Date(ts).toISOString()}) is later than the processing clock ` +
          `${new Date(NOW).toISOString()} plus the allowed future skew of ${skew ?? H} ms`,
      },
    ]);
    expect(e.stats().counts.future).toBe(1);
    expect(e.stats().machines).toBe(0);
  });

  it('reads the clock once per ingest call, not per event', () => {
    let reads = 0;
    const e = engine({
      nowMs: () => {
        reads++;
        return NOW;
      },
    });
    e.ingest(hourly(1, T0, 100));
    e.ingest([err(1, T0 + 2 * H), maint(1, T0 + 3 * H)]);
    expect(reads).toBe(2);
  });

  it('defaults to the wall clock (the streaming pipeline passes no clock)', () => {
    const e = createFeatureEngine(CONFIG);
    const now = Date.now();
    const outcomes = e.ingest([tel(1, now - D), tel(1, now + 2 * H)]);
    expect(outcomes.map((o) => [o.kind, o.index])).toEqual([['FUTURE_EVENT', 1]]);
  });

  it('refuses a clock that is not a number and a negative skew', () => {
    expect(() => engine({ nowMs: () => Number.NaN }).ingest([])).toThrow(/processing clock returned NaN/);
    expect(() => engine({ futureSkewMs: -1 })).toThrow(ConfigError);
  });

  // The issue's report: one reading dated 2100 moved machine 5's watermark, made 54,043 silent buckets and
  // turned all later data of the machine (and its neighbours' side events) late.
  it.each([
    { name: 'a reading dated 2100', bad: tel(5, END_TS + 10 * D), reason: 'INVALID_VALUE' },
    {
      name: 'a reading dated 2099 (storable, but in the future)',
      bad: tel(5, END_TS - D),
      reason: 'FUTURE_EVENT',
    },
    { name: 'a reading a day ahead of the clock', bad: tel(5, NOW + D), reason: 'FUTURE_EVENT' },
    { name: 'a reading dated 1969', bad: tel(5, -H), reason: 'INVALID_VALUE' },
    { name: 'a reading at 9e15', bad: tel(5, 9e15), reason: 'INVALID_VALUE' },
  ])('$name changes nothing for its machine or its neighbours', ({ bad, reason }) => {
    const good = [
      meta(5, 'model2', 4),
      ...hourly(5, T0, 24),
      ...hourly(6, T0, 24),
      maint(5, T0 + 31 * H, 'comp3'),
      ...hourly(5, T0 + 24 * H, 48),
      err(6, T0 + 30 * H, 'error2'),
      ...hourly(6, T0 + 24 * H, 48),
    ];
    const withBad = [...good.slice(0, 26), bad, ...good.slice(26)];
    const expected = runStream(good, 7, { nowMs: () => NOW });
    const got = runStream(withBad, 7, { nowMs: () => NOW });
    expect(expected.outcomes).toEqual([]);
    expect(got.outcomes.map((o) => o.kind)).toEqual([reason]);
    expect(got.rows.length).toBeGreaterThan(0);
    expect(maxRowDifference(got.rows, expected.rows)).toBe(0);
    expect(got.silent).toEqual(expected.silent);
    expect(got.engine.stats().counts.silentBuckets).toBe(expected.engine.stats().counts.silentBuckets);
  });
});

describe('issue 9: a dead-lettered event changes no state', () => {
  const NOW = T0 + 10 * D;
  const X = T0 + 5 * H;
  it.each([
    { name: 'telemetry with a non-finite value', bad: tel(1, X, Number.NaN), good: tel(1, X) },
    { name: 'telemetry out of range', bad: tel(1, X, 1e6), good: tel(1, X) },
    { name: 'error with an unknown errorId', bad: err(1, X, 'error9'), good: err(1, X, 'error1') },
    { name: 'maintenance with an unknown comp', bad: maint(1, X, 'comp9'), good: maint(1, X, 'comp1') },
    { name: 'metadata with an unknown model', bad: meta(1, 'model9', 3), good: meta(1, 'model1', 3) },
  ])('$name: no machine entry, and the valid event with the same key is not a duplicate', ({ bad, good }) => {
    const e = engine({ nowMs: () => NOW });
    expect(e.ingest([bad]).map((o) => o.kind)).toEqual(['INVALID_VALUE']);
    expect(e.stats().machines).toBe(0);
    expect(e.ingest([good])).toEqual([]);
    expect(e.stats().machines).toBe(1);
    expect(e.stats().counts.duplicates).toBe(0);
  });

  it.each(['telemetry', 'errors', 'maintenance'] as const)(
    'a future %s is not "seen": resent once the clock has passed it, it is used',
    (kind) => {
      let now = T0;
      const e = engine({ nowMs: () => now });
      const ev = at(1, T0 + 5 * H, kind);
      expect(e.ingest([ev]).map((o) => o.kind)).toEqual(['FUTURE_EVENT']);
      expect(e.stats().machines).toBe(0);
      now = T0 + 5 * H;
      expect(e.ingest([ev])).toEqual([]);
      expect(e.stats().counts.duplicates).toBe(0);
      expect(e.ingest([ev]).map((o) => o.kind)).toEqual(['DUPLICATE']);
    },
  );

  it('an invalid or future reading is no telemetry for the silent rule and moves no watermark', () => {
    // B − 13 h and B + 3 h are the only valid readings: B has no telemetry in (B − 12 h, B] → silent.
    const events = [tel(1, B - 13 * H), tel(1, B - H, Number.NaN), tel(1, B + 3 * H)];
    const e = engine({ nowMs: () => B + 3 * H });
    e.ingest(events);
    // A reading 2 h ahead of the clock would, if used, close B + 12 h (watermark B + 3 h + 12 h − 2 h).
    expect(e.ingest([tel(1, B + 15 * H)]).map((o) => o.kind)).toEqual(['FUTURE_EVENT']);
    const r = e.closeReady();
    expect(r.rows.map((x) => x.bucketMs)).toEqual([B - 12 * H]);
    expect(silentKeys(r.silent, CONFIG.bucketMs)).toEqual([`1@${B}`]);
    expect(e.stats().counts.telemetry).toBe(2);
  });

  it('a late event does not create or touch anything either', () => {
    const e = engine();
    e.ingest(hourly(1, T0, 30));
    e.closeReady();
    const before = e.stats();
    const outcomes = e.ingest([tel(1, T0 + H, 999), err(1, T0 + H), maint(1, T0 + H)]);
    expect(outcomes.map((o) => o.kind)).toEqual(['LATE_EVENT', 'LATE_EVENT', 'LATE_EVENT']);
    expect(e.stats().typedArrayBytes).toBe(before.typedArrayBytes);
    expect(e.stats().machines).toBe(1);
  });
});

describe('issue 9: lateness is judged per machine', () => {
  // Machine 1 is 30 days ahead of machine 2 in the same engine (one partition); machine 2's side events
  // and metadata arrive before its first reading. Nothing of machine 2 is late; its features equal a run
  // of machine 2 alone.
  const ahead = hourly(1, T0, 30 * 24);
  const m2Side = [
    meta(2, 'model4', 11),
    err(2, T0 + 10 * H, 'error3'),
    err(2, T0 + 20 * H, 'error5'),
    maint(2, T0 + 2 * H, 'comp2'),
    maint(2, T0 - 20 * D, 'comp4'),
  ];
  const m2Telemetry = hourly(2, T0, 72);

  it.each([1, 5, 64])('streaming in batches of %i: no outcome, metadata and side events applied', (batch) => {
    const got = runStream([...ahead, ...m2Side, ...m2Telemetry], batch);
    expect(got.outcomes).toEqual([]);
    const alone = runBatch([...m2Side, ...m2Telemetry]).rows;
    const rows2 = got.rows.filter((r) => r.machineId === 2);
    expect(rows2.length).toBe(alone.length);
    expect(maxRowDifference(rows2, alone)).toBe(0);
    const row = rowAt(rows2, 2, T0 + 24 * H);
    expect(row === undefined ? [] : [feat(row, 'age'), feat(row, 'model_model4')]).toEqual([11, 1]);
    expect(row === undefined ? [] : [feat(row, 'error3_count_24h'), feat(row, 'error5_count_24h')]).toEqual([
      1, 1,
    ]);
    expect(row === undefined ? NaN : feat(row, 'comp2_days_since_replacement')).toBeCloseTo(22 / 24, 12);
    expect(row === undefined ? NaN : feat(row, 'comp4_days_since_replacement')).toBe(21);
  });
});

describe('issue 9: streaming side completeness is per machine too', () => {
  it('a machine behind closes on its own side watermark, not the fastest machine’s', () => {
    const e = createFeatureEngine(CONFIG); // side watermark −∞: nothing closes until told
    e.ingest([...hourly(1, T0, 10 * 24), ...hourly(2, T0, 48)]);
    expect(e.closeReady().rows).toEqual([]);
    e.advanceMachineSideWatermark(2, T0 + 24 * H);
    e.advanceMachineSideWatermark(2, T0 + 12 * H); // monotonic: ignored
    e.advanceMachineSideWatermark(99, T0 + 24 * H); // unknown machine: no entry
    const first = e.closeReady().rows;
    expect(first.map((r) => [r.machineId, r.bucketMs])).toEqual([
      [2, T0],
      [2, T0 + 12 * H],
      [2, T0 + 24 * H],
    ]);
    expect(e.stats().machines).toBe(2);
    // Machine 1 is 8 days ahead, yet machine 2's error after its own last closed bucket is not late.
    expect(e.ingest([err(2, T0 + 30 * H, 'error4')])).toEqual([]);
    e.advanceMachineSideWatermark(2, Number.POSITIVE_INFINITY);
    const row = rowAt(e.closeReady().rows, 2, T0 + 36 * H);
    expect(row === undefined ? NaN : feat(row, 'error4_count_24h')).toBe(1);
  });
});

describe('issue 9: duplicate errors and maintenance events are ignored and counted', () => {
  const base = [tel(1, B), tel(1, B + 2 * H)];
  const countAt = (events: PdmEvent[], name: string): number => {
    const row = rowAt(runBatch([...events, ...base]).rows, 1, B);
    return row === undefined ? NaN : feat(row, name);
  };
  it.each([
    { name: 'same (machine, ts, errorId)', events: [err(1, B - H), err(1, B - H)], dups: 1, count: 1 },
    { name: 'three copies', events: [err(1, B - H), err(1, B - H), err(1, B - H)], dups: 2, count: 1 },
    { name: 'same ts, other errorId', events: [err(1, B - H), err(1, B - H, 'error2')], dups: 0, count: 1 },
    { name: 'same errorId, other ts', events: [err(1, B - H), err(1, B - 2 * H)], dups: 0, count: 2 },
    { name: 'other machine', events: [err(1, B - H), err(2, B - H)], dups: 0, count: 1 },
    {
      name: 'copy after another error at the same ts',
      events: [err(1, B - H), err(1, B - H, 'error2'), err(1, B - H)],
      dups: 1,
      count: 1,
    },
  ])('errors, $name → $dups duplicate(s), error1 counted $count', ({ events, dups, count }) => {
    const e = engine();
    const outcomes = e.ingest([...events, ...base]);
    expect(outcomes.every((o) => o.kind === 'DUPLICATE' && o.recordKind === 'errors')).toBe(true);
    expect(outcomes).toHaveLength(dups);
    expect(outcomes.some(isDeadLetterOutcome)).toBe(false);
    expect(e.stats().counts.duplicates).toBe(dups);
    expect(countAt(events, 'error1_count_24h')).toBe(count);
  });

  it.each([
    { name: 'same (machine, ts, comp)', events: [maint(1, B - D), maint(1, B - D)], dups: 1, days: 1 },
    { name: 'same ts, other comp', events: [maint(1, B - D), maint(1, B - D, 'comp2')], dups: 0, days: 1 },
  ])('maintenance, $name → $dups duplicate(s)', ({ events, dups, days }) => {
    const e = engine();
    const outcomes = e.ingest([...events, ...base]);
    expect(outcomes.map((o) => [o.kind, o.recordKind])).toEqual(
      Array.from({ length: dups }, () => ['DUPLICATE', 'maintenance']),
    );
    expect(countAt(events, 'comp1_days_since_replacement')).toBe(days);
  });

  it('a resent error still inside an open bucket is counted once (the issue)', () => {
    const events = [...hourly(1, T0, 20), err(1, T0 + 19 * H, 'error1')];
    const resent = [err(1, T0 + 19 * H, 'error1'), ...hourly(1, T0 + 20 * H, 20)];
    const got = runStream([...events, ...resent], 10);
    expect(got.outcomes.map((o) => [o.kind, o.recordKind])).toEqual([['DUPLICATE', 'errors']]);
    const row = rowAt(got.rows, 1, T0 + 24 * H);
    expect(row === undefined ? NaN : feat(row, 'error1_count_24h')).toBe(1);
  });

  it.each([
    { kind: 'errors', ev: err(1, T0 + 50 * H) },
    { kind: 'maintenance', ev: maint(1, T0 + 50 * H) },
  ])(
    'detection is exact for every $kind after the last closed bucket, whatever the bucket length',
    ({ ev }) => {
      // 48 h buckets: after B = T0 + 48 h closes, an event at T0 + 50 h is in no window of a closable
      // bucket yet (T0 + 96 h looks back 24 h only), but it is not late, so its copy is a duplicate.
      const e = engine({ bucketMs: 48 * H, allowedLatenessMs: 0 });
      e.ingest([tel(1, T0 + 47 * H), ev]);
      e.ingest([tel(1, T0 + 48 * H)]);
      expect(e.closeReady().rows.map((r) => r.bucketMs)).toEqual([T0 + 48 * H]);
      expect(e.ingest([ev]).map((o) => o.kind)).toEqual(['DUPLICATE']);
    },
  );
});

describe('issue 9: tombstones on the machines topic delete the metadata', () => {
  it('buckets closed after the tombstone have age −1 and no model; metadata can come back', () => {
    const e = engine();
    const ageAt = (rows: FeatureRow[]): number[][] =>
      rows.map((r) => [
        r.bucketMs,
        feat(r, 'age'),
        feat(r, 'model_model1') + feat(r, 'model_model2') + feat(r, 'model_model3') + feat(r, 'model_model4'),
      ]);
    e.ingest([meta(1, 'model2', 7), tel(1, B), tel(1, B + 2 * H)]);
    const first = e.closeReady().rows;
    expect(e.ingest([tombstone(1)])).toEqual([]);
    e.ingest([tel(1, B + 12 * H), tel(1, B + 14 * H)]);
    const second = e.closeReady().rows;
    e.ingest([meta(1, 'model3', 8), tel(1, B + 24 * H), tel(1, B + 26 * H)]);
    const third = e.closeReady().rows;
    expect([...ageAt(first), ...ageAt(second), ...ageAt(third)]).toEqual([
      [B, 7, 1],
      [B + 12 * H, -1, 0],
      [B + 24 * H, 8, 1],
    ]);
    expect(e.stats().counts).toMatchObject({ machines: 3, tombstones: 1, invalid: 0 });
  });

  it('a tombstone of an unknown machine creates no entry; an invalid machineId is INVALID_VALUE', () => {
    const e = engine();
    expect(e.ingest([tombstone(9)])).toEqual([]);
    expect(e.stats().machines).toBe(0);
    expect(e.ingest([tombstone(-1)]).map((o) => o.kind)).toEqual(['INVALID_VALUE']);
  });

  it('a tombstone before any metadata leaves the metadata of a later record', () => {
    const row = rowAt(
      runBatch([tombstone(1), meta(1, 'model1', 2), tel(1, B), tel(1, B + 2 * H)]).rows,
      1,
      B,
    );
    expect(row === undefined ? NaN : feat(row, 'age')).toBe(2);
  });
});

describe('issue 9: the decoder turns a null value on the machines topic into a tombstone', () => {
  const registry: SchemaRegistryClient = {
    url: 'memory://',
    register: () => Promise.reject(new Error('not used')),
    latestId: () => Promise.resolve(undefined),
    schemaById: () => Promise.reject(new Error('a null value needs no schema')),
  };
  const decoder = createRecordDecoder(registry, loadProjectSchemas());
  const key = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s));

  it.each(['0', '7', '123456789'])('key %j → tombstone of that machine', async (k) => {
    await decoder.prepare([null]);
    expect(decoder.decode('machines', null, key(k))).toEqual({
      ok: true,
      record: machineTombstone(Number(k)),
      schemaId: undefined,
    });
  });

  it.each([null, '', 'abc', '07', '-1', '1e3', ' 7', '7.0', '99999999999999999'])(
    'key %j → INVALID_KEY (a tombstone is nothing but its key)',
    (k) => {
      const r = decoder.decode('machines', null, key(k));
      expect(r).toMatchObject({ ok: false, reason: 'INVALID_KEY', schemaId: undefined });
      expect(r.ok ? '' : r.message).toMatch(/^tombstone key .* expected a machineId as a decimal string$/);
    },
  );

  it.each(['telemetry', 'errors', 'maintenance', 'failures'] as const)(
    'a null value on %s stays a dead letter that says why',
    (kind) => {
      expect(decoder.decode(kind, null, key('7'))).toEqual({
        ok: false,
        reason: 'BAD_FRAME',
        message: `message has no value (a tombstone); only the compacted machines topic accepts tombstones, not ${kind}`,
        schemaId: undefined,
      });
    },
  );

  it('a decoded tombstone deletes the metadata in the feature engine', () => {
    const r = decoder.decode('machines', null, key('1'));
    if (!r.ok) throw new Error(r.message);
    const row = rowAt(
      runBatch([meta(1, 'model1', 5), { kind: 'machines', record: r.record }, tel(1, B), tel(1, B + 2 * H)])
        .rows,
      1,
      B,
    );
    expect(row === undefined ? NaN : feat(row, 'age')).toBe(-1);
    expect(row === undefined ? NaN : feat(row, 'model_model1')).toBe(0);
  });
});

describe('issue 9: batch path with a fixed processing clock', () => {
  it('future events are FUTURE_EVENT and future failures are no labels', async () => {
    const NOW = T0 + 3 * D;
    const events = [
      ...hourly(1, T0, 3 * 24),
      fail(1, T0 + 2 * D, 'comp1'),
      fail(1, NOW + 2 * H, 'comp2'),
      tel(1, NOW + 2 * H),
      err(1, NOW + 3 * H),
    ];
    events.sort((a, b) => (a.kind === 'machines' || b.kind === 'machines' ? 0 : a.record.ts - b.record.ts));
    const outcomes: string[] = [];
    const labels: number[] = [];
    const summary = await buildFeatures(events, {
      config: CONFIG,
      labels: true,
      nowMs: NOW,
      onRows: (_rows, l) => {
        labels.push(...(l ?? []));
      },
      onOutcome: (o) => outcomes.push(`${o.kind} ${o.recordKind}`),
    });
    expect(outcomes.sort()).toEqual([
      'FUTURE_EVENT errors',
      'FUTURE_EVENT failures',
      'FUTURE_EVENT telemetry',
    ]);
    expect(summary.labelFailures).toBe(1);
    expect(summary.nowMs).toBe(NOW);
    expect(summary.counts.future).toBe(3);
    expect(labels).not.toContain(2);
    expect(labels).toContain(1);
  });
});

describe('issue 9: the feature geometry is checked when settings are loaded', () => {
  it.each([
    { env: { PDM_BUCKET_MS: '1000' }, error: /PDM_BUCKET_MS: bucketMs 1000 gives window slots of 1000 ms/ },
    { env: { PDM_BUCKET_MS: '100001' }, error: /PDM_BUCKET_MS: bucketMs 100001 gives window slots/ },
    { env: { PDM_FUTURE_SKEW_MS: '-1' }, error: /PDM_FUTURE_SKEW_MS/ },
  ])('$env → ConfigError (exit 2 for every command)', ({ env, error }) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(error);
  });

  it.each([
    { env: {}, bucketMs: 43_200_000, futureSkewMs: 3_600_000 },
    { env: { PDM_BUCKET_MS: '1800000', PDM_FUTURE_SKEW_MS: '0' }, bucketMs: 1_800_000, futureSkewMs: 0 },
    { env: { PDM_BUCKET_MS: '172800000' }, bucketMs: 172_800_000, futureSkewMs: 3_600_000 },
  ])('$env → accepted', ({ env, bucketMs, futureSkewMs }) => {
    expect(loadConfig(env).features).toMatchObject({ bucketMs, futureSkewMs });
  });
});
