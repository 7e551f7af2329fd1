/** /metrics (Prometheus), /healthz (process alive) and /readyz (assigned and dependencies reachable). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { PdmError, errorMessage } from '../shared/errors.js';

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface OpsServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  /** Empty when ready; otherwise the reasons why not. */
  readonly readiness: () => Promise<string[]>;
}

/** One readiness check: resolves with a problem (not ready) or undefined (fine). */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<string | undefined> | string | undefined;
}

/**
 * Runs every check at once, each bounded by `timeoutMs` (a dependency that hangs must not hang /readyz),
 * and returns the problems in check order: empty means ready.
 */
export function composeReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = 2_000,
): () => Promise<string[]> {
  return async () => {
    const results = await Promise.all(
      checks.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<string>((resolve) => {
          timer = setTimeout(() => {
            resolve(`${c.name}: no answer within ${timeoutMs} ms`);
          }, timeoutMs);
        });
        try {
          return await Promise.race([Promise.resolve().then(c.check), timeout]);
        } catch (err) {
          return `${c.name}: ${errorMessage(err)}`;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return results.filter((p): p is string => p !== undefined);
  };
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => {
          reply(200, text, o.registry.contentType);
        },
        (err: unknown) => {
          reply(500, `metrics failed: ${String(err)}\n`);
        },
      );
    } else if (path === '/healthz') {
      reply(200, 'ok\n');
    } else if (path === '/readyz') {
      o.readiness().then(
        (problems) => {
          reply(
            problems.length === 0 ? 200 : 503,
            problems.length === 0 ? 'ready\n' : `${problems.join('\n')}\n`,
          );
        },
        (err: unknown) => {
          reply(503, `readiness check failed: ${String(err)}\n`);
        },
      );
    } else {
      reply(404, 'not found: try /metrics, /healthz, /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is already in use: stop the other process or set PDM_HTTP_PORT to a free port (0 = any)'
          : `cannot be opened (${err.code ?? errorMessage(err)}): check PDM_HTTP_HOST and PDM_HTTP_PORT`;
      reject(
        new PdmError(`ops HTTP server: ${o.host}:${o.port} ${why}`, {
          code: err.code === 'EADDRINUSE' ? 'HTTP_PORT_IN_USE' : 'HTTP_LISTEN_FAILED',
          stage: 'pipeline',
          cause: err,
        }),
      );
    });
    server.listen(o.port, o.host, () => {
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
