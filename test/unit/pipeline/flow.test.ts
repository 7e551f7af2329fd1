/**
 * The output flow is the last step before a commit: an emission's promise must resolve only once ClickHouse
 * acknowledged its predictions, feature vectors and dead letters, and those of every emission pushed before
 * it (house style rule 7; the source commits a batch when its emission settles). Replacing the write
 * stage's `await Promise.all(writes)` by a fire-and-forget, or letting two write groups overlap, makes
 * these tests fail.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { from, map, mergeMap, Observable, throwError, timer, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../src/dlq/index.js';
import { FEATURE_COUNT, FEATURE_SET, SPEC_HASH, type FeatureRow } from '../../../src/features/index.js';
import {
  coalesceWhileBusy,
  createFlow,
  type Emission,
  type Flow,
  type FlowOptions,
} from '../../../src/pipeline/flow.js';
import type { OutputWriters, RowScorer, SourceCoordinates } from '../../../src/pipeline/outputs.js';
import { PdmError } from '../../../src/shared/errors.js';
import { createEngineMetrics } from '../../../src/shared/metrics.js';
import type { DeadLetterRow, FeatureVectorRow, PredictionRow } from '../../../src/sink/index.js';
import { createFakeClickHouse, MODERN_CAPS, type FakeClickHouse } from './fake-clickhouse.js';
import { createTestScorer, createTestWriters, H, MODEL_VERSION, T0 } from './harness.js';
import { deferred, drain, track, until } from './settle.js';

const AT: SourceCoordinates = { topic: 'u.telemetry', partition: 1, offset: '41' };
const TABLE_NAMES = ['predictions', 'feature_vectors', 'dead_letters'] as const;

function featureRow(machineId: number, bucketMs: number): FeatureRow {
  const values = new Float64Array(FEATURE_COUNT);
  for (let i = 0; i < values.length; i++) values[i] = machineId * 1000 + i + 0.5;
  return { machineId, bucketMs, values };
}

function deadLetter(offset: string, reason: DeadLetter['reason'] = 'LATE_EVENT'): DeadLetter {
  return {
    message: {
      topic: 'u.telemetry',
      partition: 1,
      offset,
      key: Buffer.from('7'),
      value: Buffer.from('payload'),
      timestampMs: T0,
    },
    reason,
    stage: 'features',
    error: 'reading before the last closed bucket',
    machineId: 7,
  };
}

const ROWS = [featureRow(7, T0 + 12 * H), featureRow(8, T0 + 12 * H)];
const DEAD = [deadLetter('39'), deadLetter('40', 'INVALID_VALUE')];

function emission(
  rows: readonly FeatureRow[],
  deadLetters: readonly DeadLetter[] = [],
  at: SourceCoordinates = AT,
): Emission {
  return { at, rows, deadLetters, receivedAtMs: Date.now() };
}

/** The test writers, recording each `write()` call the flow makes (before the writers' own batching). */
function recordingWriters(ch: FakeClickHouse): {
  writers: OutputWriters;
  writes: { table: string; rows: number }[];
} {
  const inner = createTestWriters(ch);
  const writes: { table: string; rows: number }[] = [];
  const writers: OutputWriters = {
    predictions: {
      ...inner.predictions,
      write: (rows) => {
        writes.push({ table: 'predictions', rows: rows.length });
        return inner.predictions.write(rows);
      },
    },
    features: {
      ...inner.features,
      write: (rows) => {
        writes.push({ table: 'feature_vectors', rows: rows.length });
        return inner.features.write(rows);
      },
    },
    deadLetters: {
      ...inner.deadLetters,
      write: (rows) => {
        writes.push({ table: 'dead_letters', rows: rows.length });
        return inner.deadLetters.write(rows);
      },
    },
  };
  return { writers, writes };
}

