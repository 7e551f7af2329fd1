/**
 * Issue 12: the SQL of a current ClickHouse, run on a current ClickHouse engine. The local stack's server
 * is Debian's 18.16, where `migrate` takes the old branch (DateTime, String, no TTL) and query parameters
 * are bound client-side; this runs the other branch on chDB (a current engine, in-process, see
 * test/support/chdb.ts) behind a minimal ClickHouse HTTP interface, through the product's own client.
 *
 * Nothing here copies SQL from src/: the real functions run (migrate, the engine's writers and restore
 * plan, the dead-letter store, the `report` and `dlq` commands), and whatever they send is what runs.
 * Query parameters reach the engine as `param_*` values formatted by @clickhouse/client, and the engine
 * binds them with its own rules, as a server does. A last test checks that every `ch.query`/`exec`/
 * `insert` call site in src/ ran, so that SQL added later without a driver here fails the test.
 * Dashboards (deploy/grafana) and runbooks (deploy/prometheus/rules.yml) are scanned for ClickHouse SQL.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import {
  createDeadLetterSink,
  createDeadLetterStore,
  deadLetterDepth,
  type DeadLetter,
  type DeadLetterFilter,
} from '../../src/dlq/index.js';
import { FEATURE_COUNT, SPEC_HASH } from '../../src/features/index.js';
import { createRiskAlerts, planRestore } from '../../src/pipeline/index.js';
import { createFlow } from '../../src/pipeline/flow.js';
import { DEAD_LETTER_REASONS } from '../../src/shared/errors.js';
import { DAY_MS } from '../../src/shared/records.js';
import { createEngineMetrics } from '../../src/shared/metrics.js';
import { silentLogger } from '../../src/shared/logger.js';
import {
  accessStatements,
  applyAccess,
  createBatchWriter,
  createClickHouse,
  createFeatureVectorReader,
  encodeRowBinary,
  featureVectorsFormat,
  formatDateTime,
  formatInstant,
  migrate,
  MIGRATIONS,
  parseShadowAgreement,
  predictionsFormat,
  quoteString,
  riskAlertsFormat,
  SHADOW_AGREEMENT_VIEW,
  shadowPredictionsFormat,
  TABLES,
  type ClickHouseConnection,
  type FeatureVectorRow,
  type PredictionRow,
  type RiskAlertRow,
  type RowBinaryFormat,
  type ServerCapabilities,
  type ShadowPredictionRow,
} from '../../src/sink/index.js';
import { startChdb, serveChdbHttp, type ChdbEngine, type ChdbHttp } from '../support/chdb.js';
import { runCliInProcess } from '../support/cli-in-process.js';
import { staticSites } from '../support/clickhouse-sites.js';
import { dashboardQueries, expandClickHouseQuery, isClickHouse } from '../support/grafana-dashboards.js';

// Every connection the product opens (the CLI opens its own) notes the src/ line of each call.
const seen = vi.hoisted(() => ({ sites: new Set<string>() }));
vi.mock('../../src/sink/clickhouse.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/sink/clickhouse.js')>();
  const { recordingSites } = await import('../support/clickhouse-sites.js');
  return {
    ...real,
    createClickHouse: (...args: Parameters<typeof real.createClickHouse>) =>
      recordingSites(real.createClickHouse(...args), seen.sites),
  };
});

const DB = 'pdm'; // the engine's directory is private to this test, and the runbooks name `pdm`
const MODEL = 'chdb-test-model';
const NOW_MS = Date.now();
const HOUR_MS = 3_600_000;

let engine: ChdbEngine;
let http: ChdbHttp;
let config: Config;
let ch: ClickHouseConnection;
let caps: ServerCapabilities;

/** Statements of the product (through HTTP) whose SQL matches `re`. */
const sent = (re: RegExp) => http.statements.filter((s) => re.test(s.sql));
/** Statements that failed on the engine, from the `from`-th on (each test passes where it started). */
const failures = (from: number) =>
  http.statements
    .slice(from)
    .filter((s) => !s.ok)
    .map((s) => `${s.error}\n  in: ${s.sql}`);

/**
 * Runs each step and returns what went wrong, so that one broken statement does not hide the next:
 * a thrown error (the SQL failed) or a failed `check` (it ran but read wrong).
 */
async function steps(list: Record<string, () => Promise<unknown>>): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, step] of Object.entries(list)) {
    try {
      await step();
    } catch (err) {
      problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/**
 * RowBinary as a current server reads `INSERT INTO <table> (<columns>) FORMAT RowBinary`: in the types the
 * table declares for those columns (system.columns), not the types the format believes in. The bytes go in
 * a string literal (`\xNN` each), since the runner's JSON lines carry text only.
 */
function rowBinarySource<R>(
  format: RowBinaryFormat<R>,
  rows: readonly R[],
  ddl: ReadonlyMap<string, string>,
) {
  const structure = format.columns.map((c) => `${c.name} ${ddl.get(c.name) ?? 'NotInTheTable'}`).join(', ');
  const bytes = Array.from(encodeRowBinary(rows, format), (b) => `\\x${b.toString(16).padStart(2, '0')}`);
  return `format(RowBinary, ${quoteString(structure)}, '${bytes.join('')}')`;
}

/** Column types of `DB.table`, as the engine reports them. */
async function tableTypes(table: string): Promise<Map<string, string>> {
  const r = await engine.run(
    `SELECT name, type FROM system.columns WHERE database = '${DB}' AND table = '${table}' FORMAT JSONEachRow`,
  );
  if (!r.ok) throw new Error(r.error);
  if (r.data.trim() === '') throw new Error(`no table ${DB}.${table}`);
  return new Map(
    r.data
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; type: string })
      .map((c) => [c.name, c.type]),
  );
}

