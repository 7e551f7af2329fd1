/**
 * Local stand-in for a Confluent Schema Registry: the subset of its REST API that the engine, the simulator
 * and @kafkajs/confluent-schema-registry use, over node:http. For development and tests only — no auth,
 * no references, AVRO only, one process. Not a Confluent product.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PdmError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { ERROR_CODES, RegistryApiError } from './api-error.js';
import { readState, stateFilePath, writeStateAtomic } from './persist.js';
import { createRegistryStore, type RegistryStore, type SchemaRequest } from './store.js';

export const STANDIN_LABEL = 'local stand-in (Confluent REST subset)';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface RegistryStandinOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Directory of the state file; without it the registry lives in memory only. */
  readonly dataDir?: string;
  /** @default silentLogger */
  readonly log?: Logger;
}

export interface RegistryStandin {
  readonly url: string;
  readonly port: number;
  readonly store: RegistryStore;
  close(): Promise<void>;
}

export async function startRegistryStandin(options: RegistryStandinOptions = {}): Promise<RegistryStandin> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? silentLogger;
  const dataDir = options.dataDir;
  const store = createRegistryStore({
    ...(dataDir === undefined
      ? {}
      : {
          initial: readState(dataDir),
          persist: (s) => {
            writeStateAtomic(dataDir, s);
          },
        }),
  });
  const route = createRouter(store);

  const server = createServer((req, res) => {
    handle(req, res, route, log).catch((err: unknown) => {
      // The response may be half-written; all we can do is log and drop the connection.
      log.error({ err }, 'registry stand-in: failed to answer');
      res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info(
    {
      url,
      stateFile: dataDir === undefined ? null : stateFilePath(dataDir),
      subjects: store.listSubjects().length,
    },
    `schema registry ${STANDIN_LABEL} listening`,
  );
  return {
    url,
    port,
    store,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}

type Handler = (body: unknown, query: URLSearchParams) => unknown;
type Router = (method: string, segments: readonly string[]) => Handler | undefined;

async function handle(req: IncomingMessage, res: ServerResponse, route: Router, log: Logger): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://registry');
  let status = 200;
  let payload: unknown;
  try {
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const handler = route(method, segments);
    if (handler === undefined) {
      const known = ['GET', 'POST', 'PUT', 'DELETE'].some(
        (m) => m !== method && route(m, segments) !== undefined,
      );
      throw known
        ? new RegistryApiError(ERROR_CODES.METHOD_NOT_ALLOWED, 'HTTP 405 Method Not Allowed')
        : new RegistryApiError(ERROR_CODES.NOT_FOUND, 'HTTP 404 Not Found');
    }
    const body = method === 'POST' || method === 'PUT' ? await readJsonBody(req) : undefined;
    payload = handler(body, url.searchParams);
  } catch (err) {
    const apiError =
      err instanceof RegistryApiError
        ? err
        : new RegistryApiError(
            ERROR_CODES.INTERNAL,
            err instanceof PdmError || err instanceof Error ? err.message : String(err),
            {
              cause: err,
            },
          );
    if (apiError.errorCode === ERROR_CODES.INTERNAL) log.error({ err }, 'registry stand-in: internal error');
    status = apiError.httpStatus;
    payload = apiError.toBody();
  }
  if (method !== 'GET') log.info({ method, path: url.pathname, status }, 'registry stand-in: request');
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new RegistryApiError(ERROR_CODES.BAD_REQUEST, 'request body too large');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RegistryApiError(
      ERROR_CODES.BAD_REQUEST,
      `request body is not JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

function schemaRequest(body: unknown): SchemaRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RegistryApiError(ERROR_CODES.INVALID_SCHEMA, 'Invalid schema: the body must be a JSON object');
  }
  return body;
}

function createRouter(store: RegistryStore): Router {
  return (method, seg) => {
    const [a, b, c, d, e] = seg;
    const n = seg.length;
    if (n === 0) return method === 'GET' ? () => ({}) : undefined;

    if (a === 'subjects') {
      if (n === 1) return method === 'GET' ? () => store.listSubjects() : undefined;
      const subject = b ?? '';
      if (n === 2) {
        if (method === 'POST') return (body) => store.lookup(subject, schemaRequest(body));
        if (method === 'DELETE') return () => store.deleteSubject(subject);
        return undefined;
      }
      if (c !== 'versions') return undefined;
      if (n === 3) {
        if (method === 'GET') return () => store.listVersions(subject);
        if (method === 'POST') return (body) => store.register(subject, schemaRequest(body));
        return undefined;
      }
      const version = d ?? '';
      if (n === 4 && method === 'GET') return () => store.getVersion(subject, version);
      // The raw schema text, unquoted JSON, as Confluent serves it.
      if (n === 5 && e === 'schema' && method === 'GET') {
        return () => JSON.parse(store.getVersion(subject, version).schema) as unknown;
      }
      return undefined;
    }

    if (a === 'schemas') {
      if (n === 2 && b === 'types' && method === 'GET') return () => ['AVRO'];
      if (b !== 'ids' || c === undefined || method !== 'GET') return undefined;
      if (n === 3) return () => store.schemaById(c);
      if (n === 4 && d === 'versions') return () => store.subjectsOfSchema(c);
      return undefined;
    }

    if (a === 'config' && n <= 2) {
      const subject = b;
      if (method === 'GET') {
        return (_body, query) => ({
          compatibilityLevel: store.getCompatibility(subject, query.get('defaultToGlobal') === 'true'),
        });
      }
      if (method === 'PUT') return (body) => ({ compatibility: store.setCompatibility(subject, body) });
      if (method === 'DELETE' && subject !== undefined) {
        return () => ({ compatibilityLevel: store.deleteCompatibility(subject) });
      }
      return undefined;
    }

    if (
      a === 'compatibility' &&
      b === 'subjects' &&
      c !== undefined &&
      d === 'versions' &&
      (n === 4 || n === 5)
    ) {
      if (method !== 'POST') return undefined;
      return (body, query) => {
        const result = store.testCompatibility(c, e, schemaRequest(body));
        return query.get('verbose') === 'true'
          ? { is_compatible: result.compatible, messages: result.messages }
          : { is_compatible: result.compatible };
      };
    }
    return undefined;
  };
}