/** A scorer whose calls can be held: while held, each call waits until `release()`. */
function holdableScorer(): RowScorer & {
  readonly calls: (readonly FeatureRow[])[];
  hold(): void;
  release(): void;
} {
  const inner = createTestScorer();
  const calls: (readonly FeatureRow[])[] = [];
  let held = false;
  let waiting: (() => void)[] = [];
  return {
    calls,
    modelVersion: inner.modelVersion,
    async score(rows) {
      calls.push(rows);
      if (held) await new Promise<void>((r) => waiting.push(r));
      return inner.score(rows);
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
      const ws = waiting;
      waiting = [];
      for (const w of ws) w();
    },
  };
}

function setup(options: Partial<FlowOptions> = {}) {
  const ch = createFakeClickHouse();
  const scorer = holdableScorer();
  const { writers, writes } = recordingWriters(ch);
  const metrics = createEngineMetrics({ defaultMetrics: false });
  const flow: Flow = createFlow({ scorer, writers, caps: MODERN_CAPS, metrics, ...options });
  return { ch, scorer, writers, writes, metrics, flow };
}

describe('flow: an emission settles only after every insert of it is acknowledged', () => {
  it('stays pending while the inserts are held, resolves once all three are acknowledged', async () => {
    const { ch, flow } = setup();
    ch.hold();
    const done = track(flow.push(emission(ROWS, DEAD)));
    await ch.insertsReached(3);
    await drain(20);
    expect(ch.inserts.map((i) => i.table).sort()).toEqual([...TABLE_NAMES].sort());
    expect(done.state()).toBe('pending');
    ch.release();
    await done.promise;
  });

  it.each(TABLE_NAMES)('stays pending while only the %s insert is unacknowledged', async (table) => {
    const { ch, flow } = setup();
    ch.hold();
    const done = track(flow.push(emission(ROWS, DEAD)));
    await ch.insertsReached(3);
    for (const i of ch.pendingInserts()) if (i.table !== table) i.ack();
    await drain(20);
    expect(done.state()).toBe('pending');
    ch.pendingInserts()[0]?.ack();
    await done.promise;
    expect(done.state()).toBe('resolved');
  });

  it('waits for dead letters alone when the batch closed no bucket (and scores nothing)', async () => {
    const { ch, flow, scorer } = setup();
    ch.hold();
    const done = track(flow.push(emission([], DEAD)));
    await ch.insertsReached(1);
    await drain(20);
    expect(done.state()).toBe('pending');
    ch.release();
    await done.promise;
    expect(scorer.calls).toEqual([]);
    expect(ch.inserts.map((i) => i.table)).toEqual(['dead_letters']);
  });

  it('resolves, with no insert, when there is nothing to write', async () => {
    const { ch, flow, scorer } = setup();
    await flow.push(emission([], []));
    await drain();
    expect(ch.inserts).toEqual([]);
    expect(scorer.calls).toEqual([]);
  });

  it.each(TABLE_NAMES)(
    'retries a transient failure of the %s insert and resolves only after it is acknowledged',
    async (table) => {
      const { ch, flow } = setup();
      ch.failNext(1, { table });
      const done = track(flow.push(emission(ROWS, DEAD)));
      await ch.insertsReached(3);
      await drain(20);
      expect(ch.inserts.find((i) => i.table === table)?.state).toBe('failed');
      expect(done.state()).toBe('pending');
      await done.promise;
      const attempts = ch.inserts.filter((i) => i.table === table);
      expect(attempts.map((i) => i.state)).toEqual(['failed', 'acked']);
      expect(attempts[1]?.rows).toEqual(attempts[0]?.rows);
    },
  );

  it('counts predictions and dead letters in the metrics only after their acknowledgement', async () => {
    const { ch, flow, metrics } = setup();
    ch.hold();
    const done = flow.push(emission(ROWS, DEAD));
    await ch.insertsReached(3);
    const before = await metrics.registry.getSingleMetricAsString('pdm_predictions_total');
    expect(before).toMatch(/pdm_predictions_total 0/);
    ch.release();
    await done;
    expect(await metrics.registry.getSingleMetricAsString('pdm_predictions_total')).toMatch(
      /pdm_predictions_total 2/,
    );
    const dl = await metrics.registry.getSingleMetricAsString('pdm_dead_letters_total');
    expect(dl).toMatch(/reason="LATE_EVENT",topic="u.telemetry"} 1/);
    expect(dl).toMatch(/reason="INVALID_VALUE",topic="u.telemetry"} 1/);
  });
});

