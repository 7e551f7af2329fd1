/**
 * Apicurio Registry 2.4.2 as the schema registry of the local stack (PDM_STACK_REGISTRY=apicurio): a real,
 * third-party registry serving the Confluent API at `/apis/ccompat/v7`. Its Quarkus runner is built once
 * with Maven from Central only (deploy/stack/apicurio), then run with a small heap on loopback, storing its
 * data in an H2 file under the cache directory so that schema ids survive restarts.
 * Readiness = `GET <base>/apis/ccompat/v7/subjects` answers 200; after a start the global compatibility
 * is set to BACKWARD (Apicurio's default is NONE, Confluent's is BACKWARD).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { PdmError } from '../shared/errors.js';
import type { StackPaths } from './paths.js';
import { httpGet } from './probe.js';
import { createProcessService } from './process-service.js';
import { JAVA_HINT, mavenIntoDir, requireTool } from './maven.js';
import type { LocalService, StackLog } from './service.js';

export const APICURIO_VERSION = '2.4.2.Final';
/** Where the Confluent-compatible API lives on an Apicurio server; clients use `<base>` + this path. */
export const APICURIO_CCOMPAT_PATH = '/apis/ccompat/v7';
const RUNNER_JAR = 'apicurio-runner-1.0-runner.jar';

export interface ApicurioPaths {
  /** The built runner (jar + lib/), shared by every start. */
  readonly buildDir: string;
  readonly runnerJar: string;
  readonly pom: string;
  readonly settings: string;
  /** Working directory, H2 database, logs. */
  readonly dir: string;
  /** H2 file URL prefix: H2 adds `.mv.db`. */
  readonly database: string;
  readonly stdoutLog: string;
  readonly mavenLog: string;
  readonly pidFile: string;
}

export function apicurioPaths(paths: StackPaths): ApicurioPaths {
  const buildDir = join(paths.cacheDir, 'apicurio-2.4.2');
  const dir = join(paths.cacheDir, 'apicurio');
  const deploy = join(paths.root, 'deploy', 'stack', 'apicurio');
  return {
    buildDir,
    runnerJar: join(buildDir, RUNNER_JAR),
    pom: join(deploy, 'pom.xml'),
    settings: join(deploy, 'settings.xml'),
    dir,
    database: join(dir, 'db', 'registry'),
    stdoutLog: join(dir, 'registry.log'),
    mavenLog: join(dir, 'maven.log'),
    pidFile: join(paths.runDir, 'apicurio.pid'),
  };
}

/** The URL clients (SCHEMA_REGISTRY_URL) use: the ccompat base, not the server root. */
export function apicurioUrl(config: Config): string {
  return `http://${config.stack.host}:${config.stack.registryPort}${APICURIO_CCOMPAT_PATH}`;
}

