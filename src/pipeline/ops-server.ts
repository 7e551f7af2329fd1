/** /metrics (Prometheus), /healthz (process alive) and /readyz (assigned and dependencies reachable). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

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
    server.once('error', reject);
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
