/**
 * The schema registry of the local stack: our stand-in (Confluent REST subset) run as a detached
 * `pdm-stream stack registry-serve` process from the built CLI. Readiness = `GET /subjects` answers 200.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { ConfigError } from '../shared/errors.js';
import type { StackPaths } from './paths.js';
import { httpGet } from './probe.js';
import { createProcessService } from './process-service.js';
import { STANDIN_LABEL } from './registry/standin.js';
import type { LocalService, StackLog } from './service.js';

export interface RegistryServiceOptions {
  /** @default 30_000 */
  readonly readyTimeoutMs?: number;
}

export function createRegistryService(
  config: Config,
  paths: StackPaths,
  log: StackLog,
  options: RegistryServiceOptions = {},
): LocalService {
  const { host, registryPort } = config.stack;
  const url = `http://${host}:${registryPort}`;
  const p = paths.registry;
  return createProcessService({
    name: 'schema-registry',
    host,
    address: url,
    ports: [{ port: registryPort, label: 'HTTP', setting: 'PDM_STACK_REGISTRY_PORT' }],
    pidFile: p.pidFile,
    markers: ['registry-serve', `--data-dir=${p.dir}`],
    stdoutLog: p.stdoutLog,
    diagnosticLogs: [p.stdoutLog],
    log,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    describe: () => Promise.resolve(`schema registry, ${STANDIN_LABEL}`),
    prepare() {
      if (!existsSync(paths.builtCli)) {
        return Promise.reject(
          new ConfigError(
            `schema-registry: the stand-in runs from the built CLI and ${paths.builtCli} is missing; run \`npm run build\` first`,
            { code: 'STACK_NOT_BUILT', stage: 'stack' },
          ),
        );
      }
      mkdirSync(p.dir, { recursive: true });
      return Promise.resolve({
        command: process.execPath,
        args: [
          paths.cliLauncher,
          'stack',
          'registry-serve',
          `--host=${host}`,
          `--port=${registryPort}`,
          `--data-dir=${p.dir}`,
          `--log-level=${config.ops.logLevel}`,
        ],
        cwd: paths.root,
      });
    },
    async ready() {
      const res = await httpGet(`${url}/subjects`, 1_000);
      return res?.status === 200;
    },
  });
}
