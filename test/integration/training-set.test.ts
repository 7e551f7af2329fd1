/**
 * Issue 13, item 1 on the local stack: the engine (`pdm-stream run`, from dist/) scores a small simulated
 * fleet; `pdm-stream training-set` then exports the feature vectors it logged with labels from the failures
 * topic. With `--include-incomplete` the file equals `features build --labels` over the same fleet written
 * as reference CSV (same rows, same feature values up to float formatting, same labels); by default the rows
 * whose label window (B, B + 7 d] reaches past the engine's progress are left out and counted. Extra copies
 * of logged vectors (another model version, another spec hash) do not change the file.
 */
import { runCliInProcess, type CliRun } from '../support/cli-in-process.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAINING_SET_EXIT_CODES } from '../../src/cli/training-set.js';
import { FEATURE_SET, LABEL_HORIZON_MS, SPEC_HASH } from '../../src/features/index.js';
import { formatDateTime, quoteIdent } from '../../src/sink/index.js';
import {
  cli,
  dropDatabase,
  e2eEnv,
  engineReady,
  maxRelDiff,
  readCsv,
  startEngineProcess,
  stopEngines,
  waitCaughtUp,
  type E2eEnv,
  type EngineProcess,
} from '../e2e/support.js';

const SIM = ['--machines', '8', '--days', '30', '--seed', '5', '--start', '2026-03-01'];
const NOW = '2027-01-01';

let e: E2eEnv;
let engine: EngineProcess | undefined;

interface Row {
  readonly features: number[];
  readonly label: number;
}

/** A labelled feature file keyed `machine/bucketMs`. */
function readLabelled(path: string): Map<string, Row> {
  const t = readCsv(path);
  expect(t.header[t.header.length - 1]).toBe('label');
  return new Map(
    t.rows.map((r) => [
      `${r[0]}/${r[1]}`,
      { features: r.slice(2, r.length - 1).map(Number), label: Number(r[r.length - 1]) },
    ]),
  );
}

/** `pdm-stream <args>` in-process (this checkout's src/) against the test's topics and database. */
function runCli(args: string[]): Promise<CliRun> {
  return runCliInProcess(args, e.env);
}

let batch: Map<string, Row>;

beforeAll(async () => {
  e = await e2eEnv({ PDM_PARTITIONS: '2' });
  await cli(['schemas', 'register'], e.env);
  const csv = join(e.tmp, 'csv');
  await cli(['simulate', ...SIM, '--out-csv', csv, '--no-progress'], e.env);
  const built = join(e.tmp, 'batch.csv');
  await cli(['features', 'build', '--csv', csv, '--out', built, '--labels', '--now', NOW], e.env);
  batch = readLabelled(built);
  expect(batch.size).toBeGreaterThan(300);
  expect([...batch.values()].filter((r) => r.label > 0).length).toBeGreaterThan(10);

  engine = startEngineProcess(e.env);
  await engineReady(e.httpPort);
  await cli(['simulate', ...SIM, '--no-progress'], e.env);
  await waitCaughtUp(e, batch.size);

  // A second model version scored some buckets again, and a vector of another spec is in the range. The
  // copies are made by the server (INSERT … SELECT): a JSON round trip through 18.16 may move a Float64 by
  // an ulp (the engine writes RowBinary, the exact doubles), and the copies must equal the originals.
  const db = quoteIdent(e.database);
  // The copies share the table's key (machine, bucket, spec hash), so a background merge may collapse them
  // at any moment, and then `training-set` rightly counts none (a CI run saw exactly that). Merges of this
  // test's table stay stopped until the database is dropped, so the copies it counts are the ones made here.
  await e.ch.exec(`SYSTEM STOP MERGES ${db}.feature_vectors`);
  await e.ch.exec(
    `INSERT INTO ${db}.feature_vectors
  (machine_id, bucket_ts, spec_hash, feature_set, features, model_version, scored_at, engine_version)
SELECT machine_id, bucket_ts, spec_hash, feature_set, features, 'pdm-default/2-shadow', now(), 'test'
FROM ${db}.feature_vectors FINAL ORDER BY machine_id, bucket_ts LIMIT 25`,
  );
  const [first] = await e.ch.query<{ machine_id: number; bucket_s: number }>(
    `SELECT machine_id, toUInt32(bucket_ts) AS bucket_s FROM ${db}.feature_vectors LIMIT 1`,
  );
  if (first === undefined) throw new Error('no feature vector logged');
  await e.ch.insert(`${db}.feature_vectors`, [
    {
      machine_id: first.machine_id,
      bucket_ts: formatDateTime(first.bucket_s * 1000),
      spec_hash: 'f'.repeat(64),
      feature_set: FEATURE_SET,
      features: [1, 2, 3],
      model_version: 'pdm-default/2-shadow',
      scored_at: formatDateTime(Date.now()),
      engine_version: 'test',
    },
  ]);
}, 300_000);

