import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values are secrets wherever they appear in a log object. Connection strings are logged only
 * through {@link redactUrl}.
 */
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  '*.*.*.password',
  'authorization',
  '*.authorization',
];

export function createLogger(options: { level: string; name?: string; destination?: number }): Logger {
  const opts: LoggerOptions = {
    level: options.level,
    base: { name: options.name ?? 'pdm-stream' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, pino.destination({ dest: options.destination ?? 2, sync: false }));
}

/** A URL safe to log: user info removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
