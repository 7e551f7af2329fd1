/**
 * Issue 9: `report --top abc` printed a stack trace. Numeric options are validated by their parser and a bad
 * value exits 2 with commander's one-line message.
 */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerImportCsvCommand } from '../../../src/cli/import-csv.js';
import { positiveIntOption, positiveNumberOption, USAGE_EXIT_CODE } from '../../../src/cli/options.js';
import { registerReportCommand, topOption } from '../../../src/cli/report.js';

/** Parses `args` with one command registered; returns the usage error commander would exit with. */
async function usageFailure(
  register: (program: Command) => void,
  args: string[],
): Promise<{ exitCode: number; stderr: string }> {
  let stderr = '';
  const program = new Command('pdm-stream')
    .exitOverride()
    .configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  register(program);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  try {
    await program.parseAsync(['node', 'pdm-stream', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode, stderr };
    throw err;
  }
  throw new Error('expected a usage error');
}

describe('numeric option parsers', () => {
  it.each(['1', '10', ' 42 ', '4294967295'])('--top accepts %j', (v) => {
    expect(topOption(v)).toBe(Number(v));
  });

  it.each(['abc', '', '0', '-3', '1.5', '1e3', '0x10', '10abc', '4294967296'])('--top refuses %j', (v) => {
    expect(() => topOption(v)).toThrow(/integer from 1 to 4294967295/);
    try {
      topOption(v);
    } catch (err) {
      expect((err as CommanderError).exitCode).toBe(USAGE_EXIT_CODE);
    }
  });

  it('positive integers and numbers', () => {
    expect(positiveIntOption('2000')).toBe(2000);
    for (const v of ['0', '-1', '2.5', 'x', '', '1e3']) expect(() => positiveIntOption(v)).toThrow();
    expect(positiveNumberOption('0.5')).toBe(0.5);
    expect(positiveNumberOption('1e3')).toBe(1000);
    for (const v of ['0', '-1', 'abc', '', 'Infinity', 'NaN'])
      expect(() => positiveNumberOption(v)).toThrow();
  });
});

describe('usage errors exit 2 with one clear line, no stack trace', () => {
  it('report --top abc', async () => {
    const { exitCode, stderr } = await usageFailure(registerReportCommand, ['report', '--top', 'abc']);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/option '--top <n>' argument 'abc' is invalid\. must be an integer/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('report --from/--to without --shadow, or an empty range', async () => {
    const alone = await usageFailure(registerReportCommand, ['report', '--from', '2026-01-01']);
    expect(alone.exitCode).toBe(2);
    expect(alone.stderr).toMatch(/error: --from and --to select the buckets of --shadow; add --shadow/);
    const empty = await usageFailure(registerReportCommand, [
      'report',
      '--shadow',
      '--from',
      '2026-02-01',
      '--to',
      '2026-01-01',
    ]);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toMatch(/error: --from must be before --to/);
    expect(empty.stderr).not.toMatch(/\n\s+at /);
  });

  it('import-csv --max-rate x and --batch-records 0', async () => {
    const rate = await usageFailure(registerImportCsvCommand, ['import-csv', 'dir', '--max-rate', 'x']);
    expect(rate.exitCode).toBe(2);
    expect(rate.stderr).toMatch(/--max-rate <n>' argument 'x' is invalid\. must be a positive number/);
    const batch = await usageFailure(registerImportCsvCommand, ['import-csv', 'dir', '--batch-records', '0']);
    expect(batch.exitCode).toBe(2);
    expect(batch.stderr).toMatch(/must be a positive integer/);
  });
});
