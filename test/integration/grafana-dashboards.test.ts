/**
 * Issue 11 (dashboards): the Grafana dashboards of deploy/grafana/dashboards, checked without Grafana (it
 * does not install here). Structure: every panel, target, variable and annotation names a provisioned
 * datasource, has a query, and refers only to variables that exist. Prometheus: every metric a dashboard
 * reads is registered by the engine, and every expression parses (`promtool check rules` on a rules file
 * made of them). ClickHouse: every query a dashboard sends runs on the running ClickHouse (18.16 locally)
 * against a migrated database of its own with known rows, expanded as Grafana and the plugin expand it,
 * and returns the expected columns and rows. test/integration/chdb-sql.test.ts runs the same queries on a
 * current ClickHouse.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDeadLetterDepthGauge } from '../../src/dlq/index.js';
import { DEAD_LETTER_REASONS } from '../../src/shared/errors.js';
import { createEngineMetrics } from '../../src/shared/metrics.js';
import {
  createClickHouse,
  formatDateTime,
  migrate,
  quoteIdent,
  type ClickHouseConnection,
} from '../../src/sink/index.js';
import {
  CLICKHOUSE_PLUGIN,
  customVariableValues,
  dashboardQueries,
  expandClickHouseQuery,
  interpolateVariables,
  isClickHouse,
  isObject,
  isPrometheus,
  loadDashboards,
  panelsOf,
  provisionedDatasources,
  referencedVariables,
  variablesOf,
  type Json,
  type QueryContext,
} from '../support/grafana-dashboards.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';

const dashboards = loadDashboards();
const queries = dashboardQueries(dashboards);
const datasources = provisionedDatasources();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A JSON value for a message: strings as they are, anything else as JSON. */
const show = (v: Json | undefined): string =>
  typeof v === 'string' ? v : v === undefined ? 'undefined' : JSON.stringify(v);

/** Every string in a JSON value. */
function strings(v: Json | undefined): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (isObject(v)) return Object.values(v).flatMap(strings);
  return [];
}

