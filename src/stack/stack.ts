/**
 * `stack up | down | status` over the three local services. Services start in parallel; `up` returns when
 * every one answers (or throws naming each failure with its log tail). With KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL and CLICKHOUSE_URL all set (`config.stack.external`) nothing is started or stopped:
 * `up` only waits for those services and `status` probes them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { PdmError, errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/logger.js';
import { createApicurioService } from './apicurio.js';
import { createClickHouseService } from './clickhouse.js';
import { createKafkaService, kafkaAnswers } from './kafka.js';
import { withStackLock } from './lock.js';
import { stackPaths, type StackPaths } from './paths.js';
import { httpGet, waitUntil } from './probe.js';
import { ownedPid, stopOwned, type OwnedProcess } from './process.js';
import type {
  LocalService,
  ServiceName,
  ServiceStatus,
  StackLog,
  StartOutcome,
  StopOutcome,
} from './service.js';

export interface StackOptions {
  /** Bound on each service's wait for readiness. @default 120_000 */
  readonly readyTimeoutMs?: number;
  /** Bound on Maven's first download of the Kafka jars (and of the Apicurio distribution). @default 600_000 */
  readonly mavenTimeoutMs?: number;
  /** How long to wait for another `stack` command holding the lock. @default 300_000 */
  readonly lockWaitMs?: number;
}

export interface StackUpResult {
  readonly external: boolean;
  readonly services: readonly {
    readonly name: ServiceName;
    readonly outcome: StartOutcome | 'external';
    readonly address: string;
    /** From `stack up` until this service answered. */
    readonly readyMs: number;
  }[];
  /** From `stack up` until every service answered. */
  readonly readyMs: number;
}

export interface StackDownResult {
  readonly external: boolean;
  readonly services: readonly { readonly name: ServiceName; readonly outcome: StopOutcome | 'external' }[];
}

export interface StackStatus {
  readonly external: boolean;
  readonly cacheDir: string;
  readonly services: readonly ServiceStatus[];
  /** True when every service is `running` (or, external, answers). */
  readonly ready: boolean;
}

/** The three local services of this configuration, in start order. */
export function localServices(config: Config, log: StackLog, options: StackOptions = {}): LocalService[] {
  const paths = stackPaths(config.stack);
  const ready = options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs };
  const maven = options.mavenTimeoutMs === undefined ? {} : { mavenTimeoutMs: options.mavenTimeoutMs };
  return [
    createKafkaService(config, paths, log, { ...ready, ...maven }),
    createApicurioService(config, paths, log, { ...ready, ...maven }),
    createClickHouseService(config, paths, log, ready),
  ];
}

/**
 * The schema registry stand-in that versions before issue 12 ran (`stack registry-serve`, since removed).
 * A checkout updated while its stack ran still has one on the registry port: `up` says so, `down` stops it.
 */
function legacyStandin(paths: StackPaths): OwnedProcess {
  return {
    pidFile: join(paths.runDir, 'schema-registry.pid'),
    markers: ['registry-serve', `--data-dir=${join(paths.cacheDir, 'registry')}`],
  };
}

export async function stackUp(
  config: Config,
  log: StackLog,
  options: StackOptions = {},
): Promise<StackUpResult> {
  const started = Date.now();
  if (config.stack.external) {
    log.info(
      'stack: KAFKA_BROKERS, SCHEMA_REGISTRY_URL and CLICKHOUSE_URL are set; starting nothing, waiting for them',
    );
    const timeoutMs = options.readyTimeoutMs ?? 120_000;
    const probes = externalProbes(config);
    const results = await Promise.all(
      probes.map(async (p) => {
        const outcome = await waitUntil(() => p.check(), { timeoutMs, intervalMs: 500 });
        if (outcome !== 'ready') {
          throw new PdmError(
            `stack: external ${p.name} at ${p.address} did not answer within ${timeoutMs} ms`,
            {
              code: 'STACK_EXTERNAL_UNAVAILABLE',
              stage: 'stack',
            },
          );
        }
        return {
          name: p.name,
          outcome: 'external' as const,
          address: p.address,
          readyMs: Date.now() - started,
        };
      }),
    );
    return { external: true, services: results, readyMs: Date.now() - started };
  }
  const paths = stackPaths(config.stack);
  mkdirSync(paths.runDir, { recursive: true });
  return withStackLock(
    paths.lockFile,
    log,
    async () => {
      const services = localServices(config, log, options);
      // Refuse before starting anything: a half-started stack on a machine with a foreign broker is worse.
      const taken = (await Promise.all(services.map((s) => s.status()))).filter(
        (s) => s.state === 'port-taken',
      );
      if (taken.length > 0) {
        const standin = await ownedPid(legacyStandin(paths));
        const hint =
          standin === undefined
            ? ''
            : ` (process ${standin} is the registry stand-in of an earlier version of this stack: \`stack down\` stops it)`;
        throw new PdmError(
          `stack up: nothing started; ${taken.map((s) => `${s.name} ${s.detail ?? ''}`).join('; ')}${hint}. Stop those ` +
            'programs, move the stack (PDM_STACK_*_PORT), or use them as they are by setting KAFKA_BROKERS, ' +
            'SCHEMA_REGISTRY_URL and CLICKHOUSE_URL.',
          { code: 'STACK_PORT_TAKEN', stage: 'stack' },
        );
      }
      const settled = await Promise.allSettled(
        services.map(async (s) => {
          const outcome = await s.start();
          const readyMs = Date.now() - started;
          log.info(
            outcome === 'already-running'
              ? `${s.name}: already running at ${s.address()}`
              : `${s.name}: ready at ${s.address()} after ${(readyMs / 1000).toFixed(1)} s`,
          );
          return { name: s.name, outcome, address: s.address(), readyMs };
        }),
      );
      const failures = settled.flatMap((r) =>
        // Service errors already start with the service name.
        r.status === 'rejected' ? [errorMessage(r.reason)] : [],
      );
      if (failures.length > 0) {
        throw new PdmError(
          `stack up failed (services that did start keep running; \`stack down\` stops them):\n${failures.join('\n')}`,
          {
            code: 'STACK_START_FAILED',
            stage: 'stack',
            cause: settled.find((r) => r.status === 'rejected')?.reason,
          },
        );
      }
      const ok = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      return { external: false, services: ok, readyMs: Date.now() - started };
    },
    options.lockWaitMs ?? 300_000,
  );
}

