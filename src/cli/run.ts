import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startEngine } from '../pipeline/index.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run the engine: Kafka → decode → features → ONNX micro-batches → ClickHouse, until SIGTERM/SIGINT',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger({ level: config.ops.logLevel, name: 'pdm-stream' });
      const running = await startEngine(config, log);
      let exitCode = 0;
      const shutdown = async (why: string) => {
        log.info(
          { why, timeoutMs: config.ops.shutdownTimeoutMs },
          'shutting down: stop fetching, drain, write, commit',
        );
        const timer = setTimeout(() => {
          log.error('shutdown did not finish in time; exiting without committing the batch in progress');
          log.flush();
          process.exit(1);
        }, config.ops.shutdownTimeoutMs);
        timer.unref();
        await running.stop();
        clearTimeout(timer);
        log.info({ exitCode }, 'stopped');
        log.flush();
      };
      await new Promise<void>((resolve) => {
        let once = false;
        const onSignal = (why: string) => {
          if (once) return;
          once = true;
          shutdown(why).then(resolve, (err: unknown) => {
            exitCode = 1;
            log.error({ err: errorMessage(err) }, 'shutdown failed');
            resolve();
          });
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        running.engine.done.then(
          () => {
            onSignal('consumer stopped');
          },
          (err: unknown) => {
            exitCode = 1;
            log.error(
              { err: errorMessage(err) },
              'engine stopped on a non-retryable error; offsets of the failed batch are not committed',
            );
            onSignal('engine error');
          },
        );
      });
      process.exitCode = exitCode;
    });
}