describe('flow: failures', () => {
  it('a non-retryable insert failure rejects the emission, every later one, `failed` and `drain()`', async () => {
    const { ch, flow } = setup();
    const mismatch = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    ch.hold();
    const first = track(flow.push(emission(ROWS, DEAD)));
    await ch.insertsReached(3);
    // Pushed while the first write is in flight: queued behind it, never acknowledged.
    const second = track(flow.push(emission([featureRow(9, T0 + 12 * H)], [], { ...AT, offset: '42' })));
    const failed = track(flow.failed);
    ch.pendingInserts()
      .find((i) => i.table === 'feature_vectors')
      ?.fail(mismatch);
    ch.release();
    await drain(20);
    expect(first.state()).toBe('rejected');
    expect(first.error()).toBe(mismatch);
    expect(second.state()).toBe('rejected');
    expect(second.error()).toBe(mismatch);
    expect(failed.state()).toBe('rejected');
    expect(failed.error()).toBe(mismatch);
    // Its rows were never sent: nothing of it can be mistaken for acknowledged.
    expect(ch.inserts.filter((i) => i.table === 'predictions')).toHaveLength(1);
    // A failed flow accepts nothing more.
    await expect(flow.push(emission(ROWS))).rejects.toBe(mismatch);
    await expect(flow.room()).rejects.toBe(mismatch);
    await expect(flow.drain()).rejects.toBe(mismatch);
  });

  it('a non-retryable failure of the first insert attempt rejects (no retry)', async () => {
    const { ch, flow } = setup();
    const mismatch = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    ch.failNext(1, { table: 'feature_vectors', error: mismatch });
    await expect(flow.push(emission(ROWS, DEAD))).rejects.toBe(mismatch);
    await expect(flow.failed).rejects.toBe(mismatch);
    expect(ch.inserts.filter((i) => i.table === 'feature_vectors')).toHaveLength(1);
  });

  it('rejects when the scorer returns fewer results than rows (programmer error)', async () => {
    const ch = createFakeClickHouse();
    const flow = createFlow({
      scorer: { modelVersion: MODEL_VERSION, score: () => Promise.resolve([]) },
      writers: createTestWriters(ch),
      caps: MODERN_CAPS,
      metrics: createEngineMetrics({ defaultMetrics: false }),
    });
    await expect(flow.push(emission(ROWS))).rejects.toThrow(/scorer returned 0 results for 2/);
    await expect(flow.failed).rejects.toThrow(/scorer returned 0 results for 2/);
    expect(ch.inserts).toEqual([]);
  });

  it('wakes a caller waiting for room with the failure', async () => {
    const { ch, flow } = setup({ maxInFlight: 1 });
    const mismatch = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    ch.hold();
    const pushed = track(flow.push(emission(ROWS)));
    const room = track(flow.room());
    await ch.insertsReached(2);
    expect(room.state()).toBe('pending');
    ch.pendingInserts()[0]?.fail(mismatch);
    await drain();
    expect(pushed.state()).toBe('rejected');
    expect(room.state()).toBe('rejected');
    expect(room.error()).toBe(mismatch);
  });
});