/** Columns whose format type is not the table's (LowCardinality and the 'UTC' zone do not change RowBinary). */
function typeMismatches<R>(format: RowBinaryFormat<R>, ddl: ReadonlyMap<string, string>): string[] {
  const plain = (t: string) =>
    t
      .replace(/^LowCardinality\((.*)\)$/, '$1')
      .replace(/^(DateTime|DateTime64)\((?:(\d+), )?'UTC'\)$/, (_, k: string, p?: string) =>
        p === undefined ? k : `${k}(${p})`,
      );
  return format.columns
    .filter((c) => plain(ddl.get(c.name) ?? '(not in the table)') !== c.type)
    .map((c) => `${c.name}: format ${c.type}, table ${ddl.get(c.name) ?? '(not in the table)'}`);
}

/** JSONEachRow settings that keep Int64 exact and NaN and infinities distinct from NULL. */
const EXACT_JSON =
  'SETTINGS output_format_json_quote_64bit_integers = 1, output_format_json_quote_denormals = 1';

/** Every field of `rows` that differs from what the engine read (JSONEachRow lines in `data`). */
function fieldDifferences<R>(format: RowBinaryFormat<R>, rows: readonly R[], data: string): string[] {
  const got =
    data.trim() === ''
      ? []
      : data
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
  const problems = got.length === rows.length ? [] : [`read ${got.length} rows, wrote ${rows.length}`];
  const special: Record<string, number> = { nan: Number.NaN, inf: Infinity, '-inf': -Infinity };
  const num = (v: unknown) => (typeof v === 'string' ? (special[v] ?? Number(v)) : Number(v));
  const norm = (type: string, v: unknown, read: boolean): unknown => {
    switch (type) {
      case 'Float32':
        return Math.fround(read ? num(v) : (v as number));
      case 'Float64':
        return read ? num(v) : v;
      case 'Array(Float64)':
        return Array.from(v as ArrayLike<unknown>, (x) => (read ? num(x) : x));
      case 'Int64':
        return String(v);
      default:
        return v;
    }
  };
  rows.forEach((row, i) => {
    for (const c of format.columns) {
      const want = norm(c.type, c.value(row), false);
      const have = norm(c.type, got[i]?.[c.name], true);
      if (!isDeepStrictEqual(want, have)) {
        const show = (x: unknown) =>
          JSON.stringify(x, (_, y: unknown) => (typeof y === 'number' ? String(y) : y)).slice(0, 120);
        problems.push(`row ${i} ${c.name} ${c.type}: wrote ${show(want)}, read ${show(have)}`);
      }
    }
  });
  return problems;
}

/** What the engine reads of `rows` sent as `format` to `DB.table`: an error, or the fields that differ. */
async function serverReads<R>(
  table: string,
  format: RowBinaryFormat<R>,
  rows: readonly R[],
): Promise<string[]> {
  const ddl = await tableTypes(table);
  const cols = format.columns.map((c) => c.name).join(', ');
  const r = await engine.run(
    `SELECT ${cols} FROM ${rowBinarySource(format, rows, ddl)} ${EXACT_JSON} FORMAT JSONEachRow`,
  );
  return r.ok ? fieldDifferences(format, rows, r.data) : [r.error];
}

/**
 * Problems of `rows` written as `format` into `DB.table`: a column of the table left out, a type that is not
 * the table's, a field the engine parses differently, or one that reads back from the table differently.
 */
async function storedAndReadBack<R>(
  table: string,
  format: RowBinaryFormat<R>,
  rows: readonly R[],
  modelVersion: string,
): Promise<string[]> {
  const ddl = await tableTypes(table);
  const cols = format.columns.map((c) => c.name);
  const problems = [
    ...[...ddl.keys()].filter((name) => !cols.includes(name)).map((name) => `${name}: not written`),
    ...typeMismatches(format, ddl),
    ...(await serverReads(table, format, rows)),
  ];
  const insert = await engine.run(
    `INSERT INTO ${DB}.${table} (${cols.join(', ')}) SELECT * FROM ${rowBinarySource(format, rows, ddl)}`,
  );
  if (!insert.ok) return [...problems, `insert: ${insert.error}`];
  const back = await engine.run(
    `SELECT ${cols.join(', ')} FROM ${DB}.${table} WHERE model_version = ${quoteString(modelVersion)} ORDER BY machine_id ${EXACT_JSON} FORMAT JSONEachRow`,
  );
  if (!back.ok) return [...problems, `read back: ${back.error}`];
  return [...problems, ...fieldDifferences(format, rows, back.data).map((p) => `stored: ${p}`)];
}

beforeAll(async () => {
  engine = await startChdb(); // first run: creates .cache/chdb-venv from PyPI (large, see chdb-venv.ts)
  http = await serveChdbHttp(engine);
  config = loadConfig({ ...process.env, CLICKHOUSE_URL: http.url, CLICKHOUSE_DATABASE: DB });
  ch = createClickHouse(config.clickhouse);
  caps = await ch.capabilities();
}, 900_000);

