/** The one file that knows @clickhouse/client. Everything else talks to {@link ClickHouseConnection}. */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/index.js';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';
import { bindParams, paramsForServer, type QueryParams } from './bind.js';
import { encodeRowBinary, insertColumns, type RowBinaryFormat } from './row-binary.js';

export interface ServerCapabilities {
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  /** `{name:Type}` query parameters (ClickHouse ≥ 19.x); otherwise the typed legacy binder is used. */
  readonly queryParams: boolean;
  /** DateTime64, LowCardinality without the experimental flag, and TTL (ClickHouse ≥ 20.3). */
  readonly modernTypes: boolean;
}

export interface ClickHouseConnection {
  capabilities(): Promise<ServerCapabilities>;
  /** DDL and other statements without user input. */
  exec(sql: string): Promise<void>;
  /** Rows as objects (JSONEachRow). User values only through `params` placeholders `{name:Type}`. */
  query<T>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Inserts rows, as JSONEachRow or, given a `format`, as RowBinary of its columns; resolves when the
   * server acknowledged them.
   */
  insert<R extends object>(table: string, rows: readonly R[], format?: RowBinaryFormat<R>): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** ClickHouse error codes that mean "try again later", not "this request is wrong". */
const TRANSIENT_CODES = new Set([
  '159',
  '202',
  '203',
  '209',
  '210',
  '241',
  '242',
  '252',
  '319',
  '425',
  '999',
]);

/**
 * The server's error code, if the server answered at all. Old servers (18.x) use a message format that
 * the client does not parse into a ClickHouseError ("Code: 115, e.displayText() = …").
 */
function serverErrorCode(err: unknown): string | undefined {
  if (err instanceof ClickHouseError) return err.code;
  if (err instanceof Error) return /^Code: (\d+)[,.]/.exec(err.message)?.[1];
  return undefined;
}

function classify(err: unknown, what: string): PdmError {
  const code = serverErrorCode(err);
  if (code !== undefined) {
    const msg = `${what}: ClickHouse error ${code}: ${errorMessage(err)}`;
    return TRANSIENT_CODES.has(code)
      ? new TransientError(msg, { code: 'CLICKHOUSE_UNAVAILABLE', stage: 'sink', cause: err })
      : new PdmError(msg, { code: `CLICKHOUSE_${code}`, stage: 'sink', cause: err });
  }
  // Anything else is the connection (refused, reset, timeout, DNS): ClickHouse is down or unreachable.
  return new TransientError(`${what}: ClickHouse unreachable: ${errorMessage(err)}`, {
    code: 'CLICKHOUSE_UNAVAILABLE',
    stage: 'sink',
    cause: err,
  });
}

export interface ClickHouseOptions {
  /** @default 30_000 */
  readonly requestTimeoutMs?: number;
}

/**
 * A row for JSONEachRow: typed arrays (a feature row's Float64Array, which RowBinary takes as it is) become
 * JSON arrays; JSON.stringify would write them as objects keyed "0", "1", ….
 */
function jsonRow<R extends object>(row: R): R {
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(row)) {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      copy ??= { ...(row as Record<string, unknown>) };
      copy[k] = Array.from(v as unknown as ArrayLike<number>);
    }
  }
  return (copy ?? row) as R;
}

export function createClickHouse(
  config: ClickHouseConfig,
  options: ClickHouseOptions = {},
): ClickHouseConnection {
  const client = createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    request_timeout: options.requestTimeoutMs ?? 30_000,
    // Our own error handling and logs report failures (without secrets); the client's logger would not.
    log: { level: ClickHouseLogLevel.OFF },
  });
  let caps: Promise<ServerCapabilities> | undefined;

  async function detect(): Promise<ServerCapabilities> {
    let version: string;
    try {
      const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      const rows = await rs.json<{ v: string }>();
      version = rows[0]?.v ?? '0.0';
    } catch (err) {
      throw classify(err, 'detecting server version');
    }
    const [major = 0, minor = 0] = version.split('.').map(Number);
    let queryParams = true;
    try {
      await client.query({
        query: 'SELECT {probe:UInt8} AS p',
        query_params: { probe: 1 },
        format: 'JSONEachRow',
      });
    } catch (err) {
      // 18.x answers "Unknown setting param_probe" (code 115): bind typed literals ourselves.
      if (serverErrorCode(err) !== undefined) queryParams = false;
      else throw classify(err, 'detecting query parameter support');
    }
    return { version, major, minor, queryParams, modernTypes: major > 20 || (major === 20 && minor >= 3) };
  }

  function capabilities(): Promise<ServerCapabilities> {
    caps ??= detect().catch((err: unknown) => {
      caps = undefined; // a failed detection is retried on the next call
      throw err;
    });
    return caps;
  }

  return {
    capabilities,
    async exec(sql) {
      try {
        await client.command({ query: sql });
      } catch (err) {
        throw classify(err, 'statement');
      }
    },
    async query<T>(sql: string, params: QueryParams = {}) {
      const c = await capabilities();
      try {
        const rs = c.queryParams
          ? await client.query({
              query: sql,
              query_params: paramsForServer(sql, params),
              format: 'JSONEachRow',
            })
          : await client.query({ query: bindParams(sql, params), format: 'JSONEachRow' });
        return await rs.json<T>();
      } catch (err) {
        if (err instanceof TypeError) throw err; // a binder type error is a programmer error
        throw classify(err, 'query');
      }
    },
    async insert(table, rows, format) {
      if (rows.length === 0) return;
      // Encoded outside the try: an encoding error is a programmer error (it crashes the engine), never a
      // ClickHouse outage to retry.
      const body = format === undefined ? undefined : encodeRowBinary(rows, format);
      try {
        if (format !== undefined && body !== undefined) {
          const r = await client.exec({
            query: `INSERT INTO ${table} (${insertColumns(format as RowBinaryFormat<unknown>)}) FORMAT RowBinary`,
            values: Readable.from([body]),
          });
          r.stream.resume();
          await finished(r.stream);
          return;
        }
        await client.insert({ table, values: rows.map(jsonRow), format: 'JSONEachRow' });
      } catch (err) {
        throw classify(err, `insert into ${table}`);
      }
    },
    async ping() {
      const r = await client.ping();
      return r.success;
    },
    close: () => client.close(),
  };
}