describe('flow: order and coalescing', () => {
  it('writes one group at a time: the next group is not even sent while the previous one is held', async () => {
    const { ch, flow, writes } = setup();
    ch.hold();
    const settled: string[] = [];
    const first = flow.push(emission(ROWS, DEAD, { ...AT, offset: '41' }));
    void first.then(() => settled.push('41'));
    await ch.insertsReached(3);
    const second = flow.push(
      emission([featureRow(9, T0 + 12 * H)], [deadLetter('42')], { ...AT, offset: '43' }),
    );
    void second.then(() => settled.push('43'));
    await drain(20);
    // Nothing of the second emission reached the writers, though it is scored and ready.
    expect(writes).toHaveLength(3);
    expect(ch.inserts).toHaveLength(3);
    expect(settled).toEqual([]);
    ch.release();
    await Promise.all([first, second]);
    expect(settled).toEqual(['41', '43']);
    expect(ch.inserts.map((i) => i.state)).toEqual(Array(6).fill('acked'));
  });

  it('settles emissions in push order', async () => {
    const { ch, flow } = setup();
    ch.hold();
    const settled: number[] = [];
    const pushed = [0, 1, 2, 3, 4].map((i) => {
      const p = flow.push(emission([featureRow(i + 1, T0 + 12 * H)], [], { ...AT, offset: String(i) }));
      void p.then(() => settled.push(i));
      return p;
    });
    await ch.insertsReached(2);
    ch.release();
    await Promise.all(pushed);
    expect(settled).toEqual([0, 1, 2, 3, 4]);
  });

  it('emissions pushed while a write is held go out afterwards as one write and one insert per table', async () => {
    const { ch, flow, writes } = setup();
    ch.hold();
    const first = flow.push(emission(ROWS, DEAD, { ...AT, offset: '41' }));
    await ch.insertsReached(3);
    const later = [
      flow.push(emission([featureRow(9, T0 + 12 * H)], [deadLetter('42')], { ...AT, offset: '43' })),
      flow.push(emission([], [deadLetter('44')], { ...AT, offset: '44' })),
      flow.push(
        emission([featureRow(10, T0 + 12 * H), featureRow(11, T0 + 12 * H)], [], { ...AT, offset: '45' }),
      ),
    ];
    await drain(20);
    ch.release();
    await Promise.all([first, ...later]);
    expect(writes.slice(3).sort((a, b) => a.table.localeCompare(b.table))).toEqual([
      { table: 'dead_letters', rows: 2 },
      { table: 'feature_vectors', rows: 3 },
      { table: 'predictions', rows: 3 },
    ]);
    const inserts = ch.inserts.slice(3);
    expect(inserts.map((i) => i.table).sort()).toEqual([...TABLE_NAMES].sort());
    // Each prediction keeps the coordinates of the batch that closed it, in push order.
    const preds = ch.stored<PredictionRow>('predictions');
    expect(preds.map((p) => [p.machine_id, p.source_offset])).toEqual([
      [7, '41'],
      [8, '41'],
      [9, '43'],
      [10, '45'],
      [11, '45'],
    ]);
    expect(ch.stored<FeatureVectorRow>('feature_vectors').map((v) => v.machine_id)).toEqual([
      7, 8, 9, 10, 11,
    ]);
    expect(ch.stored<DeadLetterRow>('dead_letters').map((d) => d.offset)).toEqual(['39', '40', '42', '44']);
  });

  it('emissions pushed while the scorer is busy are scored in one call', async () => {
    const { flow, scorer } = setup();
    scorer.hold();
    const first = flow.push(emission(ROWS));
    await until('first scorer call', () => scorer.calls.length === 1);
    const later = [
      flow.push(emission([featureRow(9, T0 + 12 * H)])),
      flow.push(emission([], [deadLetter('44')])),
      flow.push(emission([featureRow(10, T0 + 12 * H), featureRow(11, T0 + 12 * H)])),
    ];
    await drain();
    scorer.release();
    await Promise.all([first, ...later]);
    expect(scorer.calls.map((rows) => rows.map((r) => r.machineId))).toEqual([
      [7, 8],
      [9, 10, 11],
    ]);
  });

  it('scores the next group while the previous one is being written', async () => {
    const { ch, flow, scorer } = setup();
    ch.hold();
    const first = flow.push(emission(ROWS));
    await ch.insertsReached(2);
    const second = flow.push(emission([featureRow(9, T0 + 12 * H)]));
    await until('second group scored', () => scorer.calls.length === 2);
    expect(ch.inserts).toHaveLength(2);
    ch.release();
    await Promise.all([first, second]);
  });
});

