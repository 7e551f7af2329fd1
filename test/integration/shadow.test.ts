/**
 * Issue 13, item 4 on the real stack: shadow scoring. The engine (in this process) runs the committed
 * package live and, as PDM_SHADOW_MODEL_DIR, a directory of shadow versions whose first is a different
 * model (test/fixtures/models/pdm-shadow-1, another forest). Mid-stream the shadow directory's `current`
 * moves to a copy of the live package (the shadow follows it like the live model follows its own), then to
 * a package of another spec hash, which is refused while the shadow keeps scoring.
 *
 * Checked: the live predictions are exactly the batch path's (the shadow does not touch them); every live
 * row has exactly one shadow row and no shadow row lacks a live one; each shadow row carries the live
 * answer of its bucket, and its own probabilities are what the shadow package gives for the logged feature
 * vector (the first version) or equal the live ones (the copy); the `shadow_agreement` view equals the
 * agreement computed here from the rows; `report --shadow` prints it.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLASSES, SPEC_HASH } from '../../src/features/index.js';
import { createPackageBatcher, loadModelPackage } from '../../src/score/index.js';
import { DAY_MS } from '../../src/shared/records.js';
import { parseShadowAgreement, quoteIdent, type ShadowAgreement } from '../../src/sink/index.js';
import { eventTs, waitConsumed } from '../e2e/handmade.js';
import { fleetRunInProcess, metric } from '../e2e/in-process.js';
import { expectStreamedSameAsBatch, useE2eRun, waitFor, type E2eEnv } from '../e2e/support.js';
import { runCliInProcess } from '../support/cli-in-process.js';
import { publishVersion, setCurrent } from '../support/model-versions.js';

const SHADOW_PACKAGE = path.resolve(import.meta.dirname, '../fixtures/models/pdm-shadow-1');
const START = Date.UTC(2026, 5, 1);
const FLEET = { machines: 6, days: 8, startMs: START, seed: 41 } as const;
const NOW = Date.UTC(2026, 7, 1);
const LIVE = 'pdm-default/1';
const S1 = 'pdm-shadow/1-fast-seed7';
const S2 = 'pdm-default/2-shadow-copy';

const e2e = useE2eRun();

interface ShadowRowRead {
  k: string;
  model_version: string;
  live_model_version: string;
  p: number[];
  live_p: number[];
  predicted_class: string;
  live_predicted_class: string;
  alert_components: string[];
  live_alert_components: string[];
  warming_up: number;
  alert: number;
  live_alert: number;
}

const key = `concat(toString(machine_id), ':', toString(toUInt32(bucket_ts)))`;
const probs = (prefix: string) => `[${CLASSES.map((c) => `toFloat64(${prefix}p_${c})`).join(', ')}]`;

/** The agreement of rows, computed here the way the view defines it (p99: ClickHouse's quantileExact). */
function agreementOf(rows: readonly ShadowRowRead[]): Omit<ShadowAgreement, 'first_bucket' | 'last_bucket'> {
  const components = CLASSES.slice(1);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const p99 = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(0.99 * sorted.length)] ?? Number.NaN;
  };
  const dp = (i: number) => rows.map((r) => Math.abs((r.p[i] ?? 0) - (r.live_p[i] ?? 0)));
  const count = (f: (r: ShadowRowRead) => boolean) => rows.filter(f).length;
  const first = rows[0];
  return {
    shadow_model_version: first?.model_version ?? '',
    live_model_version: first?.live_model_version ?? '',
    rows: rows.length,
    warming_up_rows: count((r) => r.warming_up === 1),
    same_class_share: count((r) => r.predicted_class === r.live_predicted_class) / rows.length,
    mean_abs_dp: Object.fromEntries(CLASSES.map((c, i) => [c, mean(dp(i))])),
    p99_abs_dp: Object.fromEntries(CLASSES.map((c, i) => [c, p99(dp(i))])),
    live_alert_rows: count((r) => r.live_alert === 1),
    shadow_alert_rows: count((r) => r.alert === 1),
    both_alert_rows: count((r) => r.alert === 1 && r.live_alert === 1),
    live_alerts: Object.fromEntries(
      components.map((c) => [c, count((r) => r.live_alert_components.includes(c))]),
    ),
    shadow_alerts: Object.fromEntries(
      components.map((c) => [c, count((r) => r.alert_components.includes(c))]),
    ),
    both_alerts: Object.fromEntries(
      components.map((c) => [
        c,
        count((r) => r.alert_components.includes(c) && r.live_alert_components.includes(c)),
      ]),
    ),
  };
}

