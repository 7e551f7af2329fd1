/**
 * Issue 13, item 2 on the running ClickHouse: `pdm-stream rescore` reads the logged feature vectors of a
 * range (deduplicated, the package's spec hash only), scores them with a package and writes its
 * predictions. The feature vectors are the `features build` rows of a small simulated fleet; the reference
 * is `pdm-stream score` on the same file, with the default package and with a second package (a copy under
 * another version string). A re-run adds no logical row; `--machines` filters; data that does not fit the
 * package is refused with exit code 3 and nothing written.
 */
import { runCliInProcess, type CliRun } from '../support/cli-in-process.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESCORE_EXIT_CODES } from '../../src/cli/rescore.js';
import { FEATURE_COUNT, FEATURE_SET, SPEC_HASH } from '../../src/features/index.js';
import {
  createClickHouse,
  formatDateTime,
  migrate,
  quoteIdent,
  type FeatureVectorRow,
} from '../../src/sink/index.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';
import { DEFAULT_PACKAGE } from '../unit/score/package-fixtures.js';

const database = `pdm_it_rescore_${uniqueToken()}`;
const config = testConfig({ CLICKHOUSE_DATABASE: database });
const ch = createClickHouse(config.clickhouse);
const db = quoteIdent(database);
const work = mkdtempSync(path.join(tmpdir(), 'pdm-rescore-'));
const PKG2 = path.join(work, 'pkg2');
const DEFAULT_VERSION = 'pdm-default/1';
const PKG2_VERSION = 'pdm-default/2-rescore-test';
const DAY_MS = 86_400_000;
const START_MS = Date.UTC(2026, 0, 1);

interface Scored {
  p: number[];
  alert: string;
  components: string;
  warmingUp: number;
}

/** `score` output keyed by `machine/bucketMs`. */
function readScored(file: string): Map<string, Scored> {
  const out = new Map<string, Scored>();
  for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
    const f = line.split(',');
    out.set(`${f[0]}/${f[1]}`, {
      p: f.slice(2, 7).map(Number),
      alert: f[9] ?? '',
      components: f[10] ?? '',
      warmingUp: Number(f[11]),
    });
  }
  return out;
}

let vectors: { machineId: number; bucketMs: number; values: number[] }[] = [];
let scoredDefault: Map<string, Scored>;
let scoredPkg2: Map<string, Scored>;

/** Runs the CLI in-process against the test database; returns its exit code and output. */
function cli(args: string[]): Promise<CliRun> {
  return runCliInProcess(args, { CLICKHOUSE_DATABASE: database });
}

interface PredictionRead {
  machine_id: number;
  bucket_s: number;
  p: number[];
  alert_class: string;
  alert_components: string[];
  warming_up: number;
  source_topic: string;
  source_partition: number;
  source_offset: string;
}

async function predictions(modelVersion: string, final = true): Promise<PredictionRead[]> {
  return ch.query<PredictionRead>(
    `SELECT machine_id, toUInt32(bucket_ts) AS bucket_s, [p_none, p_comp1, p_comp2, p_comp3, p_comp4] AS p,
  alert_class, alert_components, warming_up, source_topic, source_partition, toString(source_offset) AS source_offset
FROM ${db}.predictions ${final ? 'FINAL' : ''}
WHERE model_version = {mv:String}
ORDER BY machine_id, bucket_s`,
    { mv: modelVersion },
  );
}

function expectMatches(rows: readonly PredictionRead[], reference: Map<string, Scored>): void {
  let worst = 0;
  for (const r of rows) {
    const ref = reference.get(`${r.machine_id}/${r.bucket_s * 1000}`);
    expect(ref, `machine ${r.machine_id} bucket ${r.bucket_s}`).toBeDefined();
    if (ref === undefined) continue;
    for (let i = 0; i < 5; i++) worst = Math.max(worst, Math.abs((r.p[i] ?? NaN) - (ref.p[i] ?? NaN)));
    expect([r.alert_class, r.alert_components.join('|'), r.warming_up]).toEqual([
      ref.alert,
      ref.components,
      ref.warmingUp,
    ]);
  }
  expect(worst).toBeLessThanOrEqual(1e-6);
}

