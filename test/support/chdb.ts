/**
 * A current ClickHouse engine for tests, without a server: chDB (see chdb-venv.ts) in a Python process
 * (python/chdb_runner.py), plus a minimal ClickHouse HTTP interface in front of it so that the product's
 * own client (`createClickHouse`, @clickhouse/client) talks to it unchanged: the client formats query
 * parameters as `param_<name>` exactly as for a real server, and the engine binds them to the
 * `{name:Type}` placeholders with its own rules.
 *
 * The HTTP side covers what @clickhouse/client uses: `GET /ping`; `POST /` with the statement in the body
 * (query, command) or in `?query=` with the rows in the body (insert), and `param_*` in the URL. Other URL
 * settings are ignored (the client sends none unless configured). Every statement is recorded.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pythonWithChdb } from './chdb-venv.js';

const RUNNER = fileURLToPath(new URL('./python/chdb_runner.py', import.meta.url));

export interface ChdbResult {
  readonly ok: boolean;
  /** Output of the statement (in the FORMAT it names, else TabSeparated); '' on error. */
  readonly data: string;
  /** ClickHouse error code (0 if none could be read) and message, when `ok` is false. */
  readonly code: number;
  readonly error: string;
}

export interface ChdbEngine {
  /** Version of the embedded ClickHouse engine, e.g. `26.9.2.1`. */
  readonly version: string;
  /** Runs one statement; `params` in the text form of HTTP `param_*` values. Never rejects on SQL errors. */
  run(sql: string, params?: Readonly<Record<string, string>>): Promise<ChdbResult>;
  close(): Promise<void>;
}

/** Starts the runner on a fresh, private database directory (removed by `close`). */
export async function startChdb(): Promise<ChdbEngine> {
  const python = pythonWithChdb();
  const dir = mkdtempSync(join(tmpdir(), 'pdm-chdb-'));
  const proc: ChildProcessWithoutNullStreams = spawn(python, [RUNNER, dir], { stdio: 'pipe' });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const lines = createInterface({ input: proc.stdout });
  const pending = new Map<number, (r: ChdbResult) => void>();
  let nextId = 1;
  let exited: Error | undefined;
  const version = await new Promise<string>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => {
      exited = new Error(`chdb_runner.py exited ${code}:\n${stderr}`);
      reject(exited);
      for (const done of pending.values()) done({ ok: false, data: '', code: 0, error: exited.message });
      pending.clear();
    });
    lines.once('line', (first) => {
      resolve((JSON.parse(first) as { version: string }).version);
      lines.on('line', (line) => {
        const a = JSON.parse(line) as {
          id: number;
          ok: boolean;
          data?: string;
          code?: number;
          error?: string;
        };
        pending.get(a.id)?.({ ok: a.ok, data: a.data ?? '', code: a.code ?? 0, error: a.error ?? '' });
        pending.delete(a.id);
      });
    });
  });
  return {
    version,
    run(sql, params) {
      if (exited !== undefined)
        return Promise.resolve({ ok: false, data: '', code: 0, error: exited.message });
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        proc.stdin.write(`${JSON.stringify({ id, sql, params: params ?? {} })}\n`);
      });
    },
    async close() {
      if (exited === undefined) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.stdin.end();
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One statement as it reached the engine through the HTTP interface. */
export interface RecordedStatement {
  readonly sql: string;
  /** `param_*` values as the client sent them (text form). */
  readonly params: Readonly<Record<string, string>>;
  readonly ok: boolean;
  readonly error: string;
}

export interface ChdbHttp {
  /** `http://127.0.0.1:<port>`, for CLICKHOUSE_URL. */
  readonly url: string;
  readonly statements: RecordedStatement[];
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

async function handle(
  engine: ChdbEngine,
  log: RecordedStatement[],
  req: IncomingMessage,
  res: ServerResponse,
) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/ping') {
    res.end('Ok.\n');
    return;
  }
  const text = await body(req);
  const inUrl = url.searchParams.get('query');
  // Inserts: the statement in the URL, the rows (JSONEachRow) in the body, which ClickHouse reads as the
  // statement's inline data.
  const sql = inUrl === null ? text : `${inUrl}\n${text}`;
  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (k.startsWith('param_')) params[k.slice('param_'.length)] = v;
  const r = await engine.run(sql, params);
  log.push({ sql, params, ok: r.ok, error: r.error });
  if (r.ok) {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Server-Display-Name': 'chdb',
    });
    res.end(r.data);
  } else {
    // What a server answers: HTTP 500, the code in a header and the message as the body.
    res.writeHead(500, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(r.code),
    });
    res.end(`${r.error}\n`);
  }
}

/** Serves `engine` over HTTP on a free local port. */
export async function serveChdbHttp(engine: ChdbEngine): Promise<ChdbHttp> {
  const statements: RecordedStatement[] = [];
  const server = createServer((req, res) => {
    handle(engine, statements, req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(`Code: 1000. DB::Exception: test HTTP interface: ${String(err)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    statements,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
