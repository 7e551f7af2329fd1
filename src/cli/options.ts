/**
 * Parsers for numeric command-line options. A bad value is a usage error: commander prints
 * "error: option '--top <n>' argument 'abc' is invalid. must be a positive integer" and the process exits
 * with {@link USAGE_EXIT_CODE}, like invalid settings, never with a stack trace.
 */
import { InvalidArgumentError } from 'commander';

/** Exit code of a command line or settings error (also used for invalid settings, see main.ts). */
export const USAGE_EXIT_CODE = 2;

/** An invalid option value; commander exits with {@link USAGE_EXIT_CODE}. */
export function usageError(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  err.exitCode = USAGE_EXIT_CODE;
  return err;
}

/**
 * A parser of whole numbers in `min..max`, written in decimal digits only (`10`, not `1e1`, `0x10` or
 * `10abc`). `message` replaces the default "must be an integer from min to max".
 */
export function integerOption(
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  message = `must be an integer from ${min} to ${max}`,
): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw usageError(message);
    return n;
  };
}

/** A whole number ≥ 1. */
export const positiveIntOption = integerOption(1, undefined, 'must be a positive integer');

/** A finite number > 0. */
export function positiveNumberOption(value: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw usageError('must be a positive number');
  return n;
}
