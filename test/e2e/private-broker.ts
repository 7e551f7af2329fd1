/**
 * A Kafka broker of one test's own, for fault tests that kill the broker: the local stack's launcher
 * (`createKafkaService`: KRaft broker+controller, storage formatted once, readiness = a metadata round trip)
 * pointed at free ports and a data directory under a temporary directory, with the jars the stack already
 * resolved into `<cache>/kafka-<version>/libs`. The shared stack's broker is never touched: every signal
 * goes to the pid this helper launched, checked against its own server.properties path on the command line.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/config/index.js';
import { stackPaths, type StackLog, type StackPaths } from '../../src/stack/index.js';
import { createKafkaService } from '../../src/stack/kafka.js';
import { isListening } from '../../src/stack/probe.js';
import { isOurs, ownedPid, readPidFile, waitGone } from '../../src/stack/process.js';
import { freePort } from '../support/stack-env.js';

export interface PrivateBroker {
  /** `host:port` for KAFKA_BROKERS. */
  readonly brokers: string;
  /** Where its data, logs and pid file live (removed by {@link PrivateBroker.close}). */
  readonly dir: string;
  /** Starts it (again: same data directory and ports) and waits until it serves metadata. */
  start(): Promise<void>;
  /** SIGKILL, as a crash would: no controlled shutdown, no flush. Resolves once its port is closed. */
  kill(): Promise<void>;
  running(): Promise<boolean>;
  /** Kills it if it runs and removes its directory; safe to call more than once. */
  close(): Promise<void>;
}

const quiet: StackLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

export async function createPrivateBroker(): Promise<PrivateBroker> {
  const shared = loadConfig();
  const kafkaPort = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === kafkaPort) controllerPort = await freePort();
  if ([kafkaPort, controllerPort].includes(shared.stack.kafkaPort)) {
    throw new Error(`refusing to run a private broker on the shared broker's port ${shared.stack.kafkaPort}`);
  }
  const config = loadConfig({
    ...process.env,
    PDM_STACK_KAFKA_PORT: String(kafkaPort),
    PDM_STACK_KAFKA_CONTROLLER_PORT: String(controllerPort),
  });
  const base = stackPaths(config.stack);
  if (!existsSync(base.kafka.libsDir)) {
    throw new Error(`no Kafka jars in ${base.kafka.libsDir}: run \`npm run stack -- up\` once first`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pdm-private-kafka-'));
  const paths: StackPaths = {
    ...base,
    kafka: {
      ...base.kafka,
      // Jars and the pom stay shared (resolved already, so Maven does not run); everything written is ours.
      dir,
      dataDir: join(dir, 'data'),
      logsDir: join(dir, 'logs'),
      serverProperties: join(dir, 'server.properties'),
      log4jProperties: join(dir, 'log4j.properties'),
      stdoutLog: join(dir, 'stdout.log'),
      mavenLog: join(dir, 'maven.log'),
      pidFile: join(dir, 'kafka.pid'),
    },
  };
  const owned = { pidFile: paths.kafka.pidFile, markers: ['kafka.Kafka', paths.kafka.serverProperties] };
  const service = createKafkaService(config, paths, quiet, { readyTimeoutMs: 120_000 });
  const host = config.stack.host;
  let closed = false;
  // Last resort when the test process ends without afterAll (the broker runs detached and would outlive
  // it): synchronous, so it also runs from process.exit().
  const killOnExit = () => {
    const pid = readPidFile(owned.pidFile);
    if (pid !== undefined && isOurs(pid, owned.markers)) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  async function kill(): Promise<void> {
    const pid = await ownedPid(owned);
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    if (!(await waitGone(pid, 10_000))) throw new Error(`private broker ${pid} survived SIGKILL for 10 s`);
    // The kernel closes the listeners with the process; wait for it so that "down" is really down.
    for (let i = 0; i < 50 && (await isListening(host, kafkaPort, 200)); i++) await sleep(100);
  }

  return {
    brokers: `${host}:${kafkaPort}`,
    dir,
    async start() {
      await service.start();
    },
    kill,
    running: async () => (await ownedPid(owned)) !== undefined,
    async close() {
      if (closed) return;
      closed = true;
      process.off('exit', killOnExit);
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
