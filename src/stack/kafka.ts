/**
 * Apache Kafka in KRaft mode (one node, broker + controller) from the official jars on Maven Central:
 * resolved once with Maven into the cache directory, storage formatted once, started with a small heap on
 * loopback. Readiness = a kafkajs metadata round trip (describeCluster) succeeds.
 */
// Before kafkajs: its consumer takes the batch class when it loads (kafkajs-preload.ts).
import '../ingest/kafkajs-preload.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../config/index.js';
import { PdmError } from '../shared/errors.js';
import type { StackPaths } from './paths.js';
import { createProcessService } from './process-service.js';
import { JAVA_HINT, mavenIntoDir, requireTool } from './maven.js';
import type { LocalService, StackLog } from './service.js';

const run = promisify(execFile);

export interface KafkaServiceOptions {
  /** Bound on Maven's dependency resolution (a cold cache downloads ~60 jars). @default 600_000 */
  readonly mavenTimeoutMs?: number;
  /** @default 120_000 */
  readonly readyTimeoutMs?: number;
}

export function createKafkaService(
  config: Config,
  paths: StackPaths,
  log: StackLog,
  options: KafkaServiceOptions = {},
): LocalService {
  const { host, kafkaPort, kafkaControllerPort, kafkaVersion } = config.stack;
  const address = `${host}:${kafkaPort}`;
  const p = paths.kafka;
  return createProcessService({
    name: 'kafka',
    host,
    address,
    ports: [
      { port: kafkaPort, label: 'PLAINTEXT listener', setting: 'PDM_STACK_KAFKA_PORT' },
      {
        port: kafkaControllerPort,
        label: 'KRaft controller listener',
        setting: 'PDM_STACK_KAFKA_CONTROLLER_PORT',
      },
    ],
    pidFile: p.pidFile,
    markers: ['kafka.Kafka', p.serverProperties],
    stdoutLog: p.stdoutLog,
    diagnosticLogs: [p.stdoutLog, join(p.logsDir, 'server.log')],
    log,
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    detail: `controller ${host}:${kafkaControllerPort}`,
    describe: () => Promise.resolve(`Apache Kafka ${kafkaVersion} (KRaft broker+controller)`),
    async prepare() {
      const java = await requireTool('kafka', 'java', ['-version'], JAVA_HINT);
      await resolveJars(paths, kafkaVersion, log, options.mavenTimeoutMs ?? 600_000);
      mkdirSync(p.dataDir, { recursive: true });
      mkdirSync(p.logsDir, { recursive: true });
      writeFileSync(p.serverProperties, serverProperties(config, p.dataDir));
      writeFileSync(p.log4jProperties, log4jProperties(join(p.logsDir, 'server.log')));
      const classpath = `${p.libsDir}/*`;
      const jvm = [
        ...config.stack.kafkaHeapOpts.split(/\s+/).filter((s) => s !== ''),
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${p.log4jProperties}`,
        `-Dkafka.logs.dir=${p.logsDir}`,
        '-cp',
        classpath,
      ];
      if (!existsSync(join(p.dataDir, 'meta.properties'))) {
        const clusterId = kafkaClusterId();
        log.info(`kafka: formatting storage in ${p.dataDir} (cluster id ${clusterId})`);
        try {
          await run(
            java,
            [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', p.serverProperties],
            {
              timeout: 120_000,
            },
          );
        } catch (err) {
          throw new PdmError(`kafka: formatting storage failed: ${(err as Error).message}`, {
            code: 'STACK_KAFKA_FORMAT_FAILED',
            stage: 'stack',
            cause: err,
          });
        }
      }
      return { command: java, args: [...jvm, 'kafka.Kafka', p.serverProperties], cwd: p.dir };
    },
    ready: () => kafkaAnswers([address]),
  });
}

/** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what `kafka-storage random-uuid` prints). */
export function kafkaClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    // Kafka refuses ids that start with '-' on its command line.
    if (!id.startsWith('-')) return id;
  }
}

export function serverProperties(config: Config, dataDir: string): string {
  const { host, kafkaPort, kafkaControllerPort } = config.stack;
  const lines: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    ['controller.quorum.voters', `1@${host}:${kafkaControllerPort}`],
    ['listeners', `PLAINTEXT://${host}:${kafkaPort},CONTROLLER://${host}:${kafkaControllerPort}`],
    ['advertised.listeners', `PLAINTEXT://${host}:${kafkaPort}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT'],
    ['log.dirs', dataDir],
    ['num.partitions', config.kafka.partitions],
    // The project creates its topics explicitly (`schemas register`, tests); a typo must fail, not create a topic.
    ['auto.create.topics.enable', 'false'],
    ['offsets.topic.replication.factor', 1],
    // Fewer internal partitions: a one-node dev broker on a small machine starts groups faster.
    ['offsets.topic.num.partitions', 8],
    ['transaction.state.log.replication.factor', 1],
    ['transaction.state.log.min.isr', 1],
    ['transaction.state.log.num.partitions', 4],
    // Tests create a consumer group per test; the default 3 s delay would add up.
    ['group.initial.rebalance.delay.ms', 0],
    ['num.network.threads', 2],
    ['num.io.threads', 4],
    // Producers stamp messages with their event time, which may be months old (replayed reference data,
    // simulated fleets); time-based retention would delete such data at once.
    ['log.retention.ms', -1],
    ['log.segment.bytes', 134_217_728],
    // For the same reason, segments roll by size only: a time-based roll (7 days by default) compares
    // record timestamps, so a year replayed in event-time order made 52 segments per partition, and a
    // fetch reads from one segment at a time: a backfill's side topics took a fetch round per week.
    ['log.roll.ms', 9_223_372_036_854],
  ];
  return `# Generated by \`pdm-stream stack up\`; edits are overwritten.\n${lines.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

export function log4jProperties(logFile: string): string {
  return [
    '# Generated by `pdm-stream stack up`.',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.MaxFileSize=50MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.org.apache.kafka.controller=INFO',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    '',
  ].join('\n');
}

/** Copies kafka_2.13 and its runtime dependencies into `<cache>/kafka-<ver>/libs` once. */
function resolveJars(paths: StackPaths, version: string, log: StackLog, timeoutMs: number): Promise<void> {
  const { libsDir, pom, mavenLog } = paths.kafka;
  return mavenIntoDir({
    service: 'kafka',
    what: `resolving org.apache.kafka:kafka_2.13:${version} and its dependencies`,
    targetDir: libsDir,
    mavenLog,
    args: (staging) => [
      '-B',
      '-q',
      '-Dstyle.color=never',
      '-f',
      pom,
      `-Dkafka.version=${version}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
    ],
    verify: (staging) => {
      const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
      return jars.includes(`kafka_2.13-${version}.jar`)
        ? { summary: `${jars.length} jars` }
        : { problem: `${staging} lacks kafka_2.13-${version}.jar` };
    },
    errorCode: 'STACK_KAFKA_JARS_FAILED',
    timeoutMs,
    log,
  });
}

/** One metadata round trip; any failure means "not ready yet". */
export async function kafkaAnswers(brokers: readonly string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'pdm-stack-probe',
    brokers: [...brokers],
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    // Refused or not yet serving metadata: the caller polls again.
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
