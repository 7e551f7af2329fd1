/**
 * The Grafana dashboards of deploy/grafana, read the way Grafana and the ClickHouse plugin read them, for
 * tests that run their queries (test/integration/grafana-dashboards.test.ts on the local 18.16,
 * test/integration/chdb-sql.test.ts on a current engine). One place knows where a query lives in the JSON
 * (panel targets, template variables, annotations), which datasource it goes to, and how a query is
 * expanded before it reaches ClickHouse: Grafana's template variables, then the plugin's macros. Only the
 * macros the dashboards use are implemented; any other `$__name` fails the expansion, so a dashboard that
 * starts using one fails its test until the expansion learns it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const GRAFANA = fileURLToPath(new URL('../../deploy/grafana/', import.meta.url));
export const DASHBOARDS_DIR = `${GRAFANA}dashboards/`;
export const DATASOURCES_DIR = `${GRAFANA}provisioning/datasources/`;

/** The plugin id of the official ClickHouse datasource (grafana/clickhouse-datasource). */
export const CLICKHOUSE_PLUGIN = 'grafana-clickhouse-datasource';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Dashboard {
  readonly file: string;
  readonly json: JsonObject;
}

export interface DatasourceRef {
  readonly type: string;
  readonly uid: string;
}

export interface DashboardQuery {
  /** `<dashboard uid> / <panel title> / <refId>`, `… / variable <name>` or `… / annotation <name>`. */
  readonly id: string;
  readonly dashboard: string;
  readonly kind: 'panel' | 'variable' | 'annotation';
  /** The datasource the query goes to (the target's own, else its panel's, variable's or annotation's). */
  readonly datasource: DatasourceRef | undefined;
  /** PromQL or SQL as written in the dashboard, before any expansion. */
  readonly text: string;
  /** For ClickHouse panel targets: 'table' or 'timeseries' (the plugin's `format`, 1 or 0). */
  readonly format?: 'table' | 'timeseries';
}

export const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

export function loadDashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(`${DASHBOARDS_DIR}${file}`, 'utf8')) as Json;
      if (!isObject(json)) throw new Error(`${file}: not a JSON object`);
      return { file, json };
    });
}

/**
 * `uid` and `type` of every provisioned datasource (deploy/grafana/provisioning/datasources/*.yml). The files
 * are flat lists (`- name:` items with scalar `uid:`/`type:` keys); this reads only that shape, and a file
 * holding an item without both keys fails here rather than passing unchecked.
 */
