import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import {
  APICURIO_VERSION,
  formatDown,
  formatStatus,
  formatUp,
  connectionHints,
  stackDown,
  stackStatus,
  stackUp,
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
      `local stack without Docker: Kafka (KRaft, Maven Central jars), Apicurio Registry ${APICURIO_VERSION}, ClickHouse`,
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
}