describe('flow: backpressure and drain', () => {
  it('room() waits while maxInFlight emissions are unacknowledged, and resumes after an ack', async () => {
    const { ch, flow } = setup({ maxInFlight: 2 });
    ch.hold();
    await flow.room();
    const a = flow.push(emission(ROWS));
    await flow.room();
    const b = flow.push(emission([featureRow(9, T0 + 12 * H)]));
    const room = track(flow.room());
    await ch.insertsReached(2);
    await drain(20);
    expect(room.state()).toBe('pending');
    // Acknowledging the first group (a) frees a slot; b is then written, still held.
    for (const i of ch.pendingInserts()) i.ack();
    await a;
    await drain();
    expect(room.state()).toBe('resolved');
    await ch.insertsReached(4);
    expect(ch.pendingInserts()).toHaveLength(2);
    ch.release();
    await b;
  });

  it('room() waits while maxInFlightRows rows and dead letters are unacknowledged', async () => {
    const { ch, flow } = setup({ maxInFlightRows: 4 });
    ch.hold();
    const a = flow.push(emission(ROWS));
    // 2 of 4: room.
    await flow.room();
    const b = flow.push(emission([], DEAD));
    const room = track(flow.room());
    await ch.insertsReached(2);
    await drain(20);
    expect(room.state()).toBe('pending');
    ch.release();
    await Promise.all([a, b]);
    await drain();
    expect(room.state()).toBe('resolved');
  });

  it('room() lets an emission larger than maxInFlightRows through when nothing is in flight', async () => {
    const { flow } = setup({ maxInFlightRows: 1 });
    await flow.room();
    await flow.push(emission(ROWS, DEAD));
    await flow.room();
  });

  it('emissions pushed by the promise continuations of one event are scored as one group', async () => {
    const { flow, scorer } = setup();
    const answer = Promise.resolve();
    const pushed = [0, 1, 2].map((i) => answer.then(() => flow.push(emission(i === 1 ? [] : ROWS))));
    await Promise.all(pushed);
    expect(scorer.calls.map((rows) => rows.length)).toEqual([2 * ROWS.length]);
  });

  it('drain() resolves at once with nothing pushed, else once everything pushed is acknowledged', async () => {
    const { ch, flow } = setup();
    await flow.drain();
    ch.hold();
    const first = flow.push(emission(ROWS));
    await ch.insertsReached(2);
    // Pushed while the first group's inserts are held: the second is a group of its own.
    const pushed = [first, flow.push(emission([], DEAD))];
    const drained = track(flow.drain());
    await drain(20);
    expect(drained.state()).toBe('pending');
    for (const i of ch.pendingInserts()) i.ack();
    await pushed[0];
    await drain();
    // The dead letters of the second emission are still held.
    expect(drained.state()).toBe('pending');
    ch.release();
    await drained.promise;
    expect(ch.stored('dead_letters')).toHaveLength(2);
    await Promise.all(pushed);
  });
});