afterAll(async () => {
  await ch.close();
  await http.close();
  await engine.close();
  const kinds = new Map<string, number>();
  for (const s of http.statements) {
    const kind = /^\s*(\w+)/.exec(s.sql)?.[1]?.toUpperCase() ?? '?';
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  // The text without the FORMAT clause the client appends (and an insert's rows after it).
  const distinct = new Set(http.statements.map((s) => s.sql.replace(/\s*FORMAT JSONEachRow[\s\S]*$/, '')));
  const withParams = http.statements.filter((s) => Object.keys(s.params).length > 0).length;
  console.log(
    `chdb ${engine.version}: ${http.statements.length} statements from src/ (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}; ${distinct.size} distinct texts, ${withParams} with query parameters), ${http.statements.filter((s) => !s.ok).length} failed; ${seen.sites.size} of ${staticSites().length} call sites in src/`,
  );
});

describe('current ClickHouse SQL on chDB (issue 12)', () => {
  it('the product sees a current server: query parameters on the server, modern types', () => {
    expect(caps.version).toBe(engine.version);
    expect(caps.queryParams).toBe(true);
    expect(caps.modernTypes).toBe(true);
    // The detection itself ran on the engine (SELECT version(), the {probe:UInt8} parameter probe).
    const probes = sent(/\{probe:UInt8\}/);
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((s) => s.ok)).toBe(true);
  });

  it('migrate: every statement it emits for a current server runs, and a rerun is a no-op', async () => {
    const from = http.statements.length;
    const report = await migrate(ch, DB);
    expect(report.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    // DROP: migration 6 re-creates predictions_latest (18.16 freezes a view's columns).
    const ddl = http.statements.slice(from).filter((s) => /^\s*(CREATE|ALTER|DROP)\b/.test(s.sql));
    const expected =
      2 + // the database and schema_migrations
      MIGRATIONS.reduce((n, m) => n + m.statements(DB, caps).length + (m.columns?.(DB, caps).length ?? 0), 0);
    expect(ddl.length).toBe(expected);
    expect(ddl.every((s) => s.ok)).toBe(true);
    // The current-server branch was the one taken.
    const text = ddl.map((s) => s.sql).join('\n');
    expect(text).toMatch(/DateTime64\(3, 'UTC'\)/);
    expect(text).toMatch(/LowCardinality\(String\)/);
    expect(text).toMatch(/\bTTL\b/);

    const again = await migrate(ch, DB);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(MIGRATIONS.length);
    expect(again.featureSet.written).toBe(false);
    expect(failures(from)).toEqual([]);
  });

  it('engine writes: predictions, feature vectors and dead letters as the engine builds them', async () => {
    const from = http.statements.length;
    const sinkOpts = { ch, flushMs: 0 };
    const writers = {
      predictions: createBatchWriter<PredictionRow>({ ...sinkOpts, table: `${DB}.${TABLES.predictions}` }),
      features: createBatchWriter<FeatureVectorRow>({ ...sinkOpts, table: `${DB}.${TABLES.featureVectors}` }),
      deadLetters: createDeadLetterSink({ ...sinkOpts, database: DB, caps }),
    };
    const bucketMs = Math.floor(NOW_MS / HOUR_MS) * HOUR_MS - HOUR_MS;
    const rows = [1, 2, 3].map((machineId) => ({
      machineId,
      bucketMs,
      values: Float64Array.from({ length: FEATURE_COUNT }, (_, i) => i / 7),
    }));
    const classes = ['none', 'comp1', 'comp2', 'comp3', 'comp4'];
    const scorer = {
      modelVersion: MODEL,
      score: (rs: readonly { machineId: number; bucketMs: number }[]) =>
        Promise.resolve(
          rs.map((r) => ({
            machineId: r.machineId,
            bucketMs: r.bucketMs,
            probabilities: Float32Array.from([0.1, 0.6, 0.1, 0.1, 0.1]),
            predictedIndex: r.machineId === 1 ? 1 : 0,
            predictedClass: classes[r.machineId === 1 ? 1 : 0] ?? 'none',
            // Machine 1 alerts for comp1 and comp3, machine 2 is warming up, machine 3 does not alert.
            alertMask: r.machineId === 1 ? 0b101 : 0,
            alertClass: r.machineId === 1 ? 'comp1' : 'none',
            warmingUp: r.machineId === 2,
            modelVersion: MODEL,
          })),
        ),
    };
    const message = (offset: string, key: Buffer | null, timestampMs: number) => ({
      topic: 'pdm.telemetry',
      partition: 2,
      offset,
      key,
      value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
      timestampMs,
      headers: { 'pdm-replay-count': '1', 'pdm-replayed-from': 'pdm.telemetry/2/3' },
    });
    const deadLetters: DeadLetter[] = [
      {
        message: message('40', Buffer.from('17'), NOW_MS),
        reason: 'INVALID_VALUE',
        stage: 'features',
        error: "it's \\ bad\n",
      },
      {
        message: message('41', Buffer.from([0xff, 0x00]), -5),
        reason: 'BAD_FRAME',
        stage: 'decode',
        error: 'x',
        schemaId: 7,
      },
      {
        message: message('42', null, 9e12),
        reason: 'UNKNOWN_SCHEMA',
        stage: 'decode',
        error: 'y',
        machineId: 3,
      },
    ];
    const flow = createFlow({ scorer, writers, caps, metrics: createEngineMetrics() });
    await flow.push({
      at: { topic: 'pdm.telemetry', partition: 2, offset: '43' },
      rows,
      deadLetters,
      receivedAtMs: NOW_MS,
    });
    await Promise.all([writers.predictions.close(), writers.features.close(), writers.deadLetters.close()]);
    expect(sent(/^INSERT INTO/).length).toBeGreaterThanOrEqual(3);
    expect(failures(from)).toEqual([]);
    // Acknowledged rows must be readable (predictions, feature vectors, dead letters). Read on the engine
    // directly: the test's own SQL is not counted as the product's.
    const n = await engine.run(
      `SELECT count() FROM ${DB}.predictions UNION ALL SELECT count() FROM ${DB}.feature_vectors UNION ALL SELECT count() FROM ${DB}.dead_letters`,
    );
    expect(n.data.trim().split('\n').map(Number).sort()).toEqual([3, 3, 3]);
  });

  it('engine reads: the restore plan', async () => {
    const plan = await planRestore({
      ch,
      database: DB,
      modelVersion: MODEL,
      bucketMs: HOUR_MS,
      allowedLatenessMs: 0,
    });
    expect([...plan.homePartition.entries()].sort()).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
    ]);
  });

  it('risk alerts (issue 11): transitions stored as the engine writes them, the state restored from them', async () => {
    const from = http.statements.length;
    const produced: string[] = [];
    const stage = () =>
      createRiskAlerts({
        ch,
        database: DB,
        caps,
        producer: {
          connect: () => Promise.resolve(),
          send: (topic, messages) => {
            produced.push(...messages.map(() => topic));
            return Promise.resolve();
          },
          close: () => Promise.resolve(),
        },
        topic: 'pdm.alerts',
        encode: () => Buffer.from([0]),
        clearRatio: 0.8,
        log: silentLogger,
      });
    const alerts = stage();
    const bucketMs = Math.floor(NOW_MS / HOUR_MS) * HOUR_MS - HOUR_MS;
    const scored = (b: number, p1: number) => ({
      machineId: 7,
      bucketMs: b,
      probabilities: [0, p1, 0, 0, 0],
      predictedIndex: 1,
      predictedClass: 'comp1',
      alertMask: p1 >= 0.5 ? 1 : 0,
      alertClass: p1 >= 0.5 ? 'comp1' : 'none',
      warmingUp: false,
      modelVersion: MODEL,
      alertThresholds: [Infinity, 0.5, 0.5, 0.5, 0.5],
    });
    const at = { topic: 'pdm.telemetry', partition: 1, offset: '9' };
    await alerts.publish([
      { at, scored: [scored(bucketMs - 2 * HOUR_MS, 0.6), scored(bucketMs - HOUR_MS, 0.1)] },
    ]);
    await alerts.publish([{ at, scored: [scored(bucketMs, 0.7)] }]);
    await alerts.close();
    expect(produced).toHaveLength(3);
    const again = stage();
    await again.restore();
    expect(again.tracker.snapshot()).toEqual([
      { machineId: 7, component: 'comp1', state: 'firing', bucketMs, firedBucketMs: bucketMs },
    ]);
    await again.close();
    expect(failures(from)).toEqual([]);
  });

  it('dead-letter store: depth, top, list, resolve, resolutions, with every filter', async () => {
    const from = http.statements.length;
    const store = createDeadLetterStore(ch, DB, caps);
    const every: DeadLetterFilter = {
      reasons: ['INVALID_VALUE', 'BAD_FRAME', 'UNKNOWN_SCHEMA'],
      topics: ['pdm.telemetry', "it's"],
      fromMs: NOW_MS - HOUR_MS,
      toMs: NOW_MS + HOUR_MS,
      ids: ['40', '41', '42'].map((offset) => ({ topic: 'pdm.telemetry', partition: 2, offset })),
    };
    const total = async () => (await store.depth()).reduce((s, r) => s + r.depth, 0);
    const problems = await steps({
      'depth()': async () => {
        const n = await total();
        check(n === 3, `depth ${n}, expected 3`);
      },
      'depth(since)': async () => {
        check((await store.depth(NOW_MS - HOUR_MS)).length > 0, 'no rows');
      },
      'top({})': async () => {
        check((await store.top({}, 10)).length === 3, 'expected 3 groups');
      },
      'top(every filter, resolved too)': async () => {
        check((await store.top(every, 10, true)).length === 3, 'expected 3 groups');
      },
      'list(every filter)': async () => {
        const offsets = (await store.list(every, 100)).map((r) => r.offset).sort();
        check(offsets.join() === '40,41,42', `listed ${offsets.join()}`);
      },
      'list({}, resolved too)': async () => {
        check((await store.list({}, 100, true)).length === 3, 'expected 3');
      },
      'resolve + resolutions': async () => {
        await store.resolve([
          {
            topic: 'pdm.telemetry',
            partition: 2,
            offset: '41',
            reason: 'BAD_FRAME',
            action: 'dismissed',
            note: "won't fix",
            replayCount: 0,
            replayedToPartition: -1,
            replayedToOffset: '-1',
          },
        ]);
        const got = await store.resolutions(every.ids ?? []);
        check(
          JSON.stringify(got.map((r) => [r.offset, r.action])) === '[["41","dismissed"]]',
          JSON.stringify(got),
        );
        const n = await total();
        check(n === 2, `depth after one dismissal ${n}, expected 2`);
      },
    });
    expect(problems).toEqual([]);
    expect(failures(from)).toEqual([]);
  });

  it('dead-letter depth of `report` (all dead letters, resolved or not)', async () => {
    const count = async (since?: number) =>
      (await deadLetterDepth(ch, DB, since)).reduce((s, r) => s + r.count, 0);
    const problems = await steps({
      'deadLetterDepth() (since 0)': async () => {
        const n = await count();
        check(n === 3, `${n}, expected 3`);
      },
      'deadLetterDepth(an hour ago)': async () => {
        check((await count(NOW_MS - HOUR_MS)) === 3, 'expected 3');
      },
    });
    expect(problems).toEqual([]);
  });

  it('CLI: report and dlq depth, top, show, replay --dry-run, as ops run them', async () => {
    const from = http.statements.length;
    const env = { CLICKHOUSE_URL: http.url, CLICKHOUSE_DATABASE: DB };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const err = vi
      .spyOn(console, 'error')
      .mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const exitCode = process.exitCode;
    const filters = ['--topic', 'pdm.telemetry', '--from', '2h', '--to', '2099-01-01T00:00:00Z'];
    const commands: Record<string, () => Promise<unknown>> = {};
    const problems: string[] = [];
    try {
      for (const args of [
        ['report', '--top', '5'],
        ['dlq', 'depth', '--json', '--threshold', '0'],
        ['dlq', 'depth', '--since', '2h'],
        ['dlq', 'top', '--reason', 'INVALID_VALUE,UNKNOWN_SCHEMA', ...filters],
        ['dlq', 'top', '--include-resolved', '--ids', 'pdm.telemetry:2:40,pdm.telemetry:2:41'],
        // "Everything": the epoch as a DateTime parameter (a current server parses `0` differently).
        ['dlq', 'top', '--from', '1970-01-01'],
        ['dlq', 'show', '--include-resolved', '--json', '--ids', 'pdm.telemetry:2:41'],
        ['dlq', 'replay', '--dry-run', '--all', '--limit', '10'],
      ]) {
        Object.assign(commands, {
          [args.join(' ')]: () => buildProgram().exitOverride().parseAsync(args, { from: 'user' }),
        });
      }
      problems.push(...(await steps(commands)));
    } finally {
      log.mockRestore();
      err.mockRestore();
      process.exitCode = exitCode;
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) Reflect.deleteProperty(process.env, k);
        else process.env[k] = v;
      }
    }
    expect(problems).toEqual([]);
    expect(out.join('\n')).toMatch(/machine +1 .* comp1/);
    expect(failures(from)).toEqual([]);
  });

  it('dashboards and runbooks: their ClickHouse SQL runs', async () => {
    // Every ClickHouse query of the dashboards (panels, variables, annotations), expanded as Grafana and the
    // plugin send them (test/support/grafana-dashboards.ts) for the last hour, machine 1, every reason.
    const sql = dashboardQueries()
      .filter(isClickHouse)
      .map((q) =>
        expandClickHouseQuery(q.text, {
          fromMs: NOW_MS - HOUR_MS,
          toMs: NOW_MS,
          vars: { database: DB, machine: '1', reason: [...DEAD_LETTER_REASONS] },
        }),
      );
    const dashboards = sql.length;
    // Runbook SQL in alert descriptions: `SELECT … FROM pdm.…` up to a quote, a `;` or a prose aside.
    const rules = readFileSync(new URL('../../deploy/prometheus/rules.yml', import.meta.url), 'utf8');
    for (const line of rules.split('\n')) {
      const quoted = /^\s*[a-z_]+:\s*(?:'((?:[^']|'')*)'|"((?:[^"\\]|\\.)*)")\s*$/.exec(line);
      const value = quoted?.[1]?.replaceAll("''", "'") ?? quoted?.[2]?.replace(/\\(.)/g, '$1');
      const select = value === undefined ? undefined : /\bSELECT\b[^;]*\bFROM\s+pdm\.[^;]*/.exec(value)?.[0];
      if (select !== undefined) sql.push(select.replace(/\s*\([a-z ]+\)\s*$/, '').trim());
    }
    console.log(`dashboards: ${dashboards} ClickHouse queries; runbooks: ${sql.length - dashboards}`);
    const failed: string[] = [];
    for (const q of sql) {
      const r = await engine.run(q);
      if (!r.ok) failed.push(`${r.error}\n  in: ${q}`);
    }
    expect(failed).toEqual([]);
  });

  it('access (issue 11): migrate skips GRANTs for a user without CREATE ROLE; the statements parse', async () => {
    // chDB's embedded user has no ACCESS MANAGEMENT (SHOW GRANTS lists none), as the engine's user on a
    // server: `migrate` reports why it emitted no GRANT. The statements themselves run through the
    // product's call site as EXPLAIN AST: the current parser checks them without an access storage.
    const report = await migrate(ch, DB);
    expect(report.access.granted).toBe(false);
    const from = http.statements.length;
    const explained: ClickHouseConnection = { ...ch, exec: (sql) => ch.exec(`EXPLAIN AST ${sql}`) };
    const roles = await applyAccess(explained, DB);
    expect(roles).toEqual(['pdm_engine_role', 'pdm_ops_role', 'pdm_dlq_role']);
    const sentAccess = http.statements.slice(from);
    expect(sentAccess.map((s) => s.sql.replace(/^EXPLAIN AST /, ''))).toEqual([...accessStatements(DB)]);
    expect(failures(from)).toEqual([]);
    // deploy/clickhouse/access.sql (run once by an administrator) and the migrator's grants in users.xml
    // (written there without `TO <user>`) parse too.
    const script = readFileSync(new URL('../../deploy/clickhouse/access.sql', import.meta.url), 'utf8');
    const usersXml = readFileSync(new URL('../../deploy/clickhouse/users.xml', import.meta.url), 'utf8');
    const grants = [...usersXml.matchAll(/<query>([^<]+)<\/query>/g)].map((m) =>
      (m[1] ?? '').replace(/^(.*?)( WITH GRANT OPTION)?$/, '$1 TO pdm_migrator$2'),
    );
    expect(grants.length).toBeGreaterThan(0);
    const failed: string[] = [];
    for (const grant of grants) {
      const r = await engine.run(`EXPLAIN AST ${grant}`);
      if (!r.ok) failed.push(`${r.error}\n  in: ${grant}`);
    }
    for (const stmt of script
      .replace(/^--.*$/gm, '')
      .split(';')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const r = await engine.run(`EXPLAIN AST ${stmt}`);
      if (!r.ok) failed.push(`${r.error}\n  in: ${stmt}`);
    }
    expect(failed).toEqual([]);
  });

  it('CLI: rescore (issue 13) of the logged vectors, in keyset pages, an empty range, a dry run', async () => {
    const from = http.statements.length;
    const saved = process.env['CLICKHOUSE_DATABASE'];
    const savedUrl = process.env['CLICKHOUSE_URL'];
    Object.assign(process.env, { CLICKHOUSE_URL: http.url, CLICKHOUSE_DATABASE: DB });
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const exitCode = process.exitCode;
    // The vectors the engine-writes test logged: machines 1..3, one bucket, scored by MODEL on partition 2.
    const bucketMs = Math.floor(NOW_MS / HOUR_MS) * HOUR_MS - HOUR_MS;
    const range = ['--from', String(bucketMs), '--to', String(bucketMs + HOUR_MS), '--no-progress'];
    const commands: Record<string, () => Promise<unknown>> = {};
    for (const args of [
      ['rescore', ...range, '--batch-rows', '2'], // a second page after a key: the keyset condition
      ['rescore', ...range, '--machines', '1,3-9', '--dry-run'],
      ['rescore', '--from', '2001-01-01', '--to', '2001-01-02', '--no-progress'], // empty: the span query
    ]) {
      Object.assign(commands, {
        [args.join(' ')]: async () => {
          process.exitCode = 0;
          await buildProgram().exitOverride().parseAsync(args, { from: 'user' });
          check(process.exitCode === 0, `exit code ${String(process.exitCode)}`);
        },
      });
    }
    let problems: string[];
    try {
      problems = await steps(commands);
    } finally {
      log.mockRestore();
      err.mockRestore();
      process.exitCode = exitCode;
      for (const [k, v] of [
        ['CLICKHOUSE_DATABASE', saved],
        ['CLICKHOUSE_URL', savedUrl],
      ] as const) {
        if (v === undefined) Reflect.deleteProperty(process.env, k);
        else process.env[k] = v;
      }
    }
    expect(problems).toEqual([]);
    expect(failures(from)).toEqual([]);
    const r = await engine.run(
      `SELECT machine_id, source_topic, source_partition FROM ${DB}.predictions FINAL WHERE model_version = 'pdm-default/1' ORDER BY machine_id FORMAT CSV`,
    );
    expect(r.data.trim().split('\n')).toEqual(['1,"rescore",2', '2,"rescore",2', '3,"rescore",2']);
  });

  it("training-set (issue 13): the feature-vector reader's duplicates, last bucket and feature set", async () => {
    // The vectors the engine-writes test logged: machines 1..3, one bucket.
    const reader = createFeatureVectorReader(ch, DB, { fromMs: 0, toMs: NOW_MS + DAY_MS });
    const dup = await reader.duplicates(SPEC_HASH);
    expect(dup.keys).toBeGreaterThanOrEqual(3);
    expect(dup.copies).toBeGreaterThanOrEqual(dup.keys);
    const last = await reader.lastBucketMs();
    expect(last).toBeGreaterThan(NOW_MS - DAY_MS);
    expect((await reader.featureSet(SPEC_HASH))?.featureNames).toHaveLength(FEATURE_COUNT);
    expect(await reader.featureSet('0'.repeat(64))).toBeUndefined();
  });

  it('RowBinary: the encoder for current servers writes what migrate created, every field reads back', async () => {
    // The engine writes predictions and feature vectors as RowBinary (src/sink/row-binary.ts). The test's
    // HTTP interface carries text only, so the bytes reach the engine in `format(RowBinary, …)`, parsed in
    // the types of the tables migrate created above (DateTime64(3, 'UTC'), LowCardinality(String)).
    const modelVersion = 'rowbinary-test-ü€';
    const bucketMs = Date.UTC(2031, 4, 6, 7); // keys of no other test: 2031, machines ≥ 4 000 000 000
    const predictions: PredictionRow[] = [0, 1, 2, 3].map((i) => ({
      machine_id: 4_000_000_000 + i,
      bucket_ts: formatDateTime(bucketMs + i * HOUR_MS),
      p_none: [0.1, -0, 1e-45, 3.4e38][i] ?? 0,
      p_comp1: Math.PI / (i + 1),
      p_comp2: i === 3 ? Number.NaN : 1 / 3,
      p_comp3: i === 2 ? -Infinity : 0.6,
      p_comp4: 1e-7 * i,
      predicted_class: ['none', 'comp1', 'ünïcödé €😀', ''][i] ?? '',
      predicted_index: [0, 1, 4, 255][i] ?? 0,
      alert: i % 2,
      alert_class: i % 2 === 1 ? 'comp1' : 'none',
      alert_components: [[], ['comp1', 'comp3'], ['é'.repeat(100), ''], ['x'.repeat(20_000)]][i] ?? [],
      warming_up: i === 2 ? 1 : 0,
      model_version: modelVersion,
      spec_hash: 'h'.repeat(130),
      scored_at: formatInstant(bucketMs + i * HOUR_MS + 123 + i, caps),
      source_topic: 'pdm.telemetry',
      source_partition: [0, -1, 2147483647, -2147483648][i] ?? 0,
      source_offset: ['0', '9007199254740993', '9223372036854775807', '-9223372036854775808'][i] ?? '0',
      engine_version: i === 2 ? '漢'.repeat(6000) : `v${i}`,
    }));
    const featureVectors: FeatureVectorRow[] = [0, 1, 2, 3].map((i) => ({
      machine_id: 4_000_000_000 + i,
      bucket_ts: formatDateTime(bucketMs + i * HOUR_MS),
      spec_hash: 'h'.repeat(130),
      feature_set: ['pdm-v1', 'ünïcödé', '', 'f'.repeat(200)][i] ?? '',
      features:
        [
          [],
          Array.from({ length: FEATURE_COUNT }, (_, k) => k / 7 - 3),
          [Number.NaN, Infinity, -Infinity, -0, Number.MIN_VALUE, Number.MAX_VALUE, 0.1],
          Float64Array.from({ length: 300 }, (_, k) => Math.sqrt(k)),
        ][i] ?? [],
      model_version: modelVersion,
      scored_at: formatInstant(bucketMs + i * HOUR_MS + 999, caps),
      engine_version: `v${i}`,
    }));
    expect(caps.modernTypes).toBe(true);
    await migrate(ch, DB); // a no-op after the migrate test; creates the tables when run alone (-t)
    expect(
      await storedAndReadBack(TABLES.predictions, predictionsFormat(caps), predictions, modelVersion),
    ).toEqual([]);
    expect(
      await storedAndReadBack(
        TABLES.featureVectors,
        featureVectorsFormat(caps),
        featureVectors,
        modelVersion,
      ),
    ).toEqual([]);
    // Risk-alert transitions (RowBinary since 2026-12-02; JSONEachRow before).
    const riskAlerts: RiskAlertRow[] = [0, 1, 2].map((i) => ({
      alert_id: [`${4_000_000_000 + i}/comp1/x/firing`, 'ünïcödé €😀', 'a'.repeat(300)][i] ?? '',
      machine_id: 4_000_000_000 + i,
      component: ['comp1', 'comp4', ''][i] ?? '',
      state: i === 1 ? 'resolved' : 'firing',
      bucket_ts: formatDateTime(bucketMs + i * HOUR_MS),
      fired_bucket_ts: formatDateTime(bucketMs - i * HOUR_MS),
      probability: [0.5, 1 / 3, Number.MIN_VALUE][i] ?? 0,
      threshold: 0.4 + i / 10,
      clear_threshold: [0.2, -0, 1e300][i] ?? 0,
      model_version: modelVersion,
      source_topic: 'pdm.telemetry',
      source_partition: [0, 2147483647, -2147483648][i] ?? 0,
      source_offset: ['0', '9007199254740993', '9223372036854775807'][i] ?? '0',
      emitted_at: formatInstant(bucketMs + i * HOUR_MS + 7, caps),
      engine_version: `v${i}`,
    }));
    expect(
      await storedAndReadBack(TABLES.riskAlerts, riskAlertsFormat(caps), riskAlerts, modelVersion),
    ).toEqual([]);

    // A format that disagrees with the DDL fails: a Float32 column written as Float64, the 18.x instant
    // (DateTime, 4 bytes) where the table has DateTime64(3), a same-width UInt32 for a Float32.
    const modern = predictionsFormat(caps);
    const widerCopy: RowBinaryFormat<PredictionRow> = {
      columns: modern.columns.map((c) => (c.name === 'p_none' ? { ...c, type: 'Float64' } : c)),
    };
    const sameWidth: RowBinaryFormat<PredictionRow> = {
      columns: modern.columns.map((c) =>
        c.name === 'p_comp4' ? { ...c, type: 'UInt32', value: (r) => Math.round(r.p_comp4 * 1e9) } : c,
      ),
    };
    const legacy = featureVectorsFormat({ modernTypes: false });
    const ddl = await tableTypes(TABLES.predictions);
    expect(typeMismatches(widerCopy, ddl)).toEqual(['p_none: format Float64, table Float32']);
    expect(typeMismatches(sameWidth, ddl)).toEqual(['p_comp4: format UInt32, table Float32']);
    expect(typeMismatches(legacy, await tableTypes(TABLES.featureVectors))).toEqual([
      "scored_at: format DateTime, table DateTime64(3, 'UTC')",
    ]);
    expect(await serverReads(TABLES.predictions, widerCopy, predictions)).not.toEqual([]);
    expect(await serverReads(TABLES.predictions, sameWidth, predictions)).not.toEqual([]);
    expect(await serverReads(TABLES.featureVectors, legacy, featureVectors)).not.toEqual([]);
  });

  it('shadow scoring (issue 13): shadow rows as the engine writes them, the agreement view, report --shadow', async () => {
    const from = http.statements.length;
    await migrate(ch, DB);
    const shadowVersion = 'chdb-shadow-ü';
    const bucketMs = Date.UTC(2032, 0, 1); // keys of no other test
    // Four rows: the shadow agrees on the class of rows 0 and 2; |Δp(comp1)| = 0, 0.25, 0.5, 0.125.
    const liveComp1 = [0.5, 0.25, 0.5, 0.125];
    const shadowComp1 = [0.5, 0.5, 0, 0.25];
    const rows: ShadowPredictionRow[] = [0, 1, 2, 3].map((i) => ({
      machine_id: 4_100_000_000 + i,
      bucket_ts: formatDateTime(bucketMs + i * 12 * HOUR_MS),
      p_none: 1 - (shadowComp1[i] ?? 0),
      p_comp1: shadowComp1[i] ?? 0,
      p_comp2: 0,
      p_comp3: 0,
      p_comp4: 0,
      predicted_class: ['none', 'none', 'none', 'comp1'][i] ?? '',
      predicted_index: i === 3 ? 1 : 0,
      alert: i === 1 ? 1 : 0,
      alert_class: i === 1 ? 'comp1' : 'none',
      alert_components: i === 1 ? ['comp1'] : [],
      warming_up: i === 0 ? 1 : 0,
      model_version: shadowVersion,
      spec_hash: SPEC_HASH,
      scored_at: formatInstant(bucketMs, caps),
      source_topic: 'pdm.telemetry',
      source_partition: 1,
      source_offset: String(100 + i),
      engine_version: 'test',
      live_model_version: MODEL,
      live_p_none: 1 - (liveComp1[i] ?? 0),
      live_p_comp1: liveComp1[i] ?? 0,
      live_p_comp2: 0,
      live_p_comp3: 0,
      live_p_comp4: 0,
      live_predicted_class: ['none', 'comp1', 'none', 'none'][i] ?? '',
      live_alert: i === 1 || i === 3 ? 1 : 0,
      live_alert_components: i === 1 || i === 3 ? ['comp1'] : [],
    }));
    expect(
      await storedAndReadBack(TABLES.shadowPredictions, shadowPredictionsFormat(caps), rows, shadowVersion),
    ).toEqual([]);
    const view = await ch.query<Record<string, unknown>>(
      `SELECT * FROM ${DB}.${SHADOW_AGREEMENT_VIEW} WHERE shadow_model_version = {v:String}`,
      { v: shadowVersion },
    );
    expect(view.map(parseShadowAgreement)).toEqual([
      {
        shadow_model_version: shadowVersion,
        live_model_version: MODEL,
        rows: 4,
        warming_up_rows: 1,
        first_bucket: '2032-01-01 00:00:00',
        last_bucket: '2032-01-02 12:00:00',
        same_class_share: 0.5,
        mean_abs_dp: { none: 0.21875, comp1: 0.21875, comp2: 0, comp3: 0, comp4: 0 },
        // quantileExact(0.99) of 4 values: the element at ⌊0.99 · 4⌋ = 3 in order, the largest.
        p99_abs_dp: { none: 0.5, comp1: 0.5, comp2: 0, comp3: 0, comp4: 0 },
        live_alert_rows: 2,
        shadow_alert_rows: 1,
        both_alert_rows: 1,
        live_alerts: { comp1: 2, comp2: 0, comp3: 0, comp4: 0 },
        shadow_alerts: { comp1: 1, comp2: 0, comp3: 0, comp4: 0 },
        both_alerts: { comp1: 1, comp2: 0, comp3: 0, comp4: 0 },
      },
    ]);
    const env = { CLICKHOUSE_URL: http.url, CLICKHOUSE_DATABASE: DB };
    const all = await runCliInProcess(['report', '--shadow'], env);
    expect(all.code, all.out).toBe(0);
    expect(all.out).toContain(`shadow ${shadowVersion} vs live ${MODEL}: 4 rows`);
    expect(all.out).toContain('same most likely class (argmax): 50.0 %');
    // Machine 4 100 000 003's latest (only) bucket: live alerts for comp1, the shadow does not.
    expect(all.out).toMatch(/machine 4100000003 {2}2032-01-02 12:00:00 {2}live: comp1 {2}shadow: no alert/);
    const range = await runCliInProcess(
      ['report', '--shadow', '--from', '2032-01-01T12:00:00Z', '--to', '2032-01-02T00:00:00Z'],
      env,
    );
    expect(range.code, range.out).toBe(0);
    expect(range.out).toContain(`shadow ${shadowVersion} vs live ${MODEL}: 1 rows`);
    expect(failures(from)).toEqual([]);
  });

  it('every ClickHouse call site in src/ ran above (add a driver here for new SQL)', () => {
    expect(staticSites().filter((s) => !seen.sites.has(s))).toEqual([]);
  });
});
