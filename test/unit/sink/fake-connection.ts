/**
 * Server capabilities of the oldest supported ClickHouse (18.16) and a current one, and a scripted
 * ClickHouseConnection that records every statement, query and insert, for unit tests of the DDL.
 */
import type { ClickHouseConnection, QueryParams, ServerCapabilities } from '../../../src/sink/index.js';

export const LEGACY_CAPS: ServerCapabilities = {
  version: '18.16.1',
  major: 18,
  minor: 16,
  queryParams: false,
  modernTypes: false,
};

export const MODERN_CAPS: ServerCapabilities = {
  version: '24.8.4',
  major: 24,
  minor: 8,
  queryParams: true,
  modernTypes: true,
};

export interface ConnectionScript {
  /** Reported by `capabilities()`. @default LEGACY_CAPS */
  readonly caps?: ServerCapabilities;
  /** Outcome of an `exec` (recorded before it runs). @default resolves */
  readonly exec?: (sql: string) => Promise<void>;
  /** Rows a query answers (recorded before it runs). @default no rows */
  readonly answer?: (sql: string, params: QueryParams | undefined) => readonly object[];
}

export interface ConnectionCalls {
  readonly execs: string[];
  readonly queries: { sql: string; params: unknown }[];
  readonly inserts: { table: string; rows: object[] }[];
}

export function recordingConnection(script: ConnectionScript = {}): {
  ch: ClickHouseConnection;
  calls: ConnectionCalls;
} {
  const calls: ConnectionCalls = { execs: [], queries: [], inserts: [] };
  const ch: ClickHouseConnection = {
    capabilities: () => Promise.resolve(script.caps ?? LEGACY_CAPS),
    exec(sql) {
      calls.execs.push(sql);
      return script.exec?.(sql) ?? Promise.resolve();
    },
    query<T>(sql: string, params?: QueryParams) {
      calls.queries.push({ sql, params });
      return Promise.resolve((script.answer?.(sql, params) ?? []) as T[]);
    },
    insert(table, rows) {
      calls.inserts.push({ table, rows: [...rows] });
      return Promise.resolve();
    },
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  return { ch, calls };
}
