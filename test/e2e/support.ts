/**
 * End-to-end helpers: the real CLI as child processes (simulate, features build, score, run) against the
 * local stack, with a unique topic prefix, consumer group, ClickHouse database and ops port per test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config/index.js';
import { createClickHouse, quoteIdent, type ClickHouseConnection } from '../../src/sink/index.js';
import { freePort, testConfig, uniqueToken } from '../support/stack-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/pdm-stream.js');

export interface E2eEnv {
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly database: string;
  readonly httpPort: number;
  readonly ch: ClickHouseConnection;
  readonly tmp: string;
}

export async function e2eEnv(extra: Record<string, string> = {}): Promise<E2eEnv> {
  const token = uniqueToken();
  const httpPort = await freePort();
  const env: Record<string, string> = {
    PDM_TOPIC_PREFIX: `e${token}.`,
    PDM_GROUP_ID: `e2e-${token}`,
    CLICKHOUSE_DATABASE: `pdm_e2e_${token}`,
    PDM_HTTP_PORT: String(httpPort),
    PDM_SCORE_MAX_WAIT_MS: '20',
    LOG_LEVEL: 'info',
    // A SIGKILLed engine's partitions move to the restarted one after this long.
    PDM_KAFKA_SESSION_TIMEOUT_MS: '8000',
    // waitCaughtUp trusts pdm_consumer_lag_messages, which `run` reads from the broker every
    // PDM_LAG_POLL_MS; at the default 10 s the figure is up to 10 s old (a 0 read before records arrived,
    // or a backlog already consumed that holds the wait).
    PDM_LAG_POLL_MS: '1000',
    ...extra,
  };
  const config = testConfig(env);
  return {
    env,
    config,
    database: env['CLICKHOUSE_DATABASE'] ?? '',
    httpPort,
    ch: createClickHouse(config.clickhouse),
    tmp: mkdtempSync(join(tmpdir(), `pdm-e2e-${token}-`)),
  };
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...env, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
}

/** Runs `pdm-stream <args>` to completion; rejects with its output on a non-zero exit. */
export function cli(args: readonly string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env) });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`pdm-stream ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

export interface EngineProcess {
  readonly proc: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

export function startEngineProcess(env: Record<string, string>): EngineProcess {
  const proc = spawn(process.execPath, [BIN, 'run'], { cwd: ROOT, env: childEnv(env) });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    proc.on('close', (code) => {
      resolve(code);
    });
  });
  return { proc, output: () => out, exited };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(500);
  }
}

/** Waits until the engine's /readyz answers 200. */
export async function engineReady(httpPort: number): Promise<void> {
  await waitFor('engine readiness', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    return res.status === 200 ? true : undefined;
  });
}

/** SIGTERM to every engine still running, then wait for it. */
export async function stopEngines(engines: readonly (EngineProcess | undefined)[]): Promise<void> {
  for (const p of engines) {
    if (p !== undefined && p.proc.exitCode === null && p.proc.signalCode === null) {
      p.proc.kill('SIGTERM');
      await p.exited;
    }
  }
}

/** What a test file of this folder starts: its environments and engines, cleaned up after the file. */
export interface E2eRun {
  /** {@link e2eEnv} with the project schemas registered for its topics; its database is dropped after the file. */
  env(extra?: Record<string, string>): Promise<E2eEnv>;
  /** Engines to stop (SIGTERM, if still running) after the file, before the databases are dropped. */
  readonly engines: EngineProcess[];
}

/** Call at a test file's top level: registers the `afterAll` that stops the engines and drops the databases. */
export function useE2eRun(): E2eRun {
  const envs: E2eEnv[] = [];
  const engines: EngineProcess[] = [];
  afterAll(async () => {
    await stopEngines(engines);
    for (const e of envs) await dropDatabase(e);
  });
  return {
    engines,
    async env(extra = {}) {
      const e = await e2eEnv(extra);
      envs.push(e);
      await cli(['schemas', 'register'], e.env);
      return e;
    },
  };
}

/**
 * Starts the engine, then publishes the fleet paced (50-record batches, `maxRate` records/s) and resolves
 * once `minPredictions` are written, while the fleet is still being published.
 */
export async function startPacedRun(
  e: E2eEnv,
  simArgs: readonly string[],
  maxRate: number,
  minPredictions: number,
): Promise<{ engine: EngineProcess; publishing: Promise<string> }> {
  const engine = startEngineProcess(e.env);
  await engineReady(e.httpPort);
  const publishing = cli(
    ['simulate', ...simArgs, '--max-rate', String(maxRate), '--batch-records', '50', '--no-progress'],
    e.env,
  );
  await waitFor(
    'some predictions',
    async () => ((await predictionCount(e)) >= minPredictions ? true : undefined),
    120_000,
  );
  return { engine, publishing };
}

export async function metricsText(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

/** Sum of a metric's samples (all label sets). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Waits until the engine has consumed everything and the prediction count stopped moving. */
export async function waitCaughtUp(e: E2eEnv, minPredictions: number, timeoutMs = 180_000): Promise<number> {
  let last = -1;
  let stable = 0;
  return waitFor(
    'the engine to catch up',
    async () => {
      const text = await metricsText(e.httpPort);
      const lag = metricSum(text, 'pdm_consumer_lag_messages');
      const n = await predictionCount(e);
      stable = n === last && lag === 0 ? stable + 1 : 0;
      last = n;
      // Done when the expected count is reached and stable; or, short of it, when nothing has moved for
      // 20 s with no lag, so that the caller's comparison shows what is missing instead of a timeout.
      return (stable >= 4 && n >= minPredictions) || stable >= 40 ? n : undefined;
    },
    timeoutMs,
  );
}

export async function predictionCount(e: E2eEnv): Promise<number> {
  const rows = await e.ch.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${quoteIdent(e.database)}.predictions FINAL`,
  );
  return Number(rows[0]?.n ?? 0);
}

