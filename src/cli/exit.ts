/**
 * How a `pdm-stream` process ends: the exit code of a failed command, and a bound on how long the process
 * may stay alive once it has ended (a stopped engine, or any command that failed).
 */
import { ConfigError } from '../shared/errors.js';

/** How long an ended process may take to exit by itself before it is made to. */
const EXIT_LINGER_MS = 2_000;

export type LingerLog = { warn(obj: object, msg: string): void; flush(): void };

/**
 * The exit code of a command that failed with `err` (main.ts prints it): 2 for invalid settings or a model
 * package that cannot be used (ConfigError, also MIGRATION_NOT_PERMITTED), 1 for anything else.
 */
export function exitCodeFor(err: unknown): 1 | 2 {
  return err instanceof ConfigError ? 2 : 1;
}

/**
 * Once the process has ended its work (the engine stopped with everything written and committed, or a
 * command failed after closing what it opened) it should end by itself. A Kafka client still retrying can
 * keep it alive for tens of seconds (kafkajs' admin retries for about 30 s when the broker dies in the
 * middle of the alerts setup, about 8 s for the end offsets of a topic that does not exist yet, and
 * reconnects after a disconnect), and a supervisor waiting for the exit code would wait as long. The timer
 * is unref'd: it never keeps the process alive, and fires only if something else does. Commands are never
 * run in-process (tests spawn them), so exiting here is safe.
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

/**
 * Runs a command (main.ts: the whole program); when it fails, the error goes on to the caller (which prints
 * it and sets {@link exitCodeFor}) and the process is bounded by {@link exitWhenLingering} with that code.
 * Measured 2026-12-02: `run` with a model onnxruntime cannot open and a topic prefix with no topics yet
 * printed the error after about 1 s and exited after 7.5–9.9 s (4 runs): the engine's early end-offset
 * read of the missing telemetry topic, which kafkajs retries for about 8 s.
 */
export async function runOrBoundExit<T>(
  command: () => Promise<T>,
  log: LingerLog,
  lingerMs = EXIT_LINGER_MS,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<T> {
  try {
    return await command();
  } catch (err) {
    exitWhenLingering(exitCodeFor(err), log, lingerMs, exit);
    throw err;
  }
}
