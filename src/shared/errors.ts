/**
 * One error base for the whole engine. The type decides the path (house style rule 5):
 * - `retryable: true`  → transient (registry/ClickHouse/Kafka down): pause, back off, retry; never dead-letter.
 * - {@link BadRecordError} → the record is bad: dead-letter it with its reason and go on.
 * - anything else       → programmer or configuration error: crash loudly.
 */
export const STAGES = [
  'config',
  'ingest',
  'decode',
  'features',
  'score',
  'sink',
  'dlq',
  'pipeline',
  'simulate',
  'stack',
  'cli',
] as const;
export type Stage = (typeof STAGES)[number];

/** Reason codes written to the dead-letter table. Stable: dashboards and alerts key on them. */
export const DEAD_LETTER_REASONS = [
  'BAD_FRAME',
  'UNKNOWN_SCHEMA',
  'INCOMPATIBLE_SCHEMA',
  'DECODE_ERROR',
  'INVALID_VALUE',
  'INVALID_KEY',
  'LATE_EVENT',
  'FUTURE_EVENT',
  'WRONG_PARTITION',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface PdmErrorOptions {
  readonly code: string;
  readonly stage: Stage;
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

export class PdmError extends Error {
  readonly code: string;
  readonly stage: Stage;
  readonly retryable: boolean;

  constructor(message: string, options: PdmErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.stage = options.stage;
    this.retryable = options.retryable ?? false;
  }
}

/** A dependency is unavailable or slow; retry with backoff while the consumer is paused. */
export class TransientError extends PdmError {
  constructor(message: string, options: Omit<PdmErrorOptions, 'retryable'>) {
    super(message, { ...options, retryable: true });
  }
}

/** The record itself is bad: it goes to the dead-letter table with `reason`. */
export class BadRecordError extends PdmError {
  readonly reason: DeadLetterReason;
  constructor(reason: DeadLetterReason, message: string, options: { stage: Stage; cause?: unknown }) {
    super(message, { code: reason, stage: options.stage, retryable: false, cause: options.cause });
    this.reason = reason;
  }
}

/** Invalid settings or an incompatible artefact (e.g. a model package): exit non-zero with the message. */
export class ConfigError extends PdmError {
  constructor(message: string, options: { code?: string; stage?: Stage; cause?: unknown } = {}) {
    super(message, {
      code: options.code ?? 'CONFIG_INVALID',
      stage: options.stage ?? 'config',
      cause: options.cause,
    });
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof PdmError && err.retryable;
}

/** Message of an unknown thrown value, for logs and dead-letter rows. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