function expectAgreementClose(got: ShadowAgreement, want: ReturnType<typeof agreementOf>): void {
  const { mean_abs_dp, p99_abs_dp, same_class_share, ...exact } = want;
  expect(got).toMatchObject(exact);
  expect(got.same_class_share).toBeCloseTo(same_class_share, 9);
  for (const c of CLASSES) {
    // Float32 columns: ClickHouse subtracts the stored floats, this test the decimal text it printed.
    expect(got.mean_abs_dp[c]).toBeCloseTo(mean_abs_dp[c] ?? Number.NaN, 6);
    expect(got.p99_abs_dp[c]).toBeCloseTo(p99_abs_dp[c] ?? Number.NaN, 6);
  }
}

describe('issue 13: shadow scoring', () => {
  it('scores every live row with the shadow too, stores it apart, follows its directory and reports agreement', async () => {
    const e0 = await e2e.env();
    const shadows = path.join(e0.tmp, 'shadow-models');
    mkdirSync(shadows);
    publishVersion(shadows, '1', '1-fast-seed7', () => undefined, SHADOW_PACKAGE);
    setCurrent(shadows, '1');
    const e: E2eEnv = {
      ...e0,
      env: { ...e0.env, PDM_SHADOW_MODEL_DIR: shadows, PDM_MODEL_POLL_MS: '500' },
    };
    const db = quoteIdent(e.database);
    const {
      events,
      expected,
      send,
      producer,
      handle: engine,
      logLines,
      stop,
    } = await fleetRunInProcess(e, FLEET, NOW);
    expect(await metric(e, 'pdm_shadow_model_info', `version="${S1}"`)).toBe(1);
    expect(await metric(e, 'pdm_model_info', `version="${LIVE}"`)).toBe(1);

    const ts = (ev: (typeof events)[number]) => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
    const cut = START + 4 * DAY_MS;
    await send(events.filter((ev) => ts(ev) < cut));
    await waitConsumed(e, engine);

    // The shadow follows its directory: a copy of the live package under another version, then a package
    // of another spec hash (refused; the copy keeps shadowing).
    publishVersion(shadows, '2', '2-shadow-copy');
    setCurrent(shadows, '2');
    await waitFor(
      'the shadow switch to the copy',
      async () => ((await metric(e, 'pdm_shadow_model_info', `version="${S2}"`)) === 1 ? true : undefined),
      30_000,
    );
    publishVersion(shadows, '3', '3-other-spec', (m) => (m['specHash'] = '0'.repeat(64)));
    setCurrent(shadows, '3');
    await waitFor(
      'the refusal of shadow version 3',
      async () =>
        (await metric(e, 'pdm_shadow_model_reload_failures_total', 'reason="incompatible"')) >= 1
          ? true
          : undefined,
      30_000,
    );
    await send(events.filter((ev) => ts(ev) >= cut));
    await producer.close();
    await waitConsumed(e, engine);

    // The live side is untouched: exactly the batch path's rows, the live model only, no reload.
    await expectStreamedSameAsBatch(e, expected);
    expect(await metric(e, 'pdm_model_reloads_total')).toBe(0);
    expect(await metric(e, 'pdm_shadow_model_reloads_total')).toBe(1);
    expect(await metric(e, 'pdm_shadow_failures_total')).toBe(0);
    expect(logLines().filter((l) => l.includes('shadow model package refused'))).toHaveLength(1);

    const live = await e.ch.query<{ k: string; v: string; p: number[]; cls: string; comps: string[] }>(
      `SELECT ${key} AS k, model_version AS v, ${probs('')} AS p, predicted_class AS cls,
  alert_components AS comps
FROM ${db}.predictions FINAL`,
    );
    const shadowRows = await e.ch.query<ShadowRowRead>(
      `SELECT ${key} AS k, model_version, live_model_version, ${probs('')} AS p, ${probs('live_')} AS live_p,
  predicted_class, live_predicted_class, alert_components, live_alert_components, warming_up, alert, live_alert
FROM ${db}.shadow_predictions FINAL`,
    );
    // One shadow row per live row (and per pair of versions), and none without a live row.
    const liveByKey = new Map(live.map((r) => [r.k, r]));
    expect(live.length).toBe(expected.size);
    expect(shadowRows.length).toBe(live.length);
    expect(new Set(shadowRows.map((r) => r.k)).size).toBe(live.length);
    expect(shadowRows.filter((r) => !liveByKey.has(r.k))).toEqual([]);
    // Not deduplicated: every live row was shadowed once (no group re-scored in this run).
    const [physical] = await e.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${db}.shadow_predictions`,
    );
    expect(Number(physical?.n)).toBe(live.length);
    expect(await metric(e, 'pdm_shadow_predictions_total')).toBe(live.length);
    // Each shadow row carries the live answer of its bucket.
    const wrongLive = shadowRows.filter((r) => {
      const l = liveByKey.get(r.k);
      return (
        l === undefined ||
        r.live_model_version !== LIVE ||
        l.v !== LIVE ||
        r.live_predicted_class !== l.cls ||
        r.live_alert_components.join() !== l.comps.join() ||
        r.live_p.some((x, i) => x !== l.p[i])
      );
    });
    expect(wrongLive).toEqual([]);

    const byVersion = (v: string) => shadowRows.filter((r) => r.model_version === v);
    const first = byVersion(S1);
    const copy = byVersion(S2);
    expect(first.length).toBeGreaterThan(20);
    expect(copy.length).toBeGreaterThan(20);
    expect(first.length + copy.length).toBe(shadowRows.length);
    // The copy is the live model: the same answers on every row.
    expect(
      copy.filter(
        (r) => r.p.some((x, i) => x !== r.live_p[i]) || r.predicted_class !== r.live_predicted_class,
      ),
    ).toEqual([]);
    // The first shadow is another model: its answers are the shadow package's on the logged feature vectors.
    const vectors = await e.ch.query<{
      k: string;
      machine_id: number;
      bucket_ms: string;
      features: number[];
    }>(
      `SELECT ${key} AS k, machine_id, toString(toUInt32(bucket_ts) * 1000) AS bucket_ms, features
FROM ${db}.feature_vectors FINAL WHERE spec_hash = {spec:String}`,
      { spec: SPEC_HASH },
    );
    const vectorOf = new Map(vectors.map((v) => [v.k, v]));
    const inputs = first.map((r) => {
      const v = vectorOf.get(r.k);
      if (v === undefined) throw new Error(`no feature vector for ${r.k}`);
      return { machineId: v.machine_id, bucketMs: Number(v.bucket_ms), values: v.features };
    });
    const batcher = await createPackageBatcher(await loadModelPackage(SHADOW_PACKAGE), {
      maxRows: 512,
      maxWaitMs: 0,
    });
    const scored = await batcher.submit(inputs).finally(() => batcher.close());
    let maxDiff = 0;
    const decisionDiffers: string[] = [];
    first.forEach((r, i) => {
      const s = scored[i];
      if (s === undefined) throw new Error('missing score');
      for (let c = 0; c < CLASSES.length; c++)
        maxDiff = Math.max(maxDiff, Math.abs((r.p[c] ?? 0) - (s.probabilities[c] ?? 0)));
      if (r.predicted_class !== s.predictedClass || r.alert !== (s.alertMask === 0 ? 0 : 1))
        decisionDiffers.push(r.k);
    });
    // Float32 stored and read back as decimal text: equal to the float32 the scorer returned.
    expect(maxDiff).toBeLessThan(1e-6);
    expect(decisionDiffers).toEqual([]);
    // The two models really differ on these rows (otherwise the agreement below would prove little).
    expect(first.some((r) => r.p.some((x, i) => Math.abs(x - (r.live_p[i] ?? 0)) > 0.01))).toBe(true);

    // The view against the computation here, per pair of versions.
    const view = (await e.ch.query<Record<string, unknown>>(`SELECT * FROM ${db}.shadow_agreement`)).map(
      parseShadowAgreement,
    );
    expect(view.map((a) => [a.shadow_model_version, a.live_model_version])).toEqual([
      [S2, LIVE],
      [S1, LIVE],
    ]);
    const viewOf = (v: string) => view.find((a) => a.shadow_model_version === v);
    const a1 = viewOf(S1);
    const a2 = viewOf(S2);
    if (a1 === undefined || a2 === undefined) throw new Error('agreement rows missing');
    expectAgreementClose(a1, agreementOf(first));
    expectAgreementClose(a2, agreementOf(copy));
    expect(a2.same_class_share).toBe(1);
    expect(a2.p99_abs_dp['comp1']).toBe(0);
    expect(a1.same_class_share).toBeLessThan(1);

    // `report --shadow` prints the same figures.
    const report = await runCliInProcess(['report', '--shadow'], e.env);
    expect(report.code, report.out).toBe(0);
    expect(report.out).toContain(`shadow ${S1} vs live ${LIVE}: ${first.length} rows`);
    expect(report.out).toContain(`shadow ${S2} vs live ${LIVE}: ${copy.length} rows`);
    expect(report.out).toContain(
      `same most likely class (argmax): ${(100 * a1.same_class_share).toFixed(1)} %`,
    );
    expect(report.out).toMatch(/machines whose latest bucket the two models decide differently: /);
    // --from/--to limit the rows: before the cut, only the first shadow had scored.
    const early = await runCliInProcess(
      ['report', '--shadow', '--to', new Date(START + 2 * DAY_MS).toISOString()],
      e.env,
    );
    expect(early.code, early.out).toBe(0);
    expect(early.out).toContain(`shadow ${S1} vs live ${LIVE}`);
    expect(early.out).not.toContain(`shadow ${S2}`);

    await stop();
  });

  it('a shadow directory without a valid package does not stop the live model; the shadow starts once one is published', async () => {
    const e0 = await e2e.env();
    const shadows = path.join(e0.tmp, 'shadow-models');
    mkdirSync(shadows); // empty: nothing to follow
    const e: E2eEnv = { ...e0, env: { ...e0.env, PDM_SHADOW_MODEL_DIR: shadows, PDM_MODEL_POLL_MS: '0' } };
    const db = quoteIdent(e.database);
    const run = await fleetRunInProcess(e, { ...FLEET, seed: 43 }, NOW);
    expect(await metric(e, 'pdm_shadow_model_reload_failures_total', 'reason="follow"')).toBe(1);
    expect(run.logLines().filter((l) => l.includes('shadow model package refused'))).toHaveLength(1);
    const cut = START + 4 * DAY_MS;
    const ts = (ev: (typeof run.events)[number]) => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
    await run.send(run.events.filter((ev) => ts(ev) < cut));
    await waitConsumed(e, run.handle);
    const count = async (table: string) =>
      Number(
        (await e.ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${db}.${table} FINAL`))[0]?.n,
      );
    const before = await count('predictions');
    expect(before).toBeGreaterThan(20);
    expect(await count('shadow_predictions')).toBe(0);
    // Groups scored without a shadow package are counted as shadow failures (logged once).
    expect(await metric(e, 'pdm_shadow_failures_total')).toBeGreaterThan(0);

    publishVersion(shadows, '1', '1-fast-seed7', () => undefined, SHADOW_PACKAGE);
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(
      'the shadow package picked up',
      async () => ((await metric(e, 'pdm_shadow_model_info', `version="${S1}"`)) === 1 ? true : undefined),
      30_000,
    );
    await run.send(run.events.filter((ev) => ts(ev) >= cut));
    await run.producer.close();
    await waitConsumed(e, run.handle);
    await expectStreamedSameAsBatch(e, run.expected);
    // Every bucket scored after the pick-up has its shadow row; none before it.
    expect(await count('shadow_predictions')).toBe((await count('predictions')) - before);
    await run.stop();
  });
});