describe('flow: rows', () => {
  it('writes one prediction per scored row with the source coordinates of the batch', async () => {
    const { ch, flow } = setup();
    await flow.push(emission(ROWS));
    const preds = ch.stored<PredictionRow>('predictions');
    expect(preds).toHaveLength(2);
    expect(preds[0]).toMatchObject({
      machine_id: 7,
      bucket_ts: '2015-01-01 12:00:00',
      p_none: 0.5,
      p_comp1: 7,
      p_comp2: (T0 + 12 * H) / H,
      p_comp3: 0,
      p_comp4: 0,
      predicted_class: 'none',
      predicted_index: 0,
      model_version: MODEL_VERSION,
      spec_hash: SPEC_HASH,
      source_topic: 'u.telemetry',
      source_partition: 1,
      source_offset: '41',
    });
    expect(preds[1]).toMatchObject({ machine_id: 8, bucket_ts: '2015-01-01 12:00:00', p_comp1: 8 });
  });

  it('writes the scored feature vectors, values in feature order', async () => {
    const { ch, flow } = setup();
    await flow.push(emission(ROWS));
    const vecs = ch.stored<FeatureVectorRow>('feature_vectors');
    expect(vecs.map((v) => [v.machine_id, v.bucket_ts])).toEqual([
      [7, '2015-01-01 12:00:00'],
      [8, '2015-01-01 12:00:00'],
    ]);
    expect(vecs[0]).toMatchObject({
      spec_hash: SPEC_HASH,
      feature_set: FEATURE_SET,
      model_version: MODEL_VERSION,
    });
    expect(Array.from(vecs[0]?.features ?? [])).toEqual(Array.from(ROWS[0]?.values ?? []));
    // The same scored_at on both tables: one write group.
    expect(vecs[0]?.scored_at).toBe(ch.stored<PredictionRow>('predictions')[0]?.scored_at);
  });

  it('writes the dead letters with their reason, stage, machine and Kafka coordinates', async () => {
    const { ch, flow } = setup();
    await flow.push(emission([], DEAD));
    const rows = ch.stored<DeadLetterRow>('dead_letters');
    expect(rows.map((r) => [r.topic, r.partition, r.offset, r.reason, r.stage, r.machine_id, r.key])).toEqual(
      [
        ['u.telemetry', 1, '39', 'LATE_EVENT', 'features', 7, '7'],
        ['u.telemetry', 1, '40', 'INVALID_VALUE', 'features', 7, '7'],
      ],
    );
    expect(rows[0]).toMatchObject({
      payload_base64: Buffer.from('payload').toString('base64'),
      payload_bytes: 7,
      error_message: 'reading before the last closed bucket',
      message_ts: '2015-01-01 00:00:00',
    });
  });
});

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/** Work that takes `frames` virtual frames per group and then emits the group. */
function slowWork(frames: number, calls: (readonly string[])[] = []): OperatorFunction<string, string[]> {
  return coalesceWhileBusy((group: readonly string[]) => {
    calls.push(group);
    return timer(frames).pipe(map(() => [...group]));
  });
}

describe('coalesceWhileBusy (marbles)', () => {
  it('runs one group at a time; what arrives meanwhile is the next group, in arrival order', () => {
    const calls: (readonly string[])[] = [];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c-------d--|', { a: 'a', b: 'b', c: 'c', d: 'd' });
      // a: frames 0–5; b and c arrived meanwhile: 5–10; idle; d: 12–17; the source completed at 15.
      expectObservable(source.pipe(slowWork(5, calls))).toBe('-----a----x------(y|)', {
        a: ['a'],
        x: ['b', 'c'],
        y: ['d'],
      });
      expectSubscriptions(source.subscriptions).toBe('^--------------!');
    });
    expect(calls).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('passes groups to the work exactly as formed', () => {
    const calls: (readonly string[])[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      // [a] 0–5; [b, c, d] 5–10; idle; [e] 11–16, then the completion seen at 13.
      const source = cold('abc-d------e-|');
      expectObservable(source.pipe(slowWork(5, calls))).toBe('-----x----y-----(z|)', {
        x: ['a'],
        y: ['b', 'c', 'd'],
        z: ['e'],
      });
    });
    expect(calls).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('completes when the source completes while idle', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a----|').pipe(slowWork(2))).toBe('--a--|', { a: ['a'] });
      expectObservable(cold('|').pipe(slowWork(2))).toBe('|');
    });
  });

  it('emits every value of a group before the next group starts (order kept across groups)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc|');
      const work = coalesceWhileBusy((group: readonly string[]) =>
        from(group).pipe(mergeMap((x, i) => timer(3 - i).pipe(map(() => x)))),
      );
      // [a] 0–3; [b, c] 3–6 (b due at 6, c at 5): nothing of a later group before all of an earlier one.
      expectObservable(source.pipe(work)).toBe('---a-c(b|)');
    });
  });

  it('an error of the work ends the stream at once; later groups never run', () => {
    const calls: (readonly string[])[] = [];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a--e--f--|');
      const work = coalesceWhileBusy((group: readonly string[]) => {
        calls.push(group);
        return group.includes('e')
          ? timer(2).pipe(mergeMap(() => throwError(() => new Error('boom'))))
          : timer(2).pipe(map(() => group.join('')));
      });
      expectObservable(source.pipe(work)).toBe('--a--#', { a: 'a' }, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    expect(calls).toEqual([['a'], ['e']]);
  });

  it('an error of the source ends the stream at once, even while a group is in progress', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-#').pipe(slowWork(4))).toBe('--#');
    });
  });
});

