/**
 * Issue 13, item 0 on the running ClickHouse: prediction rows carry the package's decision (alert,
 * alert_class, alert_components, warming_up) next to the argmax, written by the engine's output flow with the
 * committed package's real scorer; a database migrated before the decision columns existed gets them (and
 * a predictions_latest view that shows them, which 18.16 needs re-created); `report` ranks machines by the
 * decision, not by the argmax.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { createDeadLetterSink } from '../../src/dlq/index.js';
import { CLASSES, FEATURE_NAMES, SENSORS, type FeatureRow } from '../../src/features/index.js';
import { createFlow } from '../../src/pipeline/flow.js';
import {
  createMicroBatcher,
  createPackageScorer,
  decisionRule,
  loadModelPackage,
  type MicroBatcher,
  type ModelPackage,
} from '../../src/score/index.js';
import { createEngineMetrics } from '../../src/shared/metrics.js';
import {
  createBatchWriter,
  createClickHouse,
  migrate,
  MIGRATIONS,
  quoteIdent,
  type FeatureVectorRow,
  type PredictionRow,
  type ServerCapabilities,
} from '../../src/sink/index.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';
import { DEFAULT_PACKAGE, readFixtures } from '../unit/score/package-fixtures.js';

const database = `pdm_it_decision_${uniqueToken()}`;
const config = testConfig({ CLICKHOUSE_DATABASE: database });
const ch = createClickHouse(config.clickhouse);
const db = quoteIdent(database);
const B0 = Date.UTC(2026, 5, 1);

let pkg: ModelPackage;
let batcher: MicroBatcher;
let caps: ServerCapabilities;

beforeAll(async () => {
  pkg = await loadModelPackage(DEFAULT_PACKAGE);
  batcher = createMicroBatcher({
    scorer: await createPackageScorer(pkg, { inThread: true }),
    maxRows: 64,
    maxWaitMs: 0,
    nFeatures: pkg.nFeatures,
    classes: pkg.classes,
    modelVersion: pkg.modelVersion,
    decision: decisionRule(pkg),
  });
  caps = await ch.capabilities();
});

afterAll(async () => {
  await batcher.close();
  await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
});

/** The same feature values with every 36 h window set to its 24 h window: a machine's first day. */
function warmedUp(values: readonly number[]): Float64Array {
  const v = Float64Array.from(values);
  for (const s of SENSORS) {
    for (const stat of ['mean', 'std']) {
      v[FEATURE_NAMES.indexOf(`${s}_${stat}_36h`)] = v[FEATURE_NAMES.indexOf(`${s}_${stat}_24h`)] as number;
    }
  }
  return v;
}

/** Applies the package's thresholds independently of src/score/decision.ts. */
function expectedAlerts(p: readonly number[], warm: boolean): string[] {
  if (warm) return [];
  const t = pkg.meta.alertRule?.thresholds ?? {};
  return CLASSES.slice(1).filter((c, i) => (p[i + 1] ?? 0) >= (t[c] ?? Infinity));
}

interface Stored {
  machine_id: number;
  predicted_class: string;
  alert: number;
  alert_class: string;
  alert_components: string[];
  warming_up: number;
  p_none: number;
  p_comp1: number;
  p_comp2: number;
  p_comp3: number;
  p_comp4: number;
}