export interface CsvTable {
  readonly header: string[];
  readonly rows: string[][];
}

export function readCsv(path: string): CsvTable {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return { header: (lines[0] ?? '').split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

export async function dropDatabase(e: E2eEnv): Promise<void> {
  await e.ch.exec(`DROP DATABASE IF EXISTS ${quoteIdent(e.database)}`);
  await e.ch.close();
}

export interface ExpectedRow {
  readonly machineId: number;
  readonly bucketSec: number;
  readonly features: number[];
  readonly probabilities: number[];
}

/** The batch path on the same fleet: simulate --out-csv → features build → score. Keyed `machine:bucketSec`. */
export async function batchExpectation(
  e: E2eEnv,
  simArgs: readonly string[],
): Promise<Map<string, ExpectedRow>> {
  const csvDir = join(e.tmp, 'csv');
  await cli(['simulate', ...simArgs, '--out-csv', csvDir, '--no-progress'], e.env);
  return batchFromCsv(e, csvDir);
}

/**
 * `features build` (with `buildArgs`, e.g. `--now`) and `score` over reference CSV files in `csvDir`,
 * keyed like {@link batchExpectation}; `name` keeps the files of several expectations apart.
 */
export async function batchFromCsv(
  e: E2eEnv,
  csvDir: string,
  buildArgs: readonly string[] = [],
  name = 'batch',
): Promise<Map<string, ExpectedRow>> {
  const featFile = join(e.tmp, name === 'batch' ? 'features.csv' : `${name}-features.csv`);
  const scoreFile = join(e.tmp, name === 'batch' ? 'scores.csv' : `${name}-scores.csv`);
  await cli(['features', 'build', '--csv', csvDir, '--out', featFile, ...buildArgs], e.env);
  await cli(['score', '--csv', featFile, '--out', scoreFile], e.env);
  const feats = readCsv(featFile);
  const scores = readCsv(scoreFile);
  const probCols = scores.header.filter((h) => h.startsWith('p_')).map((h) => scores.header.indexOf(h));
  const byKey = new Map<string, number[]>();
  for (const r of scores.rows)
    byKey.set(
      `${r[0]}:${Number(r[1]) / 1000}`,
      probCols.map((i) => Number(r[i])),
    );
  const out = new Map<string, ExpectedRow>();
  for (const r of feats.rows) {
    const key = `${r[0]}:${Number(r[1]) / 1000}`;
    out.set(key, {
      machineId: Number(r[0]),
      bucketSec: Number(r[1]) / 1000,
      features: r.slice(2, 40).map(Number),
      probabilities: byKey.get(key) ?? [],
    });
  }
  return out;
}

export interface StreamedRow {
  readonly probabilities: number[];
  readonly features: number[] | undefined;
}

/** Deduplicated predictions joined with the logged feature vectors, keyed like {@link batchExpectation}. */
export async function streamedRows(e: E2eEnv): Promise<Map<string, StreamedRow>> {
  const db = quoteIdent(e.database);
  const preds = await e.ch.query<{
    m: number;
    b: number;
    p0: number;
    p1: number;
    p2: number;
    p3: number;
    p4: number;
  }>(
    `SELECT machine_id AS m, toUInt32(bucket_ts) AS b, p_none AS p0, p_comp1 AS p1, p_comp2 AS p2, p_comp3 AS p3, p_comp4 AS p4
FROM ${db}.predictions FINAL`,
  );
  const vecs = await e.ch.query<{ m: number; b: number; f: number[] }>(
    `SELECT machine_id AS m, toUInt32(bucket_ts) AS b, features AS f FROM ${db}.feature_vectors FINAL`,
  );
  const f = new Map(vecs.map((v) => [`${v.m}:${v.b}`, v.f]));
  return new Map(
    preds.map((p) => [
      `${p.m}:${p.b}`,
      { probabilities: [p.p0, p.p1, p.p2, p.p3, p.p4], features: f.get(`${p.m}:${p.b}`) },
    ]),
  );
}

/** Largest |a−b| / max(1, |a|, |b|) over two vectors of equal length (Infinity when lengths differ). */
export function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? Number.NaN;
    const d = Math.abs(x - y) / Math.max(1, Math.abs(x), Math.abs(y));
    m = Math.max(m, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
  });
  return m;
}

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  a.forEach((x, i) => (m = Math.max(m, Math.abs(x - (b[i] ?? Number.NaN)))));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
}

