/** Plain-text renderings of stack results for the CLI. Pure. */
import type { StackDownResult, StackStatus, StackUpResult } from './stack.js';

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatStatus(status: StackStatus): string {
  const rows = [
    ['SERVICE', 'STATE', 'PID', 'ADDRESS', 'WHAT'],
    ...status.services.map((s) => [
      s.name,
      s.state,
      s.pid === undefined ? '-' : String(s.pid),
      s.address,
      [s.description, s.detail].filter((x) => x !== undefined && x !== '').join('; '),
    ]),
  ];
  const where = status.external
    ? 'external services (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CLICKHOUSE_URL): nothing is managed locally'
    : `cache ${status.cacheDir}`;
  return `${table(rows)}\n${where}\n${status.ready ? 'stack: ready' : 'stack: not ready'}`;
}

export function formatUp(result: StackUpResult): string {
  const rows = result.services.map((s) => [
    s.name,
    s.outcome,
    s.address,
    s.outcome === 'already-running' ? 'no-op' : `ready after ${seconds(s.readyMs)}`,
  ]);
  const all = result.services.every((s) => s.outcome === 'already-running');
  const summary = all
    ? `stack: already running (checked in ${seconds(result.readyMs)})`
    : `stack: ready in ${seconds(result.readyMs)}`;
  return `${table(rows)}\n${summary}`;
}

export function formatDown(result: StackDownResult): string {
  const rows = result.services.map((s) => [
    s.name,
    s.outcome === 'not-running' ? 'was not running' : s.outcome,
  ]);
  return `${table(rows)}\n${result.external ? 'stack: external services are not ours to stop' : 'stack: down'}`;
}

/**
 * Settings the engine, simulator and tests need to reach this stack, when they differ from what the current
 * configuration already says (e.g. the stack moved to other ports).
 */
export function connectionHints(
  status: {
    readonly external: boolean;
    readonly services: readonly { readonly name: string; readonly address: string }[];
  },
  current: { brokers: readonly string[]; registryUrl: string; clickhouseUrl: string },
): string[] {
  if (status.external) return [];
  const hints: string[] = [];
  const address = (name: string) => status.services.find((s) => s.name === name)?.address;
  const kafka = address('kafka');
  const registry = address('schema-registry');
  const clickhouse = address('clickhouse');
  const same = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
  if (kafka !== undefined && current.brokers.join(',') !== kafka) hints.push(`KAFKA_BROKERS=${kafka}`);
  if (registry !== undefined && !same(current.registryUrl, registry))
    hints.push(`SCHEMA_REGISTRY_URL=${registry}`);
  if (clickhouse !== undefined && !same(current.clickhouseUrl, clickhouse))
    hints.push(`CLICKHOUSE_URL=${clickhouse}`);
  return hints;
}