afterAll(async () => {
  await stopEngines([engine]);
  await dropDatabase(e);
});

describe('pdm-stream training-set on the local stack', () => {
  it('--include-incomplete: the same rows, features and labels as features build --labels', async () => {
    const out = join(e.tmp, 'all.csv');
    const failuresOut = join(e.tmp, 'failures.csv');
    const r = await runCli([
      'training-set',
      '--out',
      out,
      '--failures-out',
      failuresOut,
      '--include-incomplete',
      '--now',
      NOW,
      '--no-progress',
    ]);
    expect(r.code, r.out).toBe(0);
    const exported = readLabelled(out);
    expect([...exported.keys()].sort()).toEqual([...batch.keys()].sort());
    let worst = 0;
    for (const [k, b] of batch) {
      const x = exported.get(k) as Row;
      worst = Math.max(worst, maxRelDiff(b.features, x.features));
      expect(x.label, `${k}\n${r.out}`).toBe(b.label);
    }
    expect(worst).toBeLessThanOrEqual(1e-9);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe(
      readFileSync(join(e.tmp, 'batch.csv'), 'utf8').split('\n')[0],
    );
    // The duplicates were counted, the other spec hash left out.
    expect(r.out).toMatch(/25 buckets scored by more than one model version, 0 with differing vectors/);
    expect(r.out).toMatch(/not exported: 1 vectors of other spec hashes/);
    // The failures written equal the simulator's failures.csv (same instants, machines, components).
    const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').slice(1).sort();
    expect(lines(failuresOut)).toEqual(lines(join(e.tmp, 'csv', 'failures.csv')));
    const meta = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8')) as {
      specHash: string;
      rows: number;
      source: { kind: string; labels: { incomplete: number; incompleteIncluded: boolean } };
    };
    expect([meta.specHash, meta.rows, meta.source.kind]).toEqual([SPEC_HASH, batch.size, 'clickhouse']);
    expect(meta.source.labels.incompleteIncluded).toBe(true);
    expect(meta.source.labels.incomplete).toBeGreaterThan(0);
  });

  it('by default leaves out the rows whose label window is not covered yet, and says how many', async () => {
    const out = join(e.tmp, 'complete.csv');
    const r = await runCli(['training-set', '--out', out, '--now', NOW, '--no-progress']);
    expect(r.code, r.out).toBe(0);
    const exported = readLabelled(out);
    const lastBucket = Math.max(...[...batch.keys()].map((k) => Number(k.split('/')[1])));
    const complete = [...batch].filter(([k]) => Number(k.split('/')[1]) + LABEL_HORIZON_MS <= lastBucket);
    expect([...exported.keys()].sort()).toEqual(complete.map(([k]) => k).sort());
    for (const [k, b] of complete) expect(exported.get(k)?.label, k).toBe(b.label);
    const left = batch.size - complete.length;
    expect(r.out).toContain(`${left} rows end after it: excluded`);
    expect(r.out).toContain(`failures taken as known up to ${new Date(lastBucket).toISOString()}`);
  });

  it('--from/--to/--machines select; nothing to export exits 3 without a file', async () => {
    const out = join(e.tmp, 'part.csv');
    const r = await runCli([
      'training-set',
      '--out',
      out,
      '--from',
      '2026-03-05',
      '--to',
      '2026-03-10T12:00',
      '--machines',
      '2,4-5',
      '--now',
      NOW,
      '--no-progress',
    ]);
    expect(r.code, r.out).toBe(0);
    const from = Date.UTC(2026, 2, 5);
    const to = Date.UTC(2026, 2, 10, 12);
    const expected = [...batch.keys()].filter((k) => {
      const [m, b] = k.split('/').map(Number) as [number, number];
      return [2, 4, 5].includes(m) && b >= from && b < to;
    });
    expect([...readLabelled(out).keys()].sort()).toEqual(expected.sort());

    const none = await runCli([
      'training-set',
      '--out',
      join(e.tmp, 'none.csv'),
      '--spec-hash',
      'a'.repeat(64),
      '--no-progress',
    ]);
    expect(none.code, none.out).toBe(TRAINING_SET_EXIT_CODES.refused);
    expect(none.out).toMatch(/no logged feature vectors of spec hash a{64}/);
    expect(() => readFileSync(join(e.tmp, 'none.csv'))).toThrow();
  });
});