describe('coalesceWhileBusy (promise work)', () => {
  it('groups what arrives while a promise is pending, emits results in group order', async () => {
    const groups: (readonly number[])[] = [];
    const pending: ReturnType<typeof deferred<number>>[] = [];
    const out: number[] = [];
    let completed = false;
    const input = new Observable<number>((s) => {
      s.next(1);
      void sleep(5).then(() => {
        s.next(2);
        s.next(3);
        s.complete();
      });
    });
    input
      .pipe(
        coalesceWhileBusy((group: readonly number[]) => {
          groups.push(group);
          const d = deferred<number>();
          pending.push(d);
          return d.promise;
        }),
      )
      .subscribe({ next: (v) => out.push(v), complete: () => (completed = true) });
    await sleep(20);
    expect(groups).toEqual([[1]]);
    pending[0]?.resolve(10);
    await drain();
    expect(groups).toEqual([[1], [2, 3]]);
    expect(out).toEqual([10]);
    expect(completed).toBe(false);
    pending[1]?.resolve(23);
    await drain();
    expect(out).toEqual([10, 23]);
    expect(completed).toBe(true);
  });

  it('a rejected promise errors the stream', async () => {
    const err = new Error('insert failed');
    const errors: unknown[] = [];
    from([1, 2])
      .pipe(coalesceWhileBusy(() => Promise.reject(err)))
      .subscribe({ error: (e: unknown) => errors.push(e) });
    await drain();
    expect(errors).toEqual([err]);
  });
});

