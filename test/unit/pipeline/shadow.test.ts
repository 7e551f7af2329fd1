/**
 * Shadow scoring in the flow (src/pipeline/shadow.ts): the shadow scores every group with the live model,
 * its rows carry the live answer of the same row and are acknowledged before the group's live predictions
 * are sent (the restore resumes after the latest live prediction), and a shadow that fails costs its rows
 * only: the live rows are written and the emission settles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { CLASSES, FEATURE_COUNT, type FeatureRow } from '../../../src/features/index.js';
import { createFlow, type Emission } from '../../../src/pipeline/flow.js';
import {
  predictionRow,
  type RowScorer,
  type ScoredLike,
  type SourceCoordinates,
} from '../../../src/pipeline/outputs.js';
import { createShadow, shadowRow, type Shadow } from '../../../src/pipeline/shadow.js';
import { startShadowScorer } from '../../../src/pipeline/start.js';
import { PdmError } from '../../../src/shared/errors.js';
import type { Logger } from '../../../src/shared/logger.js';
import { createEngineMetrics } from '../../../src/shared/metrics.js';
import { createBatchWriter, quoteIdent, TABLES, type ShadowPredictionRow } from '../../../src/sink/index.js';
import { createFakeClickHouse, MODERN_CAPS, type FakeClickHouse } from './fake-clickhouse.js';
import { createTestScorer, createTestWriters, DATABASE, H, MODEL_VERSION, T0 } from './harness.js';
import { drain, track } from './settle.js';

const AT: SourceCoordinates = { topic: 'u.telemetry', partition: 2, offset: '77' };
const SHADOW_VERSION = 'unit-shadow@2';
const SHADOW_PACKAGE = path.resolve(import.meta.dirname, '../../fixtures/models/pdm-shadow-1');

function featureRow(machineId: number, bucketMs: number): FeatureRow {
  return { machineId, bucketMs, values: new Float64Array(FEATURE_COUNT).fill(machineId) };
}

function emission(rows: readonly FeatureRow[]): Emission {
  return { at: AT, rows, deadLetters: [], receivedAtMs: Date.now() };
}

const ROWS = [featureRow(7, T0 + 12 * H), featureRow(8, T0 + 12 * H), featureRow(9, T0 + 24 * H)];

/** A shadow scorer: P(comp3) = machineId / 100, alerting for comp3 on machine 8 only; or failing. */
function shadowScorer(
  behaviour: { fail?: string; short?: boolean; hang?: boolean; reversed?: boolean } = {},
): RowScorer & { calls: number; reopens: number; reopen(): Promise<void> } {
  const scorer = {
    calls: 0,
    reopens: 0,
    modelVersion: SHADOW_VERSION,
    reopen() {
      scorer.reopens++;
      return Promise.resolve();
    },
    score(rows: readonly FeatureRow[]): Promise<readonly ScoredLike[]> {
      scorer.calls++;
      if (behaviour.fail !== undefined) return Promise.reject(new Error(behaviour.fail));
      if (behaviour.hang === true) return new Promise<never>(() => undefined);
      const out = rows.map((r) => ({
        machineId: r.machineId,
        bucketMs: r.bucketMs,
        probabilities: [0.9, 0, 0, r.machineId / 100, 0],
        predictedIndex: 0,
        predictedClass: CLASSES[0],
        alertMask: r.machineId === 8 ? 0b100 : 0,
        alertClass: r.machineId === 8 ? 'comp3' : 'none',
        warmingUp: false,
        modelVersion: SHADOW_VERSION,
      }));
      if (behaviour.reversed === true) out.reverse();
      return Promise.resolve(behaviour.short === true ? out.slice(1) : out);
    },
  };
  return scorer;
}

function logLines(): { log: Logger; lines: () => { msg: string }[] } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as { msg: string }) };
}

