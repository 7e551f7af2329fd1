/**
 * emit() is the last step before a commit: it must resolve only once ClickHouse acknowledged the
 * predictions, the feature vectors and the dead letters of the batch (house style rule 7). Replacing its
 * `await Promise.all(writes)` by a fire-and-forget makes these tests fail.
 */
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../src/dlq/index.js';
import { FEATURE_COUNT, FEATURE_SET, SPEC_HASH, type FeatureRow } from '../../../src/features/index.js';
import { emit, type EmitContext, type SourceCoordinates } from '../../../src/pipeline/outputs.js';
import { PdmError } from '../../../src/shared/errors.js';
import { createEngineMetrics } from '../../../src/shared/metrics.js';
import type { DeadLetterRow, FeatureVectorRow, PredictionRow } from '../../../src/sink/index.js';
import { createFakeClickHouse, MODERN_CAPS, type FakeClickHouse } from './fake-clickhouse.js';
import { createTestScorer, createTestWriters, H, MODEL_VERSION, T0 } from './harness.js';
import { drain, track } from './settle.js';

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

function setup(): { ch: FakeClickHouse; ctx: EmitContext; scorer: ReturnType<typeof createTestScorer> } {
  const ch = createFakeClickHouse();
  const scorer = createTestScorer();
  const ctx: EmitContext = {
    scorer,
    writers: createTestWriters(ch),
    caps: MODERN_CAPS,
    metrics: createEngineMetrics({ defaultMetrics: false }),
  };
  return { ch, ctx, scorer };
}

const ROWS = [featureRow(7, T0 + 12 * H), featureRow(8, T0 + 12 * H)];
const DEAD = [deadLetter('39'), deadLetter('40', 'INVALID_VALUE')];

describe('emit: resolves only after every insert of the batch is acknowledged', () => {
  it('stays pending while the inserts are held, resolves once all three are acknowledged', async () => {
    const { ch, ctx } = setup();
    ch.hold();
    const done = track(emit(ctx, ROWS, DEAD, AT, Date.now()));
    await ch.insertsReached(3);
    await drain(20);
    expect(ch.inserts.map((i) => i.table).sort()).toEqual([...TABLE_NAMES].sort());
    expect(done.state()).toBe('pending');
    ch.release();
    await done.promise;
  });

  it.each(TABLE_NAMES)('stays pending while only the %s insert is unacknowledged', async (table) => {
    const { ch, ctx } = setup();
    ch.hold();
    const done = track(emit(ctx, ROWS, DEAD, AT, Date.now()));
    await ch.insertsReached(3);
    for (const i of ch.pendingInserts()) if (i.table !== table) i.ack();
    await drain(20);
    expect(done.state()).toBe('pending');
    ch.pendingInserts()[0]?.ack();
    await done.promise;
    expect(done.state()).toBe('resolved');
  });

  it('waits for dead letters alone when the batch closed no bucket', async () => {
    const { ch, ctx, scorer } = setup();
    ch.hold();
    const done = track(emit(ctx, [], DEAD, AT, Date.now()));
    await ch.insertsReached(1);
    await drain(20);
    expect(done.state()).toBe('pending');
    ch.release();
    await done.promise;
    expect(scorer.calls).toEqual([]);
    expect(ch.inserts.map((i) => i.table)).toEqual(['dead_letters']);
  });

  it('resolves at once, with no insert, when there is nothing to write', async () => {
    const { ch, ctx } = setup();
    await emit(ctx, [], [], AT, Date.now());
    await drain();
    expect(ch.inserts).toEqual([]);
  });

  it.each(TABLE_NAMES)(
    'retries a transient failure of the %s insert and resolves only after it is acknowledged',
    async (table) => {
      const { ch, ctx } = setup();
      ch.failNext(1, { table });
      const done = track(emit(ctx, ROWS, DEAD, AT, Date.now()));
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

  it('rejects when an insert fails non-retryably, so the batch is never committed', async () => {
    const { ch, ctx } = setup();
    const mismatch = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    ch.failNext(1, { table: 'feature_vectors', error: mismatch });
    await expect(emit(ctx, ROWS, DEAD, AT, Date.now())).rejects.toBe(mismatch);
  });

  it('rejects when the scorer returns fewer results than rows (programmer error)', async () => {
    const { ctx } = setup();
    const short: EmitContext = {
      ...ctx,
      scorer: { modelVersion: MODEL_VERSION, score: () => Promise.resolve([]) },
    };
    await expect(emit(short, ROWS, [], AT, Date.now())).rejects.toThrow(/scorer returned 0 results for 2/);
  });

  it('counts predictions and dead letters in the metrics only after their acknowledgement', async () => {
    const { ch, ctx } = setup();
    ch.hold();
    const done = emit(ctx, ROWS, DEAD, AT, Date.now());
    await ch.insertsReached(3);
    const before = await ctx.metrics.registry.getSingleMetricAsString('pdm_predictions_total');
    expect(before).toMatch(/pdm_predictions_total 0/);
    ch.release();
    await done;
    expect(await ctx.metrics.registry.getSingleMetricAsString('pdm_predictions_total')).toMatch(
      /pdm_predictions_total 2/,
    );
    const dl = await ctx.metrics.registry.getSingleMetricAsString('pdm_dead_letters_total');
    expect(dl).toMatch(/reason="LATE_EVENT",topic="u.telemetry"} 1/);
    expect(dl).toMatch(/reason="INVALID_VALUE",topic="u.telemetry"} 1/);
  });
});

describe('emit: rows', () => {
  it('writes one prediction per scored row with the source coordinates of the batch', async () => {
    const { ch, ctx } = setup();
    await emit(ctx, ROWS, [], AT, Date.now());
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
    const { ch, ctx } = setup();
    await emit(ctx, ROWS, [], AT, Date.now());
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
    expect(vecs[0]?.features).toEqual(Array.from(ROWS[0]?.values ?? []));
    // The same scored_at on both tables: one scoring pass.
    expect(vecs[0]?.scored_at).toBe(ch.stored<PredictionRow>('predictions')[0]?.scored_at);
  });

  it('writes the dead letters with their reason, stage, machine and Kafka coordinates', async () => {
    const { ch, ctx } = setup();
    await emit(ctx, [], DEAD, AT, Date.now());
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
