/**
 * Where the local stack keeps its files. Everything lives under the cache directory (PDM_CACHE_DIR,
 * git-ignored), resolved against the project root so that the CLI, tests and scripts agree whatever their
 * working directory. One exception: ClickHouse runs as user `clickhouse` when we are root, and that user
 * cannot reach a cache directory inside a private (0700) folder, such as a clone in `mktemp -d`; its files
 * then live in /var/tmp under a name derived from the cache directory (see {@link clickhouseDir}).
 */
import { createHash } from 'node:crypto';
import { constants, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackConfig } from '../config/index.js';

/** The directory holding package.json: two levels above this file in src/ (tsx, vitest) and in dist/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export interface StackPaths {
  readonly root: string;
  readonly cacheDir: string;
  readonly runDir: string;
  readonly lockFile: string;
  readonly kafka: {
    /** Jars of one Kafka version, shared by every start. */
    readonly libsDir: string;
    readonly pom: string;
    readonly dir: string;
    readonly dataDir: string;
    readonly logsDir: string;
    readonly serverProperties: string;
    readonly log4jProperties: string;
    readonly stdoutLog: string;
    readonly mavenLog: string;
    readonly pidFile: string;
  };
  readonly clickhouse: {
    readonly dir: string;
    readonly configXml: string;
    readonly usersXml: string;
    readonly dataDir: string;
    readonly tmpDir: string;
    readonly userFilesDir: string;
    readonly formatSchemasDir: string;
    readonly logsDir: string;
    readonly serverLog: string;
    readonly errorLog: string;
    readonly stdoutLog: string;
    readonly aptLog: string;
    readonly pidFile: string;
  };
}

export function stackPaths(stack: StackConfig, root = projectRoot()): StackPaths {
  const cacheDir = isAbsolute(stack.cacheDir) ? stack.cacheDir : resolve(root, stack.cacheDir);
  const runDir = join(cacheDir, 'run');
  const kafkaDir = join(cacheDir, 'kafka');
  const kafkaLogs = join(kafkaDir, 'logs');
  const chDir = clickhouseDir(cacheDir);
  const chLogs = join(chDir, 'log');
  return {
    root,
    cacheDir,
    runDir,
    lockFile: join(runDir, 'stack.lock'),
    kafka: {
      libsDir: join(cacheDir, `kafka-${stack.kafkaVersion}`, 'libs'),
      pom: join(root, 'deploy', 'stack', 'kafka', 'pom.xml'),
      dir: kafkaDir,
      dataDir: join(kafkaDir, 'data'),
      logsDir: kafkaLogs,
      serverProperties: join(kafkaDir, 'server.properties'),
      log4jProperties: join(kafkaDir, 'log4j.properties'),
      stdoutLog: join(kafkaLogs, 'stdout.log'),
      mavenLog: join(kafkaLogs, 'maven.log'),
      pidFile: join(runDir, 'kafka.pid'),
    },
    clickhouse: {
      dir: chDir,
      configXml: join(chDir, 'config.xml'),
      usersXml: join(chDir, 'users.xml'),
      dataDir:
        stack.clickhouseDataDir === undefined ? join(chDir, 'data') : resolve(root, stack.clickhouseDataDir),
      tmpDir: join(chDir, 'tmp'),
      userFilesDir: join(chDir, 'user_files'),
      formatSchemasDir: join(chDir, 'format_schemas'),
      logsDir: chLogs,
      serverLog: join(chLogs, 'clickhouse-server.log'),
      errorLog: join(chLogs, 'clickhouse-server.err.log'),
      stdoutLog: join(chLogs, 'stdout.log'),
      aptLog: join(chLogs, 'apt.log'),
      pidFile: join(runDir, 'clickhouse.pid'),
    },
  };
}

/** True when every existing ancestor of `dir` (and `dir` itself if it exists) can be entered by others. */
function traversableByOthers(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & constants.S_IXOTH) === 0) return false;
    if (d === dirname(d)) return true;
  }
}

/**
 * ClickHouse's directory: `<cache>/clickhouse`, unless we run as root (so the server runs as `clickhouse`)
 * and that user could not enter the cache directory; then `/var/tmp/pdm-stream-clickhouse-<hash of the
 * cache dir>`, stable across runs of the same checkout, so data and `stack down` still find it.
 */
export function clickhouseDir(cacheDir: string, asRoot = process.getuid?.() === 0): string {
  if (!asRoot || traversableByOthers(cacheDir)) return join(cacheDir, 'clickhouse');
  const tag = createHash('sha256').update(cacheDir).digest('hex').slice(0, 12);
  return join('/var/tmp', `pdm-stream-clickhouse-${tag}`);
}