describe('flow: backlog spacing (fewer, larger inserts while catching up)', () => {
  const predictionWrites = (writes: readonly { table: string; rows: number }[]) =>
    writes.filter((w) => w.table === 'predictions').map((w) => w.rows);
  const OTHER = [featureRow(9, T0 + 24 * H), featureRow(10, T0 + 24 * H)];
  const MORE = [featureRow(11, T0 + 36 * H)];

  /** A flow catching up (interval 5 s) whose second group is held after the first was written. */
  async function withHeldGroup(options: Partial<FlowOptions> = {}) {
    const t = setup({ ...options, backlogWrites: { intervalMs: 5_000, catchingUp: () => true } });
    await t.flow.push(emission(ROWS));
    const second = track(t.flow.push(emission(OTHER)));
    await drain(30);
    expect(second.state()).toBe('pending');
    return { ...t, second };
  }

  it('catching up, what closes within the interval after a write goes out as one insert at its end', async () => {
    const { flow, writes } = setup({ backlogWrites: { intervalMs: 1_500, catchingUp: () => true } });
    const started = performance.now();
    await flow.push(emission(ROWS));
    const second = track(flow.push(emission(OTHER)));
    await drain(50);
    expect(second.state()).toBe('pending');
    // Pushed after the second was scored and queued for writing: the hold, not the scoring, joins them.
    const third = track(flow.push(emission(MORE)));
    await drain(50);
    expect(predictionWrites(writes)).toEqual([2]);
    await Promise.all([second.promise, third.promise]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(predictionWrites(writes)).toEqual([2, 3]);
  });

  it.each([
    ['live (not catching up)', { intervalMs: 5_000, catchingUp: () => false }],
    ['interval 0, even while catching up', { intervalMs: 0, catchingUp: () => true }],
  ] as const)('%s: each group is written as soon as the previous write is done', async (_, spacing) => {
    const { flow, writes } = setup({ backlogWrites: spacing });
    await flow.push(emission(ROWS));
    const started = performance.now();
    await flow.push(emission(OTHER));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(predictionWrites(writes)).toEqual([2, 2]);
  });

  it('a drain (stop, rebalance) writes a held group at once', async () => {
    const { flow, writes, second } = await withHeldGroup();
    const started = performance.now();
    await flow.drain();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(second.state()).toBe('resolved');
    expect(predictionWrites(writes)).toEqual([2, 2]);
  });

  it('a push once caught up ends the wait', async () => {
    let behind = true;
    const { flow, writes } = setup({ backlogWrites: { intervalMs: 5_000, catchingUp: () => behind } });
    await flow.push(emission(ROWS));
    const second = track(flow.push(emission(OTHER)));
    await drain(30);
    expect(second.state()).toBe('pending');
    behind = false;
    const started = performance.now();
    await flow.push(emission(MORE));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(second.state()).toBe('resolved');
    expect(predictionWrites(writes).reduce((a, b) => a + b, 0)).toBe(5);
  });

  it.each([
    ['emissions (maxInFlight 4)', { maxInFlight: 4 }],
    ['rows (maxInFlightRows 6)', { maxInFlightRows: 6 }],
  ] as const)(
    'a push that brings the flow to half its bound in %s writes the held group at once',
    async (_, bound) => {
      // Below half (1 emission, 2 rows in flight): held.
      const { flow, writes, second } = await withHeldGroup(bound);
      const started = performance.now();
      // Half (2 of 4 emissions, 3 of 6 rows): the held group goes.
      const third = track(flow.push(emission(MORE)));
      await second.promise;
      expect(performance.now() - started).toBeLessThan(1_000);
      flow.flush();
      await third.promise;
      expect(predictionWrites(writes).reduce((a, b) => a + b, 0)).toBe(5);
    },
  );

  it('a caller waiting for room never waits for a held group: it went at half the bound', async () => {
    const { flow, writes, second } = await withHeldGroup({ maxInFlight: 3 });
    const third = track(flow.push(emission(MORE)));
    const fourth = track(flow.push(emission([featureRow(12, T0 + 48 * H)])));
    const started = performance.now();
    await flow.room();
    expect(performance.now() - started).toBeLessThan(1_000);
    await second.promise;
    flow.flush();
    await Promise.all([third.promise, fourth.promise]);
    expect(predictionWrites(writes).reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('flush (the engine stops) writes a held group at once and holds none after it', async () => {
    const { flow, writes, second } = await withHeldGroup();
    const started = performance.now();
    flow.flush();
    await second.promise;
    await flow.push(emission(MORE));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(predictionWrites(writes)).toEqual([2, 2, 1]);
  });

  it('an early release ends one hold only: the next write that follows closely waits again', async () => {
    let behind = true;
    const { flow, writes } = setup({ backlogWrites: { intervalMs: 5_000, catchingUp: () => behind } });
    await flow.push(emission(ROWS));
    const second = track(flow.push(emission(OTHER)));
    await drain(30);
    behind = false;
    await flow.push(emission(MORE));
    expect(second.state()).toBe('resolved');
    behind = true;
    const fourth = track(flow.push(emission([featureRow(12, T0 + 48 * H)])));
    await drain(50);
    expect(fourth.state()).toBe('pending');
    flow.flush();
    await fourth.promise;
    expect(predictionWrites(writes).reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('a group without predictions does not start the interval: the first predictions go at once', async () => {
    const { flow, writes } = setup({ backlogWrites: { intervalMs: 5_000, catchingUp: () => true } });
    await flow.push(emission([]));
    await flow.push(emission([], DEAD));
    const started = performance.now();
    await flow.push(emission(ROWS));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(predictionWrites(writes)).toEqual([2]);
  });
});
