/**
 * ClickHouse server from the distribution package (Debian: clickhouse-server), run with its own generated
 * config and data directory inside the cache directory — never the system service's. As root it is
 * installed when missing and runs as the `clickhouse` user. Readiness = `GET /ping` answers "Ok.".
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';
import { ConfigError, PdmError } from '../shared/errors.js';
import type { StackPaths } from './paths.js';
import { httpGet } from './probe.js';
import { createProcessService } from './process-service.js';
import type { LocalService, StackLog } from './service.js';

const run = promisify(execFile);
const SERVER_CANDIDATES = [
  '/usr/sbin/clickhouse-server',
  '/usr/bin/clickhouse-server',
  '/usr/local/bin/clickhouse-server',
];
const RUN_AS = 'clickhouse';

export interface ClickHouseServiceOptions {
  /** @default 60_000 */
  readonly readyTimeoutMs?: number;
  /** Install clickhouse-server with apt-get when missing (only as root). @default true */
  readonly install?: boolean;
}

export function createClickHouseService(
  config: Config,
  paths: StackPaths,
  log: StackLog,
  options: ClickHouseServiceOptions = {},
): LocalService {
  const { host, clickhouseHttpPort, clickhouseTcpPort } = config.stack;
  const url = `http://${host}:${clickhouseHttpPort}`;
  const p = paths.clickhouse;
  return createProcessService({
    name: 'clickhouse',
    host,
    address: url,
    ports: [
      { port: clickhouseHttpPort, label: 'HTTP', setting: 'PDM_STACK_CLICKHOUSE_HTTP_PORT' },
      { port: clickhouseTcpPort, label: 'native TCP', setting: 'PDM_STACK_CLICKHOUSE_TCP_PORT' },
    ],
    pidFile: p.pidFile,
    markers: [`--config-file=${p.configXml}`],
    stdoutLog: p.stdoutLog,
    // The server log too: a server stopped by a signal (or one that only looked dead) leaves no error line.
    diagnosticLogs: [p.stdoutLog, p.errorLog, p.serverLog],
    log,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    detail: `native tcp ${host}:${clickhouseTcpPort}`,
    async describe() {
      const res = await httpGet(`${url}/?query=${encodeURIComponent('SELECT version()')}`, 1_000);
      return res?.status === 200 ? `ClickHouse ${res.body.trim()}` : 'ClickHouse server';
    },
    async prepare() {
      const server = await ensureServerBinary(p.aptLog, log, options.install ?? true);
      for (const dir of [p.dataDir, p.tmpDir, p.userFilesDir, p.formatSchemasDir, p.logsDir]) {
        mkdirSync(dir, { recursive: true });
      }
      writeFileSync(p.configXml, configXml(config, paths));
      writeFileSync(p.usersXml, usersXml(config), { mode: 0o640 });
      if (!isRoot()) return { command: server, args: [`--config-file=${p.configXml}`], cwd: p.dir };
      // The server refuses to run as root against files it does not own, and should not run as root anyway.
      await run('chown', ['-R', `${RUN_AS}:${RUN_AS}`, p.dir]);
      assertReachableBy(p.dir);
      // PDM_STACK_CLICKHOUSE_DATA_DIR may be elsewhere (a memory filesystem): the server owns it too. Both
      // paths are absolute and normalized (paths.ts); one inside the directory was just chowned with it.
      if (!p.dataDir.startsWith(p.dir + sep)) {
        await run('chown', ['-R', `${RUN_AS}:${RUN_AS}`, p.dataDir]);
        assertReachableBy(p.dataDir, 'PDM_STACK_CLICKHOUSE_DATA_DIR');
      }
      return {
        command: 'setpriv',
        args: [
          `--reuid=${RUN_AS}`,
          `--regid=${RUN_AS}`,
          '--init-groups',
          '--',
          server,
          `--config-file=${p.configXml}`,
        ],
        cwd: p.dir,
      };
    },
    async ready() {
      const res = await httpGet(`${url}/ping`, 1_000);
      return res?.status === 200 && res.body.trim() === 'Ok.';
    },
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function findServer(): Promise<string | undefined> {
  for (const c of SERVER_CANDIDATES) if (existsSync(c)) return c;
  try {
    const { stdout } = await run('sh', ['-c', 'command -v clickhouse-server']);
    return stdout.trim() === '' ? undefined : stdout.trim();
  } catch {
    // `command -v` exits non-zero when the program is not on PATH.
    return undefined;
  }
}

async function ensureServerBinary(aptLog: string, log: StackLog, install: boolean): Promise<string> {
  const found = await findServer();
  if (found !== undefined) return found;
  if (!install || !isRoot() || !existsSync('/usr/bin/apt-get')) {
    throw new ConfigError(
      'clickhouse: clickhouse-server is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y ' +
        'clickhouse-server clickhouse-client`), run `stack up` as root to let it install the package, or point ' +
        'CLICKHOUSE_URL (with KAFKA_BROKERS and SCHEMA_REGISTRY_URL) at running services.',
      { code: 'STACK_TOOL_MISSING', stage: 'stack' },
    );
  }
  log.info(
    'clickhouse: clickhouse-server missing; installing the Debian package (apt-get update && apt-get install)',
  );
  mkdirSync(dirname(aptLog), { recursive: true });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let output = '';
  try {
    for (const args of [
      ['update'],
      ['install', '-y', '--no-install-recommends', 'clickhouse-server', 'clickhouse-client'],
    ]) {
      const { stdout, stderr } = await run('apt-get', args, {
        env,
        timeout: 900_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      output += stdout + stderr;
    }
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    writeFileSync(aptLog, `${output}${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}\n`);
    throw new PdmError(`clickhouse: apt-get could not install clickhouse-server; see ${aptLog}`, {
      code: 'STACK_INSTALL_FAILED',
      stage: 'stack',
      cause: err,
    });
  }
  writeFileSync(aptLog, output);
  const installed = await findServer();
  if (installed === undefined) {
    throw new PdmError(
      `clickhouse: installed the package but found no clickhouse-server binary; see ${aptLog}`,
      {
        code: 'STACK_INSTALL_FAILED',
        stage: 'stack',
      },
    );
  }
  return installed;
}

/**
 * The `clickhouse` user must traverse every parent of its directory (a 0700 home or temp dir blocks it);
 * `setting` is what moves the directory, named in the error.
 */
export function assertReachableBy(dir: string, setting = 'PDM_CACHE_DIR'): void {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & constants.S_IXOTH) === 0) {
      throw new ConfigError(
        `clickhouse: the server runs as user '${RUN_AS}', which cannot enter ${d} (mode ${(mode & 0o777).toString(8)}); ` +
          `allow it (chmod o+x ${d}) or move ${setting}`,
        { code: 'STACK_PERMISSIONS', stage: 'stack' },
      );
    }
    if (d === dirname(d)) return;
  }
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Server config in the 18.x+ format (`<yandex>` root, still accepted by newer servers). */
export function configXml(config: Config, paths: StackPaths): string {
  const { host, clickhouseHttpPort, clickhouseTcpPort } = config.stack;
  const p = paths.clickhouse;
  const dir = (d: string) => xmlEscape(d.endsWith('/') ? d : `${d}/`);
  return `<?xml version="1.0"?>
<!-- Generated by \`pdm-stream stack up\`; edits are overwritten. Local development server only. -->
<yandex>
    <logger>
        <level>information</level>
        <log>${xmlEscape(p.serverLog)}</log>
        <errorlog>${xmlEscape(p.errorLog)}</errorlog>
        <size>50M</size>
        <count>3</count>
    </logger>
    <listen_host>${xmlEscape(host)}</listen_host>
    <http_port>${clickhouseHttpPort}</http_port>
    <tcp_port>${clickhouseTcpPort}</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>${dir(p.dataDir)}</path>
    <tmp_path>${dir(p.tmpDir)}</tmp_path>
    <user_files_path>${dir(p.userFilesDir)}</user_files_path>
    <format_schema_path>${dir(p.formatSchemasDir)}</format_schema_path>
    <users_config>${xmlEscape(p.usersXml)}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
`;
}

/** Users: `default` (loopback only) plus the configured CLICKHOUSE_USER; passwords stored as SHA-256. */
export function usersXml(config: Config): string {
  const { username, password } = config.clickhouse;
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(username)) {
    throw new ConfigError(
      `clickhouse: CLICKHOUSE_USER "${username}" cannot be a local user name (letters, digits, _ . -)`,
      {
        code: 'STACK_CONFIG_INVALID',
        stage: 'stack',
      },
    );
  }
  const networks = [...new Set(['127.0.0.1', '::1', config.stack.host])]
    .map((ip) => `<ip>${xmlEscape(ip)}</ip>`)
    .join('');
  const user = (name: string, pass: string) => {
    const secret =
      pass === '' ? '<password></password>' : `<password_sha256_hex>${sha256Hex(pass)}</password_sha256_hex>`;
    return `        <${name}>${secret}<networks>${networks}</networks><profile>default</profile><quota>default</quota></${name}>`;
  };
  const users =
    username === 'default' ? [user('default', password)] : [user('default', ''), user(username, password)];
  return `<?xml version="1.0"?>
<!-- Generated by \`pdm-stream stack up\`; edits are overwritten. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
${users.join('\n')}
    </users>
    <quotas>
        <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
    </quotas>
</yandex>
`;
}

/** The project's users for ClickHouse 18.16 – 20.7, shipped for production (issue 11). */
const ACCESS_USERS_FILE = 'deploy/clickhouse/users-18.16.xml';

/**
 * `deploy/clickhouse/users-18.16.xml` with its database filters pointed at `database` (the file names
 * `pdm`), for a server's users.d/. The passwords stay `from_env` SHA-256 hashes: the server needs
 * PDM_{MIGRATOR,ENGINE,DLQ,OPS}_PASSWORD_SHA256 in its environment (see {@link accessUsersEnv}).
 */
export function accessUsersXml(projectRoot: string, database: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    throw new ConfigError(`clickhouse: database "${database}" is not a plain identifier`, {
      code: 'STACK_CONFIG_INVALID',
      stage: 'stack',
    });
  }
  const text = readFileSync(join(projectRoot, ACCESS_USERS_FILE), 'utf8');
  return text.replaceAll('<database>pdm</database>', `<database>${database}</database>`);
}

/** The server environment that sets the passwords of {@link accessUsersXml}'s users. */
export function accessUsersEnv(passwords: {
  readonly migrator: string;
  readonly engine: string;
  readonly dlq: string;
  readonly ops: string;
}): Record<string, string> {
  return {
    PDM_MIGRATOR_PASSWORD_SHA256: sha256Hex(passwords.migrator),
    PDM_ENGINE_PASSWORD_SHA256: sha256Hex(passwords.engine),
    PDM_DLQ_PASSWORD_SHA256: sha256Hex(passwords.dlq),
    PDM_OPS_PASSWORD_SHA256: sha256Hex(passwords.ops),
  };
}

/** How ClickHouse's `password_sha256_hex` stores a password. */
function sha256Hex(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}
