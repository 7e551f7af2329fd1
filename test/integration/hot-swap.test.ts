/**
 * Issue 13, item 3 on the real stack: the engine (`startEngine`, in-process so that the test runs the
 * sources, not dist/) follows PDM_MODEL_WATCH_DIR (a directory of versions with a `current` file) and
 * switches model mid-stream without a restart.
 *
 * A small fleet is published in three parts. After part 1 is consumed (all of it under `pdm-default/1`,
 * the committed package), `current` is flipped to version 2 (a copy of the committed package under another
 * version string) and SIGHUP sent; after part 2, `current` names a package with another spec hash, then
 * one whose ONNX file is not a model (its checksum is right, so only the session and smoke run can tell):
 * both are refused, each with one log line and one count, and part 3 is still scored by version 2. At the
 * end every bucket of the batch path has exactly one prediction (no bucket lost, none scored twice, by any
 * version), equal to the batch path's; buckets written before the switch carry version 1, all later ones
 * version 2, and each feature vector row names the version of its prediction.
 *
 * Then a restart right after a switch (before the new version wrote anything): the restore plan must not
 * replay and re-score under version 2 the buckets version 1 already wrote (src/pipeline/restore.ts counts
 * the engine's rows of every model version; planned by version 2 alone it replayed every partition from
 * the earliest offset and every bucket of part 1 got a second row).
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DAY_MS } from '../../src/shared/records.js';
import { quoteIdent } from '../../src/sink/index.js';
import {
  batchOver,
  createFramer,
  createTestProducer,
  eventTs,
  fleetEvents,
  messageFor,
  waitConsumed,
} from '../e2e/handmade.js';
import { fleetRunInProcess, metric, startInProcess } from '../e2e/in-process.js';
import { engineReady, expectStreamedSameAsBatch, useE2eRun, waitFor, type E2eEnv } from '../e2e/support.js';
import { publishVersion, setCurrent } from '../support/model-versions.js';
import { DEFAULT_PACKAGE } from '../unit/score/package-fixtures.js';

const START = Date.UTC(2026, 5, 1);
const FLEET = { machines: 6, days: 8, startMs: START, seed: 31 } as const;
const NOW = Date.UTC(2026, 7, 1);
const V1 = 'pdm-default/1';
const V2 = 'pdm-default/2-hot-swap-test';

const e2e = useE2eRun();

interface VersionRow {
  k: string;
  versions: string[];
  n: number;
}

/** Every prediction row, not deduplicated, grouped by bucket: which versions wrote it and how often. */
async function predictionsByBucket(e: E2eEnv): Promise<Map<string, VersionRow>> {
  const rows = await e.ch.query<Omit<VersionRow, 'n'> & { n: number | string }>(
    `SELECT concat(toString(machine_id), ':', toString(toUInt32(bucket_ts))) AS k,
  groupArray(model_version) AS versions, count() AS n
FROM ${quoteIdent(e.database)}.predictions GROUP BY k`,
  );
  return new Map(rows.map((r) => [r.k, { ...r, n: Number(r.n) }]));
}

