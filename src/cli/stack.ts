import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../shared/logger.js';
import {
  STANDIN_LABEL,
  formatDown,
  formatStatus,
  formatUp,
  connectionHints,
  stackDown,
  stackStatus,
  stackUp,
  startRegistryStandin,
  type StackLog,
} from '../stack/index.js';

/** Progress goes to stderr so that stdout carries only the result tables. */
const consoleLog: StackLog = {
  info: (msg) => {
    console.error(msg);
  },
  warn: (msg) => {
    console.error(`warning: ${msg}`);
  },
  error: (msg) => {
    console.error(`error: ${msg}`);
  },
};

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('a port number 0..65535');
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

function printHints(config: Config, status: Parameters<typeof connectionHints>[0]): void {
  const hints = connectionHints(status, {
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    clickhouseUrl: config.clickhouse.url,
  });
  if (hints.length > 0) {
    console.log(`note: the engine's settings point elsewhere; to use this stack set ${hints.join(' ')}`);
  }
}

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description(
      `local stack without Docker: Kafka (KRaft, Maven Central jars), schema registry ${STANDIN_LABEL}, ClickHouse`,
    );

  stack
    .command('up')
    .description('start the services that are not running and wait until all answer (idempotent)')
    .option('--timeout <seconds>', 'bound on each service becoming ready', parseSeconds, 120)
    .action(async (opts: { timeout: number }) => {
      const config = loadConfig();
      const result = await stackUp(config, consoleLog, { readyTimeoutMs: opts.timeout * 1000 });
      console.log(formatUp(result));
      printHints(config, {
        external: result.external,
        services: result.services.map((s) => ({ name: s.name, address: s.address })),
      });
    });

  stack
    .command('down')
    .description('stop the services this stack started (pid files); leaves anything else alone')
    .action(async () => {
      console.log(formatDown(await stackDown(loadConfig(), consoleLog)));
    });

  stack
    .command('status')
    .description('each service, its state and address; exit code 0 when all are ready, 3 otherwise')
    .option('--json', 'print the status as JSON')
    .option('-q, --quiet', 'print nothing; only the exit code')
    .action(async (opts: { json?: boolean; quiet?: boolean }) => {
      const status = await stackStatus(loadConfig());
      if (opts.quiet !== true)
        console.log(opts.json === true ? JSON.stringify(status, null, 2) : formatStatus(status));
      if (!status.ready) process.exitCode = 3;
    });

  stack
    .command('registry-serve', { hidden: true })
    .description(`run the schema registry ${STANDIN_LABEL} in the foreground (what \`stack up\` starts)`)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .requiredOption('--port <port>', 'port (0 = any free port)', parsePort)
    .option('--data-dir <dir>', 'directory of the state file (ids survive restarts); omit for in-memory')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (opts: { host: string; port: number; dataDir?: string; logLevel: string }) => {
      const log = createLogger({ level: opts.logLevel, name: 'schema-registry-standin' });
      const registry = await startRegistryStandin({
        host: opts.host,
        port: opts.port,
        log,
        ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      });
      console.error(`schema registry ${STANDIN_LABEL} listening on ${registry.url}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          log.info({ signal }, 'registry stand-in: stopping');
          registry.close().then(resolve, (err: unknown) => {
            log.error({ err }, 'registry stand-in: close failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      log.flush();
    });
}