/** JVM and Quarkus runtime options; the jar comes last. */
export function apicurioJavaArgs(config: Config, p: ApicurioPaths): string[] {
  return [
    '-Xms32m',
    '-Xmx128m',
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dquarkus.http.host=${config.stack.host}`,
    `-Dquarkus.http.port=${config.stack.registryPort}`,
    `-Dquarkus.datasource.jdbc.url=jdbc:h2:file:${p.database}`,
    // Apicurio's prod profile opens 20 connections up front; one embedded H2 file needs few.
    '-Dquarkus.datasource.jdbc.initial-size=1',
    '-Dquarkus.datasource.jdbc.min-size=1',
    '-Dquarkus.datasource.jdbc.max-size=8',
    // Narayana's default process id (SocketProcessId) listens on a random loopback port; a UUID needs none.
    '-DCoreEnvironmentBean.processImplementationClassName=com.arjuna.ats.internal.arjuna.utils.UuidProcessId',
    '-jar',
    p.runnerJar,
  ];
}

export interface ApicurioServiceOptions {
  /** Bound on the Maven build (a cold Maven repository downloads ~210 MB). @default 600_000 */
  readonly mavenTimeoutMs?: number;
  /** @default 120_000 */
  readonly readyTimeoutMs?: number;
}

export function createApicurioService(
  config: Config,
  paths: StackPaths,
  log: StackLog,
  options: ApicurioServiceOptions = {},
): LocalService {
  const { host, registryPort } = config.stack;
  const url = apicurioUrl(config);
  const p = apicurioPaths(paths);
  const inner = createProcessService({
    name: 'schema-registry',
    host,
    address: url,
    ports: [{ port: registryPort, label: 'HTTP', setting: 'PDM_STACK_REGISTRY_PORT' }],
    pidFile: p.pidFile,
    // The runner path holds the cache directory: another checkout's Apicurio is not ours.
    markers: [p.runnerJar],
    stdoutLog: p.stdoutLog,
    diagnosticLogs: [p.stdoutLog],
    log,
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    describe: () =>
      Promise.resolve(
        `Apicurio Registry ${APICURIO_VERSION} (Confluent API at ${APICURIO_CCOMPAT_PATH}, H2 file storage)`,
      ),
    async prepare() {
      const java = await requireTool('schema-registry', 'java', ['-version'], JAVA_HINT);
      await buildRunner(p, log, options.mavenTimeoutMs ?? 600_000);
      mkdirSync(join(p.database, '..'), { recursive: true });
      // cwd = our directory: Narayana writes its ObjectStore relative to it.
      return { command: java, args: apicurioJavaArgs(config, p), cwd: p.dir };
    },
    async ready() {
      const res = await httpGet(`${url}/subjects`, 1_000);
      return res?.status === 200;
    },
  });
  return {
    ...inner,
    async start() {
      const outcome = await inner.start();
      // Only on a fresh start: a running registry's global level may have been changed on purpose.
      if (outcome === 'started') await setGlobalCompatibility(url, 'BACKWARD');
      return outcome;
    },
  };
}

async function setGlobalCompatibility(url: string, level: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: level }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new PdmError(`schema-registry: setting global compatibility ${level} at ${url}/config failed`, {
      code: 'STACK_START_FAILED',
      stage: 'stack',
      cause: err,
    });
  }
  if (!res.ok) {
    throw new PdmError(
      `schema-registry: PUT ${url}/config answered ${res.status}: ${(await res.text()).slice(0, 300)}`,
      { code: 'STACK_START_FAILED', stage: 'stack' },
    );
  }
}

/** Maven's arguments for building the runner into `outputDir`. */
export function mavenBuildArgs(p: ApicurioPaths, outputDir: string): string[] {
  return [
    '-B',
    '-ntp',
    '-q',
    '-Dstyle.color=never',
    '-s',
    p.settings,
    '-f',
    p.pom,
    'package',
    '-DskipTests',
    `-Dapicurio.build.dir=${outputDir}`,
  ];
}

/**
 * Builds the runner into `<cache>/apicurio-2.4.2` once. Maven writes into a temporary directory that is
 * renamed when complete, so an interrupted build is never mistaken for a usable runner.
 */
function buildRunner(p: ApicurioPaths, log: StackLog, timeoutMs: number): Promise<void> {
  return mavenIntoDir({
    service: 'schema-registry',
    what: `building Apicurio Registry ${APICURIO_VERSION} (Maven Central only)`,
    targetDir: p.buildDir,
    mavenLog: p.mavenLog,
    args: (staging) => mavenBuildArgs(p, staging),
    verify: (staging) => {
      const libDir = join(staging, 'lib');
      return existsSync(join(staging, RUNNER_JAR)) && existsSync(libDir)
        ? { summary: `Apicurio runner, ${readdirSync(libDir).length} jars in lib/` }
        : { problem: `${staging} lacks ${RUNNER_JAR} or lib/` };
    },
    errorCode: 'STACK_APICURIO_BUILD_FAILED',
    timeoutMs,
    log,
  });
}
