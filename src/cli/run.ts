import type { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { startEngine } from '../pipeline/index.js';
import { PdmError, errorMessage, exitCodeFor } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';

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
      const running = await startOrBoundExit(() => startEngine(config, log), log);
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

/** How long a stopped `run` may take to exit by itself before it is made to. */
const EXIT_LINGER_MS = 2_000;

type LingerLog = { warn(obj: object, msg: string): void; flush(): void };

/**
 * Starts the engine; when the start fails, the error goes on to main.ts (which prints it and sets the exit
 * code) and the process is bounded like a stopped one ({@link exitWhenLingering}): the failed start closed
 * what it opened, but a kafkajs admin still retrying a read keeps its connection, and the process, alive.
 * Measured 2026-12-02: `run` with a model onnxruntime cannot open and a topic prefix with no topics yet
 * printed the error after 0.9 s and exited after 9.0 s (the source's early end-offset read of the missing
 * telemetry topic, which kafkajs retries for about 8 s and reconnects for after a disconnect).
 */
export async function startOrBoundExit<T>(
  start: () => Promise<T>,
  log: LingerLog,
  lingerMs = EXIT_LINGER_MS,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    exitWhenLingering(exitCodeFor(err), log, lingerMs, exit);
    throw err;
  }
}

/**
 * Once the engine has stopped (everything written and committed) the process should end by itself. A
 * Kafka client still retrying a connection can keep it alive for tens of seconds (kafkajs' admin retries
 * for about 30 s when the broker dies in the middle of the alerts setup), and a supervisor waiting for
 * the exit code would wait as long. The timer is unref'd: it never keeps the process alive, and fires only
 * if something else does. `run` is never started in-process (tests spawn it), so exiting here is safe.
 */
export function exitWhenLingering(
  exitCode: number,
  log: LingerLog,
  lingerMs = EXIT_LINGER_MS,
  exit: (code: number) => void = (code) => process.exit(code),
): NodeJS.Timeout {
  const timer = setTimeout(() => {
    log.warn({ exitCode, lingerMs }, 'ended, but open connections kept the process alive; exiting');
    log.flush();
    exit(exitCode);
  }, lingerMs);
  timer.unref();
  return timer;
}