const fvRow = (v: (typeof vectors)[number], over: Partial<FeatureVectorRow> = {}): FeatureVectorRow => ({
  machine_id: v.machineId,
  bucket_ts: formatDateTime(v.bucketMs),
  spec_hash: SPEC_HASH,
  feature_set: FEATURE_SET,
  features: v.values,
  model_version: DEFAULT_VERSION,
  scored_at: formatDateTime(Date.now()),
  engine_version: 'test',
  ...over,
});

beforeAll(async () => {
  await migrate(ch, database);
  const sim = path.join(work, 'sim');
  const feat = path.join(work, 'features.csv');
  for (const args of [
    ['simulate', '--machines', '6', '--days', '8', '--seed', '23', '--out-csv', sim, '--no-progress'],
    ['features', 'build', '--csv', sim, '--out', feat, '--now', '2027-01-01'],
    ['score', '--csv', feat, '--out', path.join(work, 'default.csv'), '--model', DEFAULT_PACKAGE],
  ]) {
    const r = await cli(args);
    expect(r.code, r.out).toBe(0);
  }
  cpSync(DEFAULT_PACKAGE, PKG2, { recursive: true });
  const meta = JSON.parse(readFileSync(path.join(PKG2, 'model.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(PKG2, 'model.json'), JSON.stringify({ ...meta, version: '2-rescore-test' }));
  const r2 = await cli(['score', '--csv', feat, '--out', path.join(work, 'pkg2.csv'), '--model', PKG2]);
  expect(r2.code, r2.out).toBe(0);
  scoredDefault = readScored(path.join(work, 'default.csv'));
  scoredPkg2 = readScored(path.join(work, 'pkg2.csv'));

  // The feature file's numbers are what the engine logs (same feature engine, shortest round-trip text).
  vectors = readFileSync(feat, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const f = line.split(',').map(Number);
      return { machineId: f[0] ?? -1, bucketMs: f[1] ?? -1, values: f.slice(2, 2 + FEATURE_COUNT) };
    });
  expect(vectors.length).toBeGreaterThan(60);
  const rows = vectors.map((v) => fvRow(v));
  // A replayed bucket logged twice (one logical row), and a vector of another feature spec in the range.
  const first = vectors.find((v) => v.bucketMs === START_MS + 2 * DAY_MS) as (typeof vectors)[number];
  rows.push(fvRow(first), fvRow(first, { spec_hash: 'other-spec', feature_set: 'pdm-v0', features: [1, 2] }));
  await ch.insert(`${db}.feature_vectors`, rows);
  // The engine's predictions of machine 1 came from partition 3: rescored rows must say so (restore reads it).
  await ch.insert(
    `${db}.predictions`,
    vectors
      .filter((v) => v.machineId === 1)
      .map((v, i) => ({
        machine_id: 1,
        bucket_ts: formatDateTime(v.bucketMs),
        p_none: 1,
        model_version: DEFAULT_VERSION,
        spec_hash: SPEC_HASH,
        scored_at: formatDateTime(Date.now()),
        source_topic: 'pdm.telemetry',
        source_partition: 3,
        source_offset: String(1000 + i),
        engine_version: 'test',
      })),
  );
}, 300_000);

afterAll(async () => {
  await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
  rmSync(work, { recursive: true, force: true });
});

describe('pdm-stream rescore on the running ClickHouse', () => {
  const from = new Date(START_MS + DAY_MS).toISOString(); // ISO
  const to = String(START_MS + 6 * DAY_MS); // epoch ms
  const inRange = () =>
    vectors.filter((v) => v.bucketMs >= START_MS + DAY_MS && v.bucketMs < START_MS + 6 * DAY_MS);

  it('a second package: same probabilities and decisions as `score`, in small pages, idempotent', async () => {
    const args = [
      'rescore',
      '--from',
      from,
      '--to',
      to,
      '--model',
      PKG2,
      '--batch-rows',
      '7',
      '--no-progress',
    ];
    const r = await cli(args);
    expect(r.code, r.out).toBe(0);
    const expected = inRange();
    expect(r.out).toMatch(new RegExp(`read ${expected.length} of ${expected.length} logged vectors`));
    expect(r.out).toMatch(/ignoring 1 vectors of other spec hashes/);
    const rows = await predictions(PKG2_VERSION);
    expect(rows.length).toBe(expected.length);
    expectMatches(rows, scoredPkg2);
    expect(new Set(rows.map((x) => x.source_topic))).toEqual(new Set(['rescore']));
    // Machine 1's rows point at the engine's partition and offsets; the others have no engine prediction.
    for (const x of rows) {
      if (x.machine_id === 1)
        expect([x.source_partition, Number(x.source_offset)]).toEqual([3, expect.any(Number)]);
      else expect([x.source_partition, x.source_offset]).toEqual([-1, '-1']);
    }
    expect(rows.filter((x) => x.machine_id === 1).every((x) => Number(x.source_offset) >= 1000)).toBe(true);

    const again = await cli(args);
    expect(again.code, again.out).toBe(0);
    expect((await predictions(PKG2_VERSION)).length).toBe(expected.length);
    // Physically the re-run's rows coexist with the first run's until a merge (any number in between).
    expect((await predictions(PKG2_VERSION, false)).length).toBeGreaterThanOrEqual(expected.length);
  });

  it('--machines filters; the default package matches `score` too; --dry-run writes nothing', async () => {
    const dry = await cli([
      'rescore',
      '--from',
      from,
      '--to',
      to,
      '--machines',
      '2,4-5',
      '--dry-run',
      '--no-progress',
    ]);
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toMatch(/dry run, nothing written/);
    expect((await predictions(DEFAULT_VERSION)).every((x) => x.source_topic !== 'rescore')).toBe(true);

    const r = await cli([
      'rescore',
      '--from',
      from,
      '--to',
      to,
      '--machines',
      '2,4-5',
      '--model',
      DEFAULT_PACKAGE,
    ]);
    expect(r.code, r.out).toBe(0);
    const rescored = (await predictions(DEFAULT_VERSION)).filter((x) => x.source_topic === 'rescore');
    expect([...new Set(rescored.map((x) => x.machine_id))]).toEqual([2, 4, 5]);
    expect(rescored.length).toBe(inRange().filter((v) => [2, 4, 5].includes(v.machineId)).length);
    expectMatches(rescored, scoredDefault);
  });

  it('an empty range exits 0 and says so; vectors of another spec only, or of the wrong length, exit 3', async () => {
    const empty = await cli(['rescore', '--from', '2030-01-01', '--to', '2030-02-01', '--no-progress']);
    expect(empty.code, empty.out).toBe(0);
    expect(empty.out).toMatch(
      /no logged feature vectors of spec hash .* nothing to do \(logged buckets span/,
    );

    const far = Date.UTC(2031, 0, 1);
    await ch.insert(`${db}.feature_vectors`, [
      fvRow(
        { machineId: 9, bucketMs: far, values: [1, 2, 3] },
        { spec_hash: 'other-spec', feature_set: 'pdm-v0' },
      ),
      fvRow({ machineId: 9, bucketMs: far + DAY_MS * 40, values: [1, 2, 3] }),
    ]);
    const other = await cli([
      'rescore',
      '--from',
      String(far),
      '--to',
      String(far + DAY_MS),
      '--no-progress',
    ]);
    expect(other.code, other.out).toBe(RESCORE_EXIT_CODES.mismatch);
    expect(other.out).toMatch(/none of|has the spec hash of/);
    expect(other.out).toMatch(/other-spec \(pdm-v0\): 1 rows/);

    const short = await cli([
      'rescore',
      '--from',
      String(far),
      '--to',
      String(far + 60 * DAY_MS),
      '--no-progress',
    ]);
    expect(short.code, short.out).toBe(RESCORE_EXIT_CODES.mismatch);
    expect(short.out).toMatch(
      /1 of 1 logged vectors .* do not have the package's 38 values; refused, nothing written/,
    );
    const [n] = await ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${db}.predictions WHERE machine_id = 9`,
    );
    expect(n?.n).toBe('0');
  });
});