describe('prediction rows carry the package decision (ClickHouse of the local stack)', () => {
  it('upgrades a database migrated before the decision columns, keeping old rows as "no alert"', async () => {
    // A deployment at migration 5: apply the earlier migrations by hand, with one argmax-era row.
    await ch.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await ch.exec(
      `CREATE TABLE ${db}.schema_migrations (version UInt32, name String, applied_at DateTime('UTC'), server_version String) ENGINE = ReplacingMergeTree() ORDER BY version`,
    );
    for (const m of MIGRATIONS.filter((x) => x.version <= 5)) {
      for (const c of m.columns?.(database, caps) ?? []) {
        await ch.exec(
          `ALTER TABLE ${db}.${quoteIdent(c.table)} ADD COLUMN ${quoteIdent(c.name)} ${c.definition}`,
        );
      }
      for (const sql of m.statements(database, caps)) await ch.exec(sql);
      await ch.insert(`${db}.schema_migrations`, [
        { version: m.version, name: m.name, applied_at: 0, server_version: caps.version },
      ]);
    }
    await ch.exec(
      `INSERT INTO ${db}.predictions (machine_id, bucket_ts, p_none, p_comp1, p_comp2, p_comp3, p_comp4, predicted_class, predicted_index, model_version) VALUES (999, '2026-05-01 00:00:00', 0.1, 0.9, 0, 0, 0, 'comp1', 1, 'old/1')`,
    );
    const report = await migrate(ch, database);
    expect(report.applied.map((m) => m.version)).toEqual(
      MIGRATIONS.filter((m) => m.version > 5).map((m) => m.version),
    );
    expect((await migrate(ch, database)).applied).toEqual([]);
    const old = await ch.query<Stored>(
      `SELECT machine_id, predicted_class, alert, alert_class, alert_components, warming_up FROM ${db}.predictions_latest WHERE machine_id = 999`,
    );
    expect(
      old.map((r) => [r.predicted_class, r.alert, r.alert_class, r.alert_components, r.warming_up]),
    ).toEqual([['comp1', 0, '', [], 0]]);
  });

  it('the output flow writes the decision of the real package for every row; warming-up rows never alert', async () => {
    const fx = readFixtures(DEFAULT_PACKAGE);
    const rows: FeatureRow[] = [];
    const warm = new Set<number>();
    fx.rows.forEach((values, i) => {
      rows.push({ machineId: i + 1, bucketMs: B0, values: Float64Array.from(values) });
      // Every fixture row once more as a machine's first day (another machine id).
      rows.push({ machineId: 1000 + i, bucketMs: B0, values: warmedUp(values) });
      warm.add(1000 + i);
    });
    const sinkOpts = { ch, flushMs: 0 };
    const writers = {
      predictions: createBatchWriter<PredictionRow>({ ...sinkOpts, table: `${db}.predictions` }),
      features: createBatchWriter<FeatureVectorRow>({ ...sinkOpts, table: `${db}.feature_vectors` }),
      deadLetters: createDeadLetterSink({ ...sinkOpts, database, caps }),
    };
    const flow = createFlow({
      scorer: { modelVersion: pkg.modelVersion, score: (rs) => batcher.submit(rs) },
      writers,
      caps,
      metrics: createEngineMetrics({ defaultMetrics: false }),
    });
    await flow.push({
      at: { topic: 'it.telemetry', partition: 0, offset: '1' },
      rows,
      deadLetters: [],
      receivedAtMs: Date.now(),
    });
    await Promise.all([writers.predictions.close(), writers.features.close(), writers.deadLetters.close()]);

    const stored = await ch.query<Stored>(
      `SELECT machine_id, predicted_class, alert, alert_class, alert_components, warming_up, p_none, p_comp1, p_comp2, p_comp3, p_comp4
FROM ${db}.predictions FINAL WHERE machine_id != 999 ORDER BY machine_id`,
    );
    expect(stored.length).toBe(rows.length);
    let alerting = 0;
    let argmaxOnly = 0;
    for (const r of stored) {
      const p = [r.p_none, r.p_comp1, r.p_comp2, r.p_comp3, r.p_comp4].map(Number);
      const isWarm = warm.has(r.machine_id);
      const want = expectedAlerts(p, isWarm);
      expect(r.alert_components, `machine ${r.machine_id}`).toEqual(want);
      expect(r.alert).toBe(want.length > 0 ? 1 : 0);
      expect(r.warming_up).toBe(isWarm ? 1 : 0);
      expect(want.length === 0 ? r.alert_class === 'none' : want.includes(r.alert_class)).toBe(true);
      // The argmax stays as "most likely", whatever the decision.
      expect(r.predicted_class).toBe(CLASSES[p.indexOf(Math.max(...p))]);
      if (r.alert === 1) alerting++;
      if (r.alert === 0 && r.predicted_class !== 'none') argmaxOnly++;
    }
    // The fixtures hold rows of every class: some alert, and the argmax alone would have flagged others.
    expect(alerting).toBeGreaterThan(0);
    expect(argmaxOnly).toBeGreaterThan(0);
    // 18.16 froze predictions_latest's columns at creation: migration 6 re-created it.
    const viaView = await ch.query<{ n: string }>(
      `SELECT toString(sum(alert)) AS n FROM ${db}.predictions_latest WHERE machine_id != 999`,
    );
    expect(Number(viaView[0]?.n)).toBe(alerting);
  });

  it('report lists exactly the machines whose latest bucket alerts, furthest over its threshold first', async () => {
    const expected = await ch.query<{ machine_id: number; alert_class: string }>(
      `SELECT machine_id, alert_class FROM ${db}.predictions FINAL WHERE alert = 1`,
    );
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const saved = { url: process.env['CLICKHOUSE_URL'], database: process.env['CLICKHOUSE_DATABASE'] };
    process.env['CLICKHOUSE_DATABASE'] = database;
    process.env['CLICKHOUSE_URL'] = config.clickhouse.url;
    try {
      await buildProgram().exitOverride().parseAsync(['report', '--top', '1000'], { from: 'user' });
    } finally {
      log.mockRestore();
      for (const [k, v] of [
        ['CLICKHOUSE_URL', saved.url],
        ['CLICKHOUSE_DATABASE', saved.database],
      ] as const) {
        if (v === undefined) Reflect.deleteProperty(process.env, k);
        else process.env[k] = v;
      }
    }
    const listed = out
      .map((l) => /^\s+machine\s+(\d+)\s+\S+ \S+\s+(comp\d)\s+p=([\d.]+) \(([\d.]+)× threshold\)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ machine: Number(m[1]), comp: m[2], p: Number(m[3]), over: Number(m[4]) }));
    expect(listed.map((l) => l.machine).sort((a, b) => a - b)).toEqual(
      expected.map((e) => e.machine_id).sort((a, b) => a - b),
    );
    for (const l of listed)
      expect(l.comp).toBe(expected.find((e) => e.machine_id === l.machine)?.alert_class);
    // Ranked by the package's thresholds (issue 11): P / threshold of the strongest alerting component.
    const overs = listed.map((l) => l.over);
    expect(overs).toEqual([...overs].sort((a, b) => b - a));
    for (const l of listed) expect(l.over).toBeGreaterThanOrEqual(1);
    // No warming-up machine (ids ≥ 1000) is at risk, whatever its probabilities.
    expect(listed.some((l) => l.machine >= 1000)).toBe(false);
    expect(out.join('\n')).toMatch(/warming up \(no alerts yet\) \d+/);
  });
});