function setup(scorer: RowScorer, extra: { timeoutMs?: number; live?: RowScorer } = {}) {
  const ch = createFakeClickHouse();
  const registry = new Registry();
  const { log, lines } = logLines();
  const shadow: Shadow = createShadow({
    scorer,
    writer: shadowWriter(ch),
    log,
    registry,
    ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }),
  });
  const live = createTestScorer();
  const metrics = createEngineMetrics({ defaultMetrics: false });
  const flow = createFlow({
    scorer: extra.live ?? live,
    writers: createTestWriters(ch),
    caps: MODERN_CAPS,
    metrics,
    shadow,
  });
  const value = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return { ch, flow, live, lines, value, shadow };
}

/** The shadow's writer as `run` builds it (flushMs 0), over the fake connection. */
function shadowWriter(ch: FakeClickHouse) {
  return createBatchWriter<ShadowPredictionRow>({
    ch,
    table: `${quoteIdent(DATABASE)}.${TABLES.shadowPredictions}`,
    flushMs: 0,
  });
}

const stored = (ch: FakeClickHouse) => ch.stored<ShadowPredictionRow>('shadow_predictions');

describe('shadow scoring in the flow', () => {
  it('writes one shadow row per live row, with the live answer of the same row and both versions', async () => {
    const { ch, flow, live, value } = setup(shadowScorer());
    await flow.push(emission(ROWS));
    const rows = stored(ch);
    expect(rows.map((r) => [r.machine_id, r.bucket_ts])).toEqual(
      ch
        .stored<{ machine_id: number; bucket_ts: string }>('predictions')
        .map((r) => [r.machine_id, r.bucket_ts]),
    );
    expect(rows).toHaveLength(3);
    const r8 = rows[1];
    // The test live scorer gives P(comp1) = machineId, P(comp2) = bucket / H; the shadow P(comp3) = id / 100.
    expect(r8).toMatchObject({
      machine_id: 8,
      model_version: SHADOW_VERSION,
      p_comp3: 0.08,
      alert: 1,
      alert_class: 'comp3',
      alert_components: ['comp3'],
      live_model_version: MODEL_VERSION,
      live_p_none: 0.5,
      live_p_comp1: 8,
      live_p_comp2: (T0 + 12 * H) / H,
      live_predicted_class: 'none',
      live_alert: 0,
      live_alert_components: [],
      source_topic: AT.topic,
      source_partition: AT.partition,
      source_offset: AT.offset,
    });
    expect(live.calls).toHaveLength(1);
    expect(await value('pdm_shadow_predictions_total')).toBe(3);
    expect(await value('pdm_shadow_failures_total')).toBe(0);
  });

  it('sends the live predictions only after the shadow rows are acknowledged; the emission waits for both', async () => {
    const { ch, flow } = setup(shadowScorer());
    ch.hold();
    const done = track(flow.push(emission(ROWS)));
    await ch.insertsReached(1, 'shadow_predictions');
    await drain(20);
    expect(ch.inserts.some((i) => i.table === 'predictions')).toBe(false);
    ch.pendingInserts()
      .find((i) => i.table === 'shadow_predictions')
      ?.ack();
    await ch.insertsReached(1, 'predictions');
    await drain(20);
    expect(done.state()).toBe('pending');
    ch.release();
    await done.promise;
    expect(stored(ch)).toHaveLength(3);
  });

  it.each([
    ['throws', { fail: 'worker exited' }, 'worker exited'],
    [
      'answers the wrong number of rows',
      { short: true },
      'shadow scorer returned another number of results than rows',
    ],
  ] as const)(
    'a shadow that %s: the live rows are written, no shadow rows, counted, logged once',
    async (_, behaviour, message) => {
      const scorer = shadowScorer(behaviour);
      const { ch, flow, lines, value } = setup(scorer);
      await flow.push(emission(ROWS));
      await flow.push(emission([featureRow(10, T0 + 12 * H)]));
      expect(ch.stored('predictions')).toHaveLength(4);
      expect(stored(ch)).toEqual([]);
      expect(scorer.calls).toBe(2);
      expect(await value('pdm_shadow_failures_total')).toBe(2);
      const errors = lines().filter((l) => l.msg.startsWith('shadow model failed to score a group'));
      expect(errors).toHaveLength(1);
      expect(JSON.stringify(errors[0])).toContain(message);
    },
  );

  it('a failure reopens the shadow session, at most once per reopenMs', async () => {
    const scorer = shadowScorer({ fail: 'worker exited with code 1' });
    const { flow } = setup(scorer);
    for (let i = 0; i < 3; i++) await flow.push(emission([featureRow(7 + i, T0 + 12 * H)]));
    expect(scorer.calls).toBe(3);
    expect(scorer.reopens).toBe(1);
  });

  it('a shadow that does not answer: the group is written without shadow rows after timeoutMs', async () => {
    const scorer = shadowScorer({ hang: true });
    const { ch, flow, lines, value } = setup(scorer, { timeoutMs: 30 });
    await flow.push(emission(ROWS));
    expect(ch.stored('predictions')).toHaveLength(3);
    expect(stored(ch)).toEqual([]);
    expect(await value('pdm_shadow_failures_total')).toBe(1);
    expect(scorer.reopens).toBe(1);
    expect(JSON.stringify(lines())).toContain('shadow model did not answer within 30 ms');
  });

  it('answers in another order than the rows: no shadow rows for the group, counted', async () => {
    const { ch, flow, value } = setup(shadowScorer({ reversed: true }));
    await flow.push(emission(ROWS));
    expect(ch.stored('predictions')).toHaveLength(3);
    expect(stored(ch)).toEqual([]);
    expect(await value('pdm_shadow_failures_total')).toBe(1);
  });

  it('pairs each emission of a group with its own rows (three emissions scored in one call)', async () => {
    const { ch, flow, live } = setup(shadowScorer());
    await Promise.all(ROWS.map((r) => flow.push(emission([r]))));
    // Pushed in one turn: one group of three emissions, one score call each for live and shadow.
    expect(live.calls.map((c) => c.length)).toEqual([3]);
    expect(stored(ch).map((r) => [r.machine_id, r.live_p_comp1, r.p_comp3])).toEqual([
      [7, 7, 0.07],
      [8, 8, 0.08],
      [9, 9, 0.09],
    ]);
  });

  it('a shadow insert that fails for good is counted and the live rows are still written', async () => {
    const { ch, flow, value, lines } = setup(shadowScorer());
    ch.failNext(1, {
      table: 'shadow_predictions',
      error: new PdmError('Table pdm_unit.shadow_predictions does not exist', {
        code: 'CLICKHOUSE_QUERY',
        stage: 'sink',
      }),
    });
    await flow.push(emission(ROWS));
    expect(ch.stored('predictions')).toHaveLength(3);
    expect(stored(ch)).toEqual([]);
    expect(await value('pdm_shadow_write_failures_total')).toBe(1);
    expect(JSON.stringify(lines())).toContain('shadow rows could not be written');
  });

  it('a live hot-swap between two groups: each shadow row names the live version that scored its row', async () => {
    const inner = createTestScorer();
    let liveVersion = 'live@1';
    const live: RowScorer = {
      get modelVersion() {
        return liveVersion;
      },
      score: async (rows) => (await inner.score(rows)).map((r) => ({ ...r, modelVersion: liveVersion })),
    };
    const { ch, flow } = setup(shadowScorer(), { live });
    await flow.push(emission([ROWS[0] as FeatureRow]));
    liveVersion = 'live@2';
    await flow.push(emission([ROWS[1] as FeatureRow]));
    expect(stored(ch).map((r) => [r.machine_id, r.live_model_version, r.model_version])).toEqual([
      [7, 'live@1', SHADOW_VERSION],
      [8, 'live@2', SHADOW_VERSION],
    ]);
  });

  it('without a shadow nothing is written to shadow_predictions', async () => {
    const ch = createFakeClickHouse();
    const flow = createFlow({
      scorer: createTestScorer(),
      writers: createTestWriters(ch),
      caps: MODERN_CAPS,
      metrics: createEngineMetrics({ defaultMetrics: false }),
    });
    await flow.push(emission(ROWS));
    expect(ch.inserts.map((i) => i.table)).not.toContain('shadow_predictions');
  });
});

