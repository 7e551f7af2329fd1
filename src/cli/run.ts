import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startEngine } from '../pipeline/index.js';
import { PdmError, errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { exitWhenLingering } from './exit.js';

/**
 * Exit codes a supervisor can trust: 0 only after SIGTERM/SIGINT and a clean shutdown; 1 when the engine
 * ended for any other reason (Kafka outage longer than PDM_KAFKA_OUTAGE_MAX_MS, a non-retryable error, a
 * handler that threw), always after an error log line that says why; 2 for invalid settings (main.ts).
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run the engine: Kafka → decode → features → ONNX micro-batches → ClickHouse, until SIGTERM/SIGINT',
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger({ level: config.ops.logLevel, name: 'pdm-stream' });
      // Signals are taken from the start: SIGTERM while Kafka is still unreachable is a clean stop too.
      let requested: string | undefined;
      let onRequest: ((why: string) => void) | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (requested !== undefined) return;
        requested = signal;
        onRequest?.(signal);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      // A failed start is bounded like any failed command (main.ts, exit.ts).
      const running = await startEngine(config, log);
      let exitCode = 0;
      await new Promise<void>((resolve) => {
        let once = false;
        const shutdown = (why: string) => {
          if (once) return;
          once = true;
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
          running.stop().then(
            () => {
              clearTimeout(timer);
              log.info({ exitCode }, 'stopped');
              log.flush();
              resolve();
            },
            (err: unknown) => {
              clearTimeout(timer);
              exitCode = 1;
              log.error({ err: errorMessage(err) }, 'shutdown failed');
              log.flush();
              resolve();
            },
          );
        };
        onRequest = shutdown;
        if (requested !== undefined) shutdown(requested);
        running.engine.done.then(
          () => {
            // The source resolves `done` only after a stop we asked for; anything else is a failure.
            if (requested !== undefined) return;
            exitCode = 1;
            log.error('engine stopped without a stop request; exiting non-zero');
            shutdown('engine stopped');
          },
          (err: unknown) => {
            exitCode = 1;
            log.error(
              {
                err: errorMessage(err),
                ...(err instanceof PdmError ? { code: err.code, stage: err.stage } : {}),
              },
              'engine stopped on an error; exiting non-zero (offsets of unfinished batches are not committed)',
            );
            shutdown('engine error');
          },
        );
      });
      process.exitCode = exitCode;
      exitWhenLingering(exitCode, log);
    });
}