export function provisionedDatasources(): (DatasourceRef & { readonly file: string })[] {
  const out: (DatasourceRef & { readonly file: string })[] = [];
  for (const file of readdirSync(DATASOURCES_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    const text = readFileSync(`${DATASOURCES_DIR}${file}`, 'utf8');
    for (const item of text.split(/^\s*- (?=name:)/m).slice(1)) {
      const uid = /^\s*uid:\s*['"]?([\w-]+)['"]?\s*$/m.exec(item)?.[1];
      const type = /^\s*type:\s*['"]?([\w-]+)['"]?\s*$/m.exec(item)?.[1];
      if (uid === undefined || type === undefined)
        throw new Error(`${file}: a datasource without uid or type`);
      out.push({ file, uid, type });
    }
  }
  return out;
}

function datasourceOf(v: Json | undefined): DatasourceRef | undefined {
  if (!isObject(v)) return undefined;
  const type = str(v['type']);
  const uid = str(v['uid']);
  return type === undefined || uid === undefined ? undefined : { type, uid };
}

/** Panels, with the panels nested in collapsed rows. */
export function panelsOf(d: Dashboard): JsonObject[] {
  const out: JsonObject[] = [];
  for (const p of list(d.json['panels'])) {
    if (!isObject(p)) continue;
    out.push(p);
    for (const q of list(p['panels'])) if (isObject(q)) out.push(q);
  }
  return out;
}

export function variablesOf(d: Dashboard): JsonObject[] {
  const templating = d.json['templating'];
  return isObject(templating) ? list(templating['list']).filter(isObject) : [];
}

/** The query text of a target for its datasource: PromQL `expr`, the ClickHouse plugin's `rawSql`. */
export function targetText(target: JsonObject): string | undefined {
  return str(target['expr']) ?? str(target['rawSql']);
}

/** Every query of every dashboard: panel targets, query variables, annotations. */
export function dashboardQueries(dashboards: readonly Dashboard[] = loadDashboards()): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const d of dashboards) {
    const uid = str(d.json['uid']) ?? d.file;
    for (const p of panelsOf(d)) {
      if (p['type'] === 'row') continue;
      for (const t of list(p['targets']).filter(isObject)) {
        const format = t['format'] === 0 ? 'timeseries' : t['format'] === 1 ? 'table' : undefined;
        out.push({
          id: `${uid} / ${str(p['title']) ?? '?'} / ${str(t['refId']) ?? '?'}`,
          dashboard: uid,
          kind: 'panel',
          datasource: datasourceOf(t['datasource']) ?? datasourceOf(p['datasource']),
          text: targetText(t) ?? '',
          ...(format === undefined ? {} : { format }),
        });
      }
    }
    for (const v of variablesOf(d)) {
      if (v['type'] !== 'query') continue;
      const q = v['query'];
      out.push({
        id: `${uid} / variable ${str(v['name']) ?? '?'}`,
        dashboard: uid,
        kind: 'variable',
        datasource: datasourceOf(v['datasource']),
        text: str(q) ?? (isObject(q) ? (str(q['rawSql']) ?? str(q['query']) ?? '') : ''),
      });
    }
    const annotations = d.json['annotations'];
    for (const a of isObject(annotations) ? list(annotations['list']).filter(isObject) : []) {
      if (a['builtIn'] === 1) continue; // Grafana's own "Annotations & Alerts"
      const target = isObject(a['target']) ? a['target'] : {};
      out.push({
        id: `${uid} / annotation ${str(a['name']) ?? '?'}`,
        dashboard: uid,
        kind: 'annotation',
        datasource: datasourceOf(target['datasource']) ?? datasourceOf(a['datasource']),
        text: targetText(target) ?? '',
      });
    }
  }
  return out;
}

export const isClickHouse = (q: DashboardQuery): boolean => q.datasource?.type === CLICKHOUSE_PLUGIN;
export const isPrometheus = (q: DashboardQuery): boolean => q.datasource?.type === 'prometheus';

/** What Grafana knows when it sends a query: the time range, the interval, the variables' values. */
export interface QueryContext {
  readonly fromMs: number;
  readonly toMs: number;
  /** `$__interval` in seconds. @default 60 */
  readonly intervalS?: number;
  /** Variable values; an array is a multi-value selection (or "All": every option's value). */
  readonly vars: Readonly<Record<string, string | readonly string[]>>;
}

/** A string literal as Grafana's `singlequote` format writes it (quotes escaped with a backslash). */
const singleQuote = (s: string): string => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** Grafana's variable formats used by the dashboards (`${name}`, `$name`, `${name:singlequote}`, `${name:regex}`). */
function formatVariable(name: string, value: string | readonly string[], format: string | undefined): string {
  const values = typeof value === 'string' ? [value] : value;
  switch (format) {
    case undefined:
      // A multi-value variable without a format renders as `{a,b}` (Prometheus-style): dashboards use a
      // format for those, so a bare multi-value reference is a mistake here.
      if (values.length !== 1) throw new Error(`$${name} has several values: use \${${name}:singlequote}`);
      return values[0] ?? '';
    case 'singlequote':
      return values.map(singleQuote).join(',');
    case 'regex':
      return values.length === 1
        ? (values[0] ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
        : `(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`;
    default:
      throw new Error(`variable format :${format} of $${name} is not implemented`);
  }
}

/** Grafana's variable interpolation: `${name}`, `${name:format}`, `$name`, `[[name]]`; built-ins (`$__…`) untouched. */
export function interpolateVariables(text: string, vars: QueryContext['vars']): string {
  const value = (name: string): string | readonly string[] => {
    const v = vars[name];
    if (v === undefined) throw new Error(`no value for the variable $${name}`);
    return v;
  };
  return text
    .replace(/\$\{(?!__)(\w+)(?::(\w+))?\}/g, (_, name: string, format: string | undefined) =>
      formatVariable(name, value(name), format),
    )
    .replace(/\[\[(?!__)(\w+)(?::(\w+))?\]\]/g, (_, name: string, format: string | undefined) =>
      formatVariable(name, value(name), format),
    )
    .replace(/\$(?!__)([A-Za-z]\w*)/g, (_, name: string) => formatVariable(name, value(name), undefined));
}

/**
 * A dashboard's ClickHouse SQL as the plugin (grafana-clickhouse-datasource 4.x, pkg/macros) sends it:
 * variables first (Grafana), then the macros `$__timeFilter(col)` → `col >= toDateTime(from) AND col <=
 * toDateTime(to)`, `$__fromTime`, `$__toTime` → `toDateTime(seconds)`, `$__interval_s` → whole seconds,
 * at least 1. Other macros are refused (see the file comment).
 */
export function expandClickHouseQuery(sql: string, ctx: QueryContext): string {
  const from = Math.floor(ctx.fromMs / 1000);
  const to = Math.floor(ctx.toMs / 1000);
  const expanded = interpolateVariables(sql, ctx.vars)
    .replace(/\$__timeFilter\(\s*([\w.]+)\s*\)/g, `$1 >= toDateTime(${from}) AND $1 <= toDateTime(${to})`)
    .replace(/\$__fromTime\b/g, `toDateTime(${from})`)
    .replace(/\$__toTime\b/g, `toDateTime(${to})`)
    .replace(/\$__interval_s\b/g, String(Math.max(1, Math.floor(ctx.intervalS ?? 60))));
  const left = /\$__\w+/.exec(expanded);
  if (left !== null) throw new Error(`macro ${left[0]} is not implemented by the test expansion`);
  return expanded;
}

/**
 * Names of the variables a text refers to (`$name`, `${name…}`, `[[name]]`), without Grafana's built-ins
 * (`$__…`, `${__…}`).
 */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(
    /\$\{(?!__)(\w+)(?::\w+)?\}|\[\[(?!__)(\w+)(?::\w+)?\]\]|\$(?!__)([A-Za-z]\w*)/g,
  ))
    names.add(m[1] ?? m[2] ?? m[3] ?? '');
  return [...names];
}

/** Values of one dashboard's custom variable (its comma-separated `query`): what "All" selects. */
export function customVariableValues(d: Dashboard, name: string): string[] {
  const v = variablesOf(d).find((x) => x['name'] === name);
  const q = v === undefined ? undefined : str(v['query']);
  if (q === undefined) throw new Error(`${d.file}: no custom variable ${name}`);
  return q.split(',').map((s) => s.trim());
}