describe('dashboards: structure', () => {
  it('engine, dead letters and fleet risk, unique uids, unique panel ids, on a 24-column grid', () => {
    const uids = dashboards.map((d) => d.json['uid']);
    expect(uids).toEqual(expect.arrayContaining(['pdm-stream', 'pdm-dead-letters', 'pdm-fleet-risk']));
    expect(new Set(uids).size).toBe(uids.length);
    for (const d of dashboards) {
      expect(`${show(d.json['uid'])}.json`, 'file named after its uid').toBe(d.file);
      const ids = panelsOf(d).map((p) => p['id']);
      expect(new Set(ids).size, `${d.file}: panel ids`).toBe(ids.length);
      for (const p of panelsOf(d)) {
        const g = p['gridPos'];
        expect(isObject(g), `${d.file} panel ${show(p['id'])}: gridPos`).toBe(true);
        if (isObject(g)) expect(Number(g['x']) + Number(g['w'])).toBeLessThanOrEqual(24);
      }
    }
  });

  it('every panel, target, variable and annotation names a provisioned datasource by uid and type', () => {
    expect(datasources.map((d) => d.type).sort()).toEqual([CLICKHOUSE_PLUGIN, 'prometheus']);
    const known = new Set(datasources.map((d) => `${d.type}/${d.uid}`));
    const problems: string[] = [];
    for (const d of dashboards)
      for (const p of panelsOf(d)) {
        if (p['type'] === 'row') continue;
        const ds = p['datasource'];
        const key = isObject(ds) ? `${show(ds['type'])}/${show(ds['uid'])}` : show(ds);
        if (!known.has(key)) problems.push(`${d.file} panel "${show(p['title'])}": datasource ${key}`);
        if (!Array.isArray(p['targets']) || p['targets'].length === 0)
          problems.push(`${d.file} panel "${show(p['title'])}": no targets`);
        const refIds = (Array.isArray(p['targets']) ? p['targets'] : []).map((t) =>
          isObject(t) ? t['refId'] : undefined,
        );
        if (new Set(refIds).size !== refIds.length || refIds.includes(undefined))
          problems.push(`${d.file} panel "${show(p['title'])}": refIds ${JSON.stringify(refIds)}`);
      }
    for (const q of queries) {
      const key = q.datasource === undefined ? 'none' : `${q.datasource.type}/${q.datasource.uid}`;
      if (!known.has(key)) problems.push(`${q.id}: datasource ${key}`);
      if (q.text.trim() === '') problems.push(`${q.id}: no query`);
      if (isClickHouse(q) && !/^\s*SELECT\b/i.test(q.text)) problems.push(`${q.id}: not a SELECT`);
    }
    expect(problems).toEqual([]);
    // Both kinds are used, including the three dashboard-level query kinds.
    expect(queries.filter(isClickHouse).map((q) => q.kind)).toEqual(
      expect.arrayContaining(['panel', 'variable', 'annotation']),
    );
    expect(queries.filter(isPrometheus).length).toBeGreaterThan(10);
  });

  it('every variable a dashboard refers to exists, and built-ins are ones Grafana or the plugin define', () => {
    // SQL macros the test expansion implements, data-link variables, and `$__all` (a variable's All option).
    const builtIns = new Set([
      'timeFilter',
      'fromTime',
      'toTime',
      'interval_s',
      'value',
      'url_time_range',
      'all',
    ]);
    const problems: string[] = [];
    for (const d of dashboards) {
      const defined = new Set(variablesOf(d).map((v) => v['name']));
      for (const s of strings(d.json)) {
        for (const name of referencedVariables(s))
          if (!defined.has(name)) problems.push(`${d.file}: $${name} in ${JSON.stringify(s.slice(0, 80))}`);
        for (const m of s.matchAll(/\$\{?__(\w+)/g))
          if (!builtIns.has(m[1] ?? '')) problems.push(`${d.file}: built-in $__${m[1] ?? ''}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the reason variable offers exactly the engine’s dead-letter reasons', () => {
    const d = dashboards.find((x) => x.json['uid'] === 'pdm-dead-letters');
    expect(d).toBeDefined();
    if (d !== undefined) expect(customVariableValues(d, 'reason')).toEqual([...DEAD_LETTER_REASONS]);
  });

  it('docker-compose provisions them: plugin installed, datasources and dashboards mounted, credentials from env', () => {
    const compose = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
    const grafana = /^ {2}grafana:\n((?: {4}.*\n|\s*\n)*)/m.exec(compose)?.[1] ?? '';
    expect(grafana).toMatch(/GF_INSTALL_PLUGINS: grafana-clickhouse-datasource \d+\.\d+\.\d+/);
    expect(grafana).toMatch(/- \.\/deploy\/grafana\/provisioning:\/etc\/grafana\/provisioning:ro/);
    const mount = /- \.\/deploy\/grafana\/dashboards:(\S+?):ro/.exec(grafana)?.[1];
    const provider = readFileSync(`${ROOT}deploy/grafana/provisioning/dashboards/pdm-stream.yml`, 'utf8');
    expect(mount).toBeDefined();
    expect(provider).toContain(`path: ${mount ?? '?'}`);
    // The ClickHouse datasource points at the compose service and reads its credentials from the
    // environment the compose file gives the grafana service.
    const chYml = readFileSync(`${ROOT}deploy/grafana/provisioning/datasources/clickhouse.yml`, 'utf8');
    expect(chYml).toMatch(/host: clickhouse\n/);
    expect(compose).toMatch(/^ {2}clickhouse:\n/m);
    for (const env of chYml.matchAll(/\$\{?(\w+)\}?/g))
      expect(grafana).toMatch(new RegExp(`^ {6}${env[1] ?? '?'}: `, 'm'));
  });
});

describe('dashboards: Prometheus queries', () => {
  const prom = queries.filter(isPrometheus);
  const reasons = [...DEAD_LETTER_REASONS];
  const exprs = prom.map((q) => ({ id: q.id, expr: interpolateVariables(q.text, { reason: reasons }) }));

  it('read only metrics the engine registers (and up, ALERTS from Prometheus itself)', async () => {
    const metrics = createEngineMetrics();
    registerDeadLetterDepthGauge({
      registry: metrics.registry,
      ch: {} as ClickHouseConnection, // never used: readDepth is injected
      database: 'unused',
      readDepth: () => Promise.resolve([]),
    });
    const names = new Set<string>(['up', 'ALERTS']);
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
    const unknown: string[] = [];
    for (const { id, expr } of exprs) {
      // Metric names: identifiers outside label matchers, ranges, grouping clauses and strings, not called.
      const bare = expr
        .replace(/"(?:[^"\\]|\\.)*"/g, '""')
        .replace(/\{[^}]*\}/g, '')
        .replace(/\[[^\]]*\]/g, '')
        .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
      for (const m of bare.matchAll(/\b([A-Za-z_:][\w:]*)\b(?!\s*\()/g)) {
        const name = m[1] ?? '';
        if (['and', 'or', 'unless', 'bool', 'offset'].includes(name)) continue;
        if (!names.has(name)) unknown.push(`${id}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
    // The names the issue asks about are read.
    const all = exprs.map((e) => e.expr).join('\n');
    for (const n of [
      'pdm_paused',
      'pdm_consumer_lag_messages',
      'pdm_dead_letter_depth',
      'pdm_dead_letters_total',
    ])
      expect(all).toMatch(new RegExp(`\\b${n}\\b`));
    expect(all).toMatch(/by \(cause\) \(pdm_paused\)/);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  it.skipIf(promtool.status !== 0)('every expression parses (promtool check rules)', () => {
    // promtool has no offline "check this query"; a recording rule per expression makes it parse them all.
    const dir = mkdtempSync(join(tmpdir(), 'pdm-grafana-promql-'));
    try {
      const rules = [
        'groups:',
        '  - name: dashboards',
        '    rules:',
        ...exprs.flatMap((e, i) => [
          `      - record: dashboard:query_${i}`,
          `        expr: ${JSON.stringify(e.expr)}`,
        ]),
      ].join('\n');
      writeFileSync(join(dir, 'rules.yml'), `${rules}\n`);
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain(`${exprs.length} rules found`);
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------------------------------
// ClickHouse: every query on the running server, against rows whose answers are known.

const database = `pdm_it_grafana_${uniqueToken()}`;
const config = testConfig({ CLICKHOUSE_DATABASE: database });
const db = quoteIdent(database);
let ch: ClickHouseConnection;
const HOUR_MS = 3_600_000;
const NOW_MS = Date.now();
const H = Math.floor(NOW_MS / HOUR_MS) * HOUR_MS; // the current bucket's start
const bucket = (k: number) => formatDateTime(H - k * HOUR_MS);

/** Grafana's request for the last day with the dashboards' defaults (every reason, machine 1). */
const context = (vars: QueryContext['vars'] = {}): QueryContext => ({
  fromMs: NOW_MS - 24 * HOUR_MS,
  toMs: NOW_MS + 60_000,
  intervalS: 60,
  vars: { database, machine: '1', reason: [...DEAD_LETTER_REASONS], ...vars },
});

interface Answer {
  readonly meta: { name: string; type: string }[];
  readonly data: Record<string, Json>[];
}

/** FORMAT JSON over HTTP, as a Grafana query: the column names and types come back even with no rows. */
async function run(sql: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (config.clickhouse.username !== '')
    headers['Authorization'] =
      `Basic ${Buffer.from(`${config.clickhouse.username}:${config.clickhouse.password}`).toString('base64')}`;
  const res = await fetch(config.clickhouse.url, { method: 'POST', headers, body: `${sql}\nFORMAT JSON` });
  const text = await res.text();
  if (!res.ok) throw new Error(`${text.trim()}\n  in: ${sql}`);
  return JSON.parse(text) as Answer;
}

function prediction(
  machine: number,
  k: number,
  o: {
    alert?: 0 | 1;
    cls?: string;
    comps?: string[];
    warming?: 0 | 1;
    p1?: number;
    model?: string;
    scoredMs?: number;
  },
) {
  const p1 = o.p1 ?? 0.1;
  return {
    machine_id: machine,
    bucket_ts: bucket(k),
    p_none: 1 - p1 - 0.15,
    p_comp1: p1,
    p_comp2: 0.05,
    p_comp3: 0.05,
    p_comp4: 0.05,
    predicted_class: p1 > 0.5 ? 'comp1' : 'none',
    predicted_index: p1 > 0.5 ? 1 : 0,
    alert: o.alert ?? 0,
    alert_class: o.cls ?? 'none',
    alert_components: o.comps ?? [],
    warming_up: o.warming ?? 0,
    model_version: o.model ?? 'test/1',
    spec_hash: 'test',
    scored_at: formatDateTime(o.scoredMs ?? NOW_MS),
    source_topic: 'pdm.telemetry',
    source_partition: 0,
    source_offset: String(machine * 100 + k),
    engine_version: 'test',
  };
}

function deadLetter(offset: number, reason: string, topic: string, agoMs: number) {
  const at = NOW_MS - agoMs;
  return {
    topic,
    partition: 1,
    offset: String(offset),
    key: '7',
    payload_base64: 'AAAAAAcBAgM=',
    payload_bytes: 8,
    reason,
    stage: 'decode',
    error_message: `test ${reason}`,
    schema_id: 7,
    machine_id: 7,
    message_ts: formatDateTime(at),
    dead_lettered_at: formatDateTime(at),
    engine_version: 'test',
    key_base64: 'Nw==',
    message_ts_ms: at,
    replay_count: 0,
    replayed_from: '',
  };
}

beforeAll(async () => {
  ch = createClickHouse(config.clickhouse);
  await migrate(ch, database);
  // Machine 1 alerts at buckets 4, 3 and 1 before the current one (two alert periods, the second ongoing);
  // bucket 1 was scored twice, first by an older model without an alert. Machine 2 is warming up, machine 3
  // never alerts.
  const alertsOf1 = [0, 1, 1, 0, 1]; // buckets 5 … 1
  await ch.insert(`${db}.predictions`, [
    ...alertsOf1.map((a, i) =>
      prediction(1, 5 - i, {
        alert: a as 0 | 1,
        cls: a === 1 ? 'comp1' : 'none',
        comps: a === 1 ? ['comp1', 'comp3'] : [],
        p1: a === 1 ? 0.8 : 0.2,
      }),
    ),
    prediction(1, 1, { model: 'test/0', p1: 0.3, scoredMs: NOW_MS - HOUR_MS }),
    ...[3, 2, 1].map((k) => prediction(2, k, { warming: 1, p1: 0.9 })),
    ...[5, 4, 3, 2, 1].map((k) => prediction(3, k, { p1: 0.3 })),
  ]);
  await ch.insert(`${db}.dead_letters`, [
    deadLetter(10, 'INVALID_VALUE', 'pdm.telemetry', 50 * 60_000),
    deadLetter(11, 'INVALID_VALUE', 'pdm.telemetry', 20 * 60_000),
    deadLetter(12, 'UNKNOWN_SCHEMA', 'pdm.telemetry', 10 * 60_000),
    deadLetter(13, 'BAD_FRAME', 'pdm.errors', 5 * 60_000),
  ]);
  await ch.insert(`${db}.dead_letter_resolutions`, [
    {
      topic: 'pdm.errors',
      partition: 1,
      offset: '13',
      reason: 'BAD_FRAME',
      action: 'dismissed',
      note: 'test',
      resolved_at: formatDateTime(NOW_MS - 60_000),
      replay_count: 0,
      replayed_to_partition: -1,
      replayed_to_offset: '-1',
      engine_version: 'test',
    },
  ]);
}, 120_000);

afterAll(async () => {
  await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
});

/**
 * The columns each ClickHouse query returns, by query id: a query added to a dashboard fails here until its
 * columns are written down (and it runs). Time series queries return `time` first (the plugin's rule).
 */
const COLUMNS: Record<string, string[]> = {
  'pdm-dead-letters / Unresolved (ClickHouse view dead_letter_depth) / A': ['unresolved'],
  'pdm-dead-letters / Oldest unresolved / A': ['oldest_age_s'],
  'pdm-dead-letters / Resolved in range / A': ['replayed', 'dismissed'],
  'pdm-dead-letters / Depth by reason and topic (ClickHouse view dead_letter_depth) / A': [
    'reason',
    'topic',
    'depth',
    'oldest_at',
    'newest_at',
  ],
  'pdm-dead-letters / Dead-lettered by reason (ClickHouse, resolved or not) / A': [
    'time',
    'reason',
    'dead_letters',
  ],
  'pdm-dead-letters / Recent unresolved dead letters / A': [
    'dead_lettered_at',
    'reason',
    'topic',
    'partition',
    'offset',
    'machine_id',
    'schema_id',
    'replay_count',
    'stage',
    'error_message',
    'payload_bytes',
  ],
  'pdm-dead-letters / Recent resolutions (replayed, dismissed) / A': [
    'resolved_at',
    'action',
    'reason',
    'topic',
    'partition',
    'offset',
    'replay_count',
    'replayed_to_partition',
    'replayed_to_offset',
    'note',
  ],
  'pdm-fleet-risk / Machines / A': ['alerting', 'warming_up', 'machines'],
  'pdm-fleet-risk / Machines alerting per bucket by strongest component / A': [
    'time',
    'alert_class',
    'machines',
  ],
  'pdm-fleet-risk / Machines ranked by risk / A': [
    'machine_id',
    'latest_bucket',
    'alert',
    'alert_class',
    'alert_components',
    'warming_up',
    'p_alert',
    'p_max_component',
    'most_likely',
    'model_version',
  ],
  'pdm-fleet-risk / Machine ${machine}: probabilities per bucket / A': [
    'time',
    'comp1',
    'comp2',
    'comp3',
    'comp4',
    'none',
    'alert',
    'warming_up',
  ],
  'pdm-fleet-risk / Machine ${machine}: alert periods / A': [
    'start',
    'end',
    'ongoing',
    'alert_class',
    'alert_components',
  ],
  'pdm-fleet-risk / variable machine': ['machine_id'],
  'pdm-fleet-risk / annotation Alert starts (machine ${machine})': ['time', 'timeEnd', 'text', 'tags'],
};

describe('dashboards: ClickHouse queries on the running server', () => {
  const sql = queries.filter(isClickHouse);
  const answers = new Map<string, Answer>();
  const byTitle = (part: string): Answer => {
    const hit = [...answers].find(([id]) => id.includes(part));
    if (hit === undefined) throw new Error(`no answer for ${part}`);
    return hit[1];
  };
  const num = (v: Json | undefined) => Number(v);

  it('every query runs, expanded as Grafana sends it, and returns its columns', async () => {
    const version = (await run('SELECT version() AS v')).data[0]?.['v'];
    const failed: string[] = [];
    for (const q of sql) {
      try {
        const a = await run(expandClickHouseQuery(q.text, context()));
        answers.set(q.id, a);
        expect(
          a.meta.map((m) => m.name),
          q.id,
        ).toEqual(COLUMNS[q.id] ?? ['(no expected columns for this query)']);
        if (q.format === 'timeseries') expect(a.meta[0]?.type, `${q.id}: time column`).toMatch(/^DateTime/);
      } catch (err) {
        failed.push(`${q.id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(failed).toEqual([]);
    expect(Object.keys(COLUMNS).sort()).toEqual(sql.map((q) => q.id).sort());
    console.log(`grafana dashboards: ${sql.length} ClickHouse queries ran on ClickHouse ${show(version)}`);
  });

  it('dead letters: depth from the views, by reason over time, recent rows, resolutions', () => {
    expect(num(byTitle('Unresolved (ClickHouse view').data[0]?.['unresolved'])).toBe(3);
    const depth = byTitle('Depth by reason and topic').data.map((r) => [r['reason'], num(r['depth'])]);
    expect(depth).toEqual([
      ['INVALID_VALUE', 2],
      ['UNKNOWN_SCHEMA', 1],
    ]);
    const oldest = num(byTitle('Oldest unresolved').data[0]?.['oldest_age_s']);
    expect(oldest).toBeGreaterThanOrEqual(50 * 60 - 5);
    expect(oldest).toBeLessThan(60 * 60);
    const overTime = byTitle('Dead-lettered by reason').data;
    expect(overTime.reduce((s, r) => s + num(r['dead_letters']), 0)).toBe(4); // resolved ones too
    expect(byTitle('Recent unresolved dead letters').data.map((r) => show(r['offset']))).toEqual([
      '12',
      '11',
      '10',
    ]);
    expect(byTitle('Recent resolutions').data.map((r) => [r['action'], show(r['offset'])])).toEqual([
      ['dismissed', '13'],
    ]);
    expect(num(byTitle('Resolved in range').data[0]?.['dismissed'])).toBe(1);
  });

  it('dead letters: the reason variable filters (one reason, and a value with a quote stays a literal)', async () => {
    const q = sql.find((x) => x.id.includes('Unresolved (ClickHouse view'));
    expect(q).toBeDefined();
    const one = await run(expandClickHouseQuery(q?.text ?? '', context({ reason: ['INVALID_VALUE'] })));
    expect(num(one.data[0]?.['unresolved'])).toBe(2);
    const odd = await run(expandClickHouseQuery(q?.text ?? '', context({ reason: ["it's"] })));
    expect(num(odd.data[0]?.['unresolved'])).toBe(0);
  });

  it('fleet risk: ranked by the package decision at each machine’s latest bucket', () => {
    const ranked = byTitle('Machines ranked by risk').data;
    expect(ranked.map((r) => num(r['machine_id']))).toEqual([1, 3, 2]); // alerting, then not warming up first
    expect(ranked[0]).toMatchObject({
      alert_class: 'comp1',
      alert_components: 'comp1, comp3',
      model_version: 'test/1',
    });
    expect(num(ranked[0]?.['p_alert'])).toBeCloseTo(0.8, 5);
    expect(num(ranked[2]?.['warming_up'])).toBe(1);
    const m = byTitle('pdm-fleet-risk / Machines / A').data[0];
    expect([m?.['alerting'], m?.['warming_up'], m?.['machines']].map(num)).toEqual([1, 1, 3]);
    const perBucket = byTitle('Machines alerting per bucket').data.map((r) => num(r['machines']));
    expect(perBucket).toEqual([1, 1, 1]);
    expect(byTitle('variable machine').data.map((r) => num(r['machine_id']))).toEqual([1, 2, 3]);
  });

  it('fleet risk: one machine’s probabilities per bucket, alert periods and their annotations', () => {
    const series = byTitle('probabilities per bucket').data;
    expect(series.map((r) => num(r['alert']))).toEqual([0, 1, 1, 0, 1]); // bucket 1: the later-scored row
    expect(num(series[4]?.['comp1'])).toBeCloseTo(0.8, 5);
    const periods = byTitle('alert periods').data.map((r) => [r['start'], r['end'], num(r['ongoing'])]);
    expect(periods).toEqual([
      [bucket(1), bucket(1), 1],
      [bucket(4), bucket(2), 0],
    ]);
    const marks = byTitle('annotation Alert starts').data;
    expect(marks.map((r) => [r['time'], r['timeEnd'], r['tags']])).toEqual([
      [bucket(4), bucket(2), 'comp1'],
      [bucket(1), bucket(1), 'comp1'],
    ]);
    expect(marks[0]?.['text']).toBe('alert comp1 (comp1, comp3)');
  });
});
