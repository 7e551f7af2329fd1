/**
 * A private ClickHouse server for tests that need their own users (test/integration/access.test.ts): the
 * Debian package's binary (the one the local stack runs, 18.16 here) with the stack's own config
 * (src/stack/clickhouse.ts `configXml`/`usersXml`) on free ports in a temporary directory, plus extra
 * users.d/ files. Never the shared server on :8123, whose users every other test relies on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { configXml, usersXml } from '../../src/stack/clickhouse.js';
import { stackPaths } from '../../src/stack/index.js';

const SERVERS = [
  '/usr/sbin/clickhouse-server',
  '/usr/bin/clickhouse-server',
  '/usr/local/bin/clickhouse-server',
];

export interface PrivateClickHouse {
  readonly url: string;
  readonly dir: string;
  close(): Promise<void>;
}

export function clickHouseServerBinary(): string | undefined {
  return SERVERS.find((s) => existsSync(s));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => {
        resolve(port);
      });
    });
  });
}

/** Starts the server; `usersD` maps file names to contents for users.d/, `env` is added to its environment. */
export async function startPrivateClickHouse(options: {
  readonly usersD: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  /** @default 60_000 */
  readonly readyTimeoutMs?: number;
}): Promise<PrivateClickHouse> {
  const server = clickHouseServerBinary();
  if (server === undefined)
    throw new Error('clickhouse-server is not installed (the local stack installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'pdm-ch-private-'));
  const config = loadConfig({
    PDM_CACHE_DIR: dir,
    PDM_STACK_CLICKHOUSE_HTTP_PORT: String(await freePort()),
    PDM_STACK_CLICKHOUSE_TCP_PORT: String(await freePort()),
  });
  const paths = stackPaths(config.stack);
  const p = paths.clickhouse;
  for (const d of [p.dataDir, p.tmpDir, p.userFilesDir, p.formatSchemasDir, p.logsDir])
    mkdirSync(d, { recursive: true });
  writeFileSync(p.configXml, configXml(config, paths));
  writeFileSync(p.usersXml, usersXml(config));
  const usersD = join(dirname(p.usersXml), 'users.d');
  mkdirSync(usersD, { recursive: true });
  for (const [name, text] of Object.entries(options.usersD)) writeFileSync(join(usersD, name), text);
  const url = `http://${config.stack.host}:${config.stack.clickhouseHttpPort}`;
  const child: ChildProcess = spawn(server, [`--config-file=${p.configXml}`], {
    cwd: dirname(p.configXml),
    env: { ...process.env, ...options.env },
    stdio: 'ignore',
  });
  // An object, not a `let`: TypeScript would narrow a `let` set only in the callback to `false` below.
  const state = { exited: false };
  child.once('exit', () => (state.exited = true));
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    try {
      const res = await fetch(`${url}/ping`);
      if (res.ok && (await res.text()).trim() === 'Ok.') break;
    } catch {
      // not listening yet: retried until the deadline
    }
    if (state.exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `private clickhouse-server did not start (${state.exited ? 'exited' : 'timeout'}); logs in ${p.logsDir}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    dir,
    async close() {
      if (!state.exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
