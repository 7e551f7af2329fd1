/**
 * The schema registry of the local stack: Apicurio Registry 3.3.3, a real, third-party registry serving the
 * Confluent API at `/apis/ccompat/v7`. Its release distribution (a Quarkus fast-jar, published on Maven
 * Central as `io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all`) is unpacked by Maven once into the cache
 * directory — nothing is built — then run on loopback with a small heap, storing its data in an H2 file
 * under the cache directory so that schema ids survive restarts. Apicurio 3 needs Java 21+ (see java.ts).
 * Readiness = `GET <base>/apis/ccompat/v7/subjects` answers 200; after a start the global compatibility
 * is set to BACKWARD (Apicurio's default is NONE, Confluent's is BACKWARD).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { PdmError } from '../shared/errors.js';
import type { StackPaths } from './paths.js';
import { httpGet } from './probe.js';
import { createProcessService } from './process-service.js';
import { findJava } from './java.js';
import { mavenIntoDir } from './maven.js';
import type { LocalService, StackLog } from './service.js';

export const APICURIO_VERSION = '3.3.3';
/** The Maven Central artifact holding the runnable distribution (`groupId:artifactId:version:type:classifier`). */
export const APICURIO_ARTIFACT = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`;
/** Apicurio 3 classes are Java 21 bytecode (class file version 65). */
export const APICURIO_MIN_JAVA = 21;
/** Where the Confluent-compatible API lives on an Apicurio server; clients use `<base>` + this path. */
export const APICURIO_CCOMPAT_PATH = '/apis/ccompat/v7';
const RUNNER_JAR = 'quarkus-run.jar';
/** Pinned so that `unpack` runs without a project and behaves the same with any Maven 3. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';

export interface ApicurioPaths {
  /** The unpacked distribution (quarkus-run.jar, lib/, app/, quarkus/), shared by every start. */
  readonly distDir: string;
  readonly runnerJar: string;
  readonly settings: string;
  /** Working directory, H2 database, logs. */
  readonly dir: string;
  /** H2 file URL prefix: H2 adds `.mv.db`. Versioned: Apicurio 2's database layout is not Apicurio 3's. */
  readonly database: string;
  readonly stdoutLog: string;
  readonly mavenLog: string;
  readonly pidFile: string;
}

export function apicurioPaths(paths: StackPaths): ApicurioPaths {
  const distDir = join(paths.cacheDir, `apicurio-${APICURIO_VERSION}`);
  const dir = join(paths.cacheDir, 'apicurio');
  return {
    distDir,
    runnerJar: join(distDir, RUNNER_JAR),
    settings: join(paths.root, 'deploy', 'stack', 'apicurio', 'settings.xml'),
    dir,
    database: join(dir, 'db-3', 'registry'),
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
  const { host, registryPort } = config.stack;
  return [
    '-Xms32m',
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    // C1 only: a registry answers a few hundred requests; full JIT would spend the shared 2 cores.
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dquarkus.http.host=${host}`,
    `-Dquarkus.http.port=${registryPort}`,
    // The management interface (health, metrics) is built in and defaults to 0.0.0.0:9000, ClickHouse's
    // TCP port: loopback and a port the OS picks, since nothing of ours reads it.
    `-Dquarkus.management.host=${host}`,
    '-Dquarkus.management.port=0',
    // One line per request would grow the log by every test's lookups.
    '-Dquarkus.http.access-log.enabled=false',
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    `-Dapicurio.datasource.url=jdbc:h2:file:${p.database}`,
    '-Dapicurio.datasource.username=sa',
    '-Dapicurio.datasource.password=sa',
    // Apicurio opens 20 connections up front; one embedded H2 file needs few.
    '-Dapicurio.datasource.jdbc.initial-size=1',
    '-Dapicurio.datasource.jdbc.min-size=1',
    '-Dapicurio.datasource.jdbc.max-size=8',
    // Confluent lets clients delete subjects and versions (soft, then permanent); Apicurio 3 refuses by default.
    '-Dapicurio.rest.deletion.artifact.enabled=true',
    '-Dapicurio.rest.deletion.artifact-version.enabled=true',
    '-Dapicurio.rest.deletion.group.enabled=true',
    // Narayana's default process id (SocketProcessId) listens on a random loopback port; a UUID needs none.
    '-DCoreEnvironmentBean.processImplementationClassName=com.arjuna.ats.internal.arjuna.utils.UuidProcessId',
    '-jar',
    p.runnerJar,
  ];
}

export interface ApicurioServiceOptions {
  /** Bound on Maven's first download and unpacking (a cold repository downloads ≈ 160 MB). @default 600_000 */
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
      const { java, release } = await findJava({
        service: 'schema-registry',
        minRelease: APICURIO_MIN_JAVA,
        setting: 'PDM_STACK_APICURIO_JAVA',
        ...(config.stack.apicurioJava === undefined ? {} : { configured: config.stack.apicurioJava }),
      });
      await unpackDistribution(p, log, options.mavenTimeoutMs ?? 600_000);
      mkdirSync(join(p.database, '..'), { recursive: true });
      log.info(`schema-registry: Apicurio Registry ${APICURIO_VERSION} on Java ${release} (${java})`);
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

/** Maven's arguments for unpacking the distribution into `outputDir` (no project, Central only). */
export function mavenUnpackArgs(p: ApicurioPaths, outputDir: string): string[] {
  return [
    '-B',
    '-ntp',
    '-q',
    '-Dstyle.color=never',
    '-s',
    p.settings,
    `${DEPENDENCY_PLUGIN}:unpack`,
    `-Dartifact=${APICURIO_ARTIFACT}`,
    `-DoutputDirectory=${outputDir}`,
  ];
}

/**
 * Unpacks the distribution into `<cache>/apicurio-3.3.3` once. Maven writes into a temporary directory that
 * is renamed when complete, so an interrupted download is never mistaken for a usable runner.
 */
function unpackDistribution(p: ApicurioPaths, log: StackLog, timeoutMs: number): Promise<void> {
  return mavenIntoDir({
    service: 'schema-registry',
    what: `unpacking ${APICURIO_ARTIFACT} (Maven Central)`,
    targetDir: p.distDir,
    mavenLog: p.mavenLog,
    args: (staging) => mavenUnpackArgs(p, staging),
    // Without a project the plugin writes its "already unpacked" markers under `./${project.basedir}/`.
    cwd: p.dir,
    verify: (staging) =>
      existsSync(join(staging, RUNNER_JAR)) && existsSync(join(staging, 'lib', 'main'))
        ? { summary: `Apicurio Registry ${APICURIO_VERSION} distribution` }
        : { problem: `${staging} lacks ${RUNNER_JAR} or lib/main/` },
    errorCode: 'STACK_APICURIO_FETCH_FAILED',
    timeoutMs,
    log,
  });
}