describe('shadowRow', () => {
  it('is the shadow’s predictions row plus the live answer', () => {
    const scored = (version: string, p: number[], mask: number): ScoredLike => ({
      machineId: 3,
      bucketMs: T0,
      probabilities: p,
      predictedIndex: 1,
      predictedClass: 'comp1',
      alertMask: mask,
      alertClass: mask === 0 ? 'none' : 'comp1',
      warmingUp: false,
      modelVersion: version,
    });
    const row = shadowRow(
      scored('s@1', [0.1, 0.6, 0.1, 0.1, 0.1], 0b1),
      predictionRow(scored('l@1', [0.2, 0.5, 0.1, 0.1, 0.1], 0), AT, '2015-01-01 00:00:00.000'),
      AT,
      '2015-01-01 00:00:00.000',
    );
    expect(row).toMatchObject({
      machine_id: 3,
      bucket_ts: '2015-01-01 00:00:00',
      model_version: 's@1',
      p_comp1: 0.6,
      alert: 1,
      alert_components: ['comp1'],
      live_model_version: 'l@1',
      live_p_none: 0.2,
      live_p_comp1: 0.5,
      live_predicted_class: 'comp1',
      live_alert: 0,
      live_alert_components: [],
    });
  });
});

describe('the shadow at start (startShadowScorer)', () => {
  const config = (dir?: string) =>
    loadConfig({
      ...process.env,
      PDM_MODEL_POLL_MS: '0',
      ...(dir === undefined ? {} : { PDM_SHADOW_MODEL_DIR: dir }),
    });

  it('unset: no shadow', async () => {
    expect(await startShadowScorer(config(), logLines().log, new Registry())).toBeUndefined();
  });

  it('a package: scores with it, under pdm_shadow_model_info', async () => {
    const registry = new Registry();
    const scorer = await startShadowScorer(config(SHADOW_PACKAGE), logLines().log, registry);
    try {
      expect(scorer?.modelVersion).toBe('pdm-shadow/1-fast-seed7');
      const [scored] = (await scorer?.score([featureRow(7, T0 + 12 * H)])) ?? [];
      expect(scored?.modelVersion).toBe('pdm-shadow/1-fast-seed7');
      expect((await registry.getSingleMetric('pdm_shadow_model_info')?.get())?.values[0]?.labels).toEqual({
        version: 'pdm-shadow/1-fast-seed7',
      });
    } finally {
      await scorer?.close();
    }
  });

  it('nothing valid to follow: starts without one (score refuses), the refusal logged and counted', async () => {
    const registry = new Registry();
    const { log, lines } = logLines();
    const empty = mkdtempSync(path.join(tmpdir(), 'pdm-shadow-empty-'));
    const scorer = await startShadowScorer(config(empty), log, registry);
    try {
      expect(scorer?.modelVersion).toBe('none');
      await expect(scorer?.score([featureRow(7, T0)])).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
      const failures = await registry.getSingleMetric('pdm_shadow_model_reload_failures_total')?.get();
      expect(failures?.values.find((v) => v.labels['reason'] === 'follow')?.value).toBe(1);
      expect(lines().filter((l) => l.msg.startsWith('shadow model package refused'))).toHaveLength(1);
    } finally {
      await scorer?.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('createShadow: the rest of its surface', () => {
  it('names the shadow version, logs a failed reopen, and closes its writer', async () => {
    const ch = createFakeClickHouse();
    const { log, lines } = logLines();
    const scorer = {
      ...shadowScorer({ fail: 'worker exited' }),
      reopen: () => Promise.reject(new Error('no worker')),
    };
    const shadow = createShadow({
      scorer,
      writer: shadowWriter(ch),
      log,
    });
    expect(shadow.modelVersion).toBe(SHADOW_VERSION);
    expect(await shadow.score(ROWS)).toBeUndefined();
    await drain(5);
    expect(lines().map((l) => l.msg)).toContain('reopening the shadow model session failed');
    await shadow.close();
    await expect(shadow.write([])).resolves.toBeUndefined();
  });
});