export async function stackDown(
  config: Config,
  log: StackLog,
  options: StackOptions = {},
): Promise<StackDownResult> {
  if (config.stack.external) {
    log.info('stack: external services configured; nothing of ours to stop');
    return {
      external: true,
      services: externalProbes(config).map((p) => ({ name: p.name, outcome: 'external' as const })),
    };
  }
  const paths = stackPaths(config.stack);
  return withStackLock(
    paths.lockFile,
    log,
    async () => {
      const services = localServices(config, log, options);
      const outcomes = await Promise.all(
        services.map(async (s) => {
          const outcome = await s.stop();
          log.info(`${s.name}: ${outcome === 'not-running' ? 'was not running' : outcome}`);
          return { name: s.name, outcome };
        }),
      );
      if ((await stopOwned(legacyStandin(paths), 20_000)) !== 'not-running') {
        log.info('schema-registry: stopped the registry stand-in an earlier version of this stack started');
      }
      return { external: false, services: outcomes };
    },
    options.lockWaitMs ?? 300_000,
  );
}

export async function stackStatus(config: Config): Promise<StackStatus> {
  const paths = stackPaths(config.stack);
  if (config.stack.external) {
    const services = await Promise.all(
      externalProbes(config).map(async (p): Promise<ServiceStatus> => {
        const answers = await p.check();
        return {
          name: p.name,
          state: 'external',
          address: p.address,
          description: p.description,
          detail: answers ? 'answers' : 'does not answer',
        };
      }),
    );
    return {
      external: true,
      cacheDir: paths.cacheDir,
      services,
      ready: services.every((s) => s.detail === 'answers'),
    };
  }
  const silent: StackLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const services = await Promise.all(localServices(config, silent).map((s) => s.status()));
  return {
    external: false,
    cacheDir: paths.cacheDir,
    services,
    ready: services.every((s) => s.state === 'running'),
  };
}

interface ExternalProbe {
  readonly name: ServiceName;
  readonly address: string;
  readonly description: string;
  check(): Promise<boolean>;
}

/** The URL without user info (fetch refuses credentials in URLs) and without a trailing slash. */
function baseUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString().replace(/\/+$/, '');
}

function externalProbes(config: Config): ExternalProbe[] {
  const registryUrl = baseUrl(config.registry.url);
  const clickhouseUrl = baseUrl(config.clickhouse.url);
  return [
    {
      name: 'kafka',
      address: config.kafka.brokers.join(','),
      description: 'external Kafka (KAFKA_BROKERS)',
      check: () => kafkaAnswers(config.kafka.brokers),
    },
    {
      name: 'schema-registry',
      address: redactUrl(config.registry.url).replace(/\/+$/, ''),
      description: 'external schema registry (SCHEMA_REGISTRY_URL)',
      // Any HTTP answer counts: a registry with auth says 401 to an anonymous probe and is still up.
      check: async () => (await httpGet(`${registryUrl}/subjects`, 1_000)) !== undefined,
    },
    {
      name: 'clickhouse',
      address: redactUrl(config.clickhouse.url).replace(/\/+$/, ''),
      description: 'external ClickHouse (CLICKHOUSE_URL)',
      check: async () => (await httpGet(`${clickhouseUrl}/ping`, 1_000))?.body.trim() === 'Ok.',
    },
  ];
}