/** Asserts-friendly comparison summary of streamed vs batch rows. */
export function compareWithBatch(expected: Map<string, ExpectedRow>, streamed: Map<string, StreamedRow>) {
  const missing = [...expected.keys()].filter((k) => !streamed.has(k));
  const extra = [...streamed.keys()].filter((k) => !expected.has(k));
  let maxProb = 0;
  let maxFeat = 0;
  let withoutFeatures = 0;
  for (const [k, exp] of expected) {
    const s = streamed.get(k);
    if (s === undefined) continue;
    maxProb = Math.max(maxProb, maxAbsDiff(exp.probabilities, s.probabilities));
    if (s.features === undefined) withoutFeatures++;
    else maxFeat = Math.max(maxFeat, maxRelDiff(exp.features, s.features));
  }
  return {
    expected: expected.size,
    streamed: streamed.size,
    missing,
    extra,
    maxProb,
    maxFeat,
    withoutFeatures,
  };
}

/**
 * The acceptance rule: every closed bucket of every machine has exactly one logical prediction,
 * equal to the batch path (probabilities within 1e-6), with the scored feature vector logged (within 1e-9).
 */
export function expectSameAsBatch(cmp: ReturnType<typeof compareWithBatch>): void {
  expect(cmp.missing).toEqual([]);
  expect(cmp.extra).toEqual([]);
  expect(cmp.withoutFeatures).toBe(0);
  expect(cmp.maxProb).toBeLessThanOrEqual(1e-6);
  expect(cmp.maxFeat).toBeLessThanOrEqual(1e-9);
}

/** {@link expectSameAsBatch} on what ClickHouse holds now. */
export async function expectStreamedSameAsBatch(
  e: E2eEnv,
  expected: Map<string, ExpectedRow>,
): Promise<void> {
  expectSameAsBatch(compareWithBatch(expected, await streamedRows(e)));
}

/** SIGTERM, and the engine must shut down gracefully (exit code 0). */
export async function expectCleanExit(engine: EngineProcess): Promise<void> {
  engine.proc.kill('SIGTERM');
  expect(await engine.exited).toBe(0);
}