describe('issue 13: hot-swap of the model package in a running engine', () => {
  it('switches between micro-batches, refuses broken packages, and scores every bucket once', async () => {
    const e0 = await e2e.env();
    const models = path.join(e0.tmp, 'models');
    mkdirSync(models);
    symlinkSync(DEFAULT_PACKAGE, path.join(models, '1'));
    setCurrent(models, '1');
    // A second environment on the same topics and database, with the engine following `models`.
    const e: E2eEnv = {
      ...e0,
      env: { ...e0.env, PDM_MODEL_WATCH_DIR: models, PDM_MODEL_POLL_MS: '500' },
    };

    const {
      events,
      expected,
      send,
      producer,
      handle: engine,
      logLines,
      running,
      stop,
    } = await fleetRunInProcess(e, FLEET, NOW);
    expect(await metric(e, 'pdm_model_info', `version="${V1}"`)).toBe(1);

    const ts = (ev: (typeof events)[number]) => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
    const cut1 = START + 3 * DAY_MS;
    const cut2 = START + 5.5 * DAY_MS;
    const part1 = events.filter((ev) => ts(ev) < cut1);
    const part2 = events.filter((ev) => ts(ev) >= cut1 && ts(ev) < cut2);
    const part3 = events.filter((ev) => ts(ev) >= cut2);

    await send(part1);
    await waitConsumed(e, engine);
    const beforeSwap = await predictionsByBucket(e);
    expect(beforeSwap.size).toBeGreaterThan(10);
    expect(new Set([...beforeSwap.values()].flatMap((r) => r.versions))).toEqual(new Set([V1]));

    // The switch: a new version published, `current` flipped, SIGHUP for an immediate check.
    publishVersion(models, '2', '2-hot-swap-test');
    setCurrent(models, '2');
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(
      'the switch to version 2',
      async () => ((await metric(e, 'pdm_model_info', `version="${V2}"`)) === 1 ? true : undefined),
      30_000,
    );
    expect(await metric(e, 'pdm_model_reloads_total')).toBe(1);
    expect(await metric(e, 'pdm_model_info', `version="${V1}"`)).toBe(0);

    await send(part2);
    await waitConsumed(e, engine);

    // Two broken packages, picked up by the poll (500 ms): both refused, version 2 keeps scoring.
    publishVersion(models, '3', '3-other-spec', (m) => (m['specHash'] = '0'.repeat(64)));
    setCurrent(models, '3');
    await waitFor(
      'the refusal of version 3',
      async () =>
        (await metric(e, 'pdm_model_reload_failures_total', 'reason="incompatible"')) >= 1 ? true : undefined,
      30_000,
    );
    publishVersion(models, '4', '4-not-onnx', (m) => (m['onnxBytes'] = 'this is not an ONNX model'));
    setCurrent(models, '4');
    await waitFor(
      'the refusal of version 4',
      async () =>
        (await metric(e, 'pdm_model_reload_failures_total', 'reason="smoke"')) >= 1 ? true : undefined,
      30_000,
    );
    await send(part3);
    await producer.close();
    await waitConsumed(e, engine);
    // Several polls later: still one count and one log line each.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await metric(e, 'pdm_model_reload_failures_total')).toBe(2);
    expect(await metric(e, 'pdm_model_reloads_total')).toBe(1);
    expect(await metric(e, 'pdm_model_info', `version="${V2}"`)).toBe(1);
    const refusals = logLines().filter((l) => l.includes('model package refused'));
    expect(refusals).toHaveLength(2);

    // Every bucket once, by one version: nothing lost (the batch path's buckets), nothing scored twice.
    const all = await predictionsByBucket(e);
    expect([...all.values()].filter((r) => r.n !== 1)).toEqual([]);
    expect([...expected.keys()].filter((k) => !all.has(k))).toEqual([]);
    expect([...all.keys()].filter((k) => !expected.has(k))).toEqual([]);
    // Before the switch version 1, after it version 2 only.
    const wrong = [...all.values()].filter((r) => r.versions[0] !== (beforeSwap.has(r.k) ? V1 : V2));
    expect(wrong).toEqual([]);
    const after = [...all.values()].filter((r) => !beforeSwap.has(r.k));
    expect(after.length).toBeGreaterThan(10);
    // Version 2 is the same model: the probabilities equal the batch path's on every bucket.
    await expectStreamedSameAsBatch(e, expected);
    const vectors = await e.ch.query<{ k: string; v: string }>(
      `SELECT concat(toString(machine_id), ':', toString(toUInt32(bucket_ts))) AS k, model_version AS v
FROM ${quoteIdent(e.database)}.feature_vectors FINAL`,
    );
    expect(vectors.filter((f) => f.v !== all.get(f.k)?.versions[0])).toEqual([]);
    expect(running.modelVersion).toBe(V2);
    await stop();
  });

  it('after a restart right after a switch, re-scores none of the buckets the old version wrote', async () => {
    const e0 = await e2e.env();
    const models = path.join(e0.tmp, 'models');
    mkdirSync(models);
    symlinkSync(DEFAULT_PACKAGE, path.join(models, '1'));
    const e: E2eEnv = { ...e0, env: { ...e0.env, PDM_MODEL_WATCH_DIR: models, PDM_MODEL_POLL_MS: '0' } };
    const events = fleetEvents({ ...FLEET, seed: 37 });
    const expected = await batchOver(e, events, NOW, 'all');
    const framer = await createFramer(e);
    const producer = await createTestProducer(e);
    const ts = (ev: (typeof events)[number]) => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
    const cut = START + 3 * DAY_MS;

    const first = await startInProcess(e.env);
    onTestFinished(() => first.running.stop());
    await engineReady(e.httpPort);
    await producer.send(events.filter((ev) => ts(ev) < cut).map((ev) => messageFor(e, framer, ev)));
    await waitConsumed(e, first.handle);
    await first.running.stop();
    const beforeSwap = await predictionsByBucket(e);
    expect(beforeSwap.size).toBeGreaterThan(10);

    // The highest version is followed (no `current`): the restarted engine starts with version 2.
    publishVersion(models, '2', '2-hot-swap-test');
    const second = await startInProcess(e.env);
    onTestFinished(() => second.running.stop());
    await engineReady(e.httpPort);
    expect(second.running.modelVersion).toBe(V2);
    await producer.send(events.filter((ev) => ts(ev) >= cut).map((ev) => messageFor(e, framer, ev)));
    await producer.close();
    await waitConsumed(e, second.handle);

    const all = await predictionsByBucket(e);
    expect([...all.values()].filter((r) => r.n !== 1)).toEqual([]);
    expect([...expected.keys()].filter((k) => !all.has(k))).toEqual([]);
    expect([...all.values()].filter((r) => r.versions[0] !== (beforeSwap.has(r.k) ? V1 : V2))).toEqual([]);
    await expectStreamedSameAsBatch(e, expected);
    await second.running.stop();
  });
});
