/** `pdm-stream dlq` argument parsing: bad values and missing selections are usage errors (exit 2). */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  DLQ_EXIT_CODES,
  filterOf,
  idsOption,
  limitOption,
  nonNegativeIntOption,
  reasonCodesOption,
  registerDlqCommand,
} from '../../../src/cli/dlq.js';
import { USAGE_EXIT_CODE } from '../../../src/cli/options.js';

async function usageFailure(args: string[]): Promise<{ exitCode: number; stderr: string }> {
  let stderr = '';
  const out = { writeErr: (s: string) => (stderr += s), writeOut: () => undefined };
  const program = new Command('pdm-stream').exitOverride().configureOutput(out);
  registerDlqCommand(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride().configureOutput(out);
  try {
    await program.parseAsync(['node', 'pdm-stream', 'dlq', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode, stderr };
    throw err;
  }
  throw new Error('expected a usage error');
}

describe('dlq options', () => {
  it('parse reason codes against the closed list', () => {
    expect(reasonCodesOption('UNKNOWN_SCHEMA,INVALID_VALUE')).toEqual(['UNKNOWN_SCHEMA', 'INVALID_VALUE']);
    expect(() => reasonCodesOption('UNKNOWN_SCHEMAS')).toThrow(/unknown reason UNKNOWN_SCHEMAS/);
  });

  it('parse thresholds (0 allowed), limits and ids', () => {
    expect(nonNegativeIntOption('0')).toBe(0);
    expect(() => nonNegativeIntOption('-1')).toThrow();
    expect(limitOption('20')).toBe(20);
    expect(() => limitOption('0')).toThrow();
    expect(() => limitOption('1000001')).toThrow();
    expect(idsOption('t:1:2')).toEqual([{ topic: 't', partition: 1, offset: '2' }]);
  });

  it('map dismiss’s --dead-letter-reason to the reason filter', () => {
    expect(filterOf({ deadLetterReason: ['LATE_EVENT'], topic: ['t'] })).toMatchObject({
      reasons: ['LATE_EVENT'],
      topics: ['t'],
    });
  });

  it.each([
    [['depth', '--threshold', 'x']],
    [['depth', '--since', '15']],
    [['show', '--ids', 'nope']],
    [['top', '--reason', 'NOPE']],
    [['replay', '--from', 'yesterday']],
    [['replay', '--max-replays', '0']],
    [['replay']],
    [['dismiss', '--topic', 't']],
    [['dismiss', '--reason', 'gone']],
  ])('%j is a usage error (exit 2)', async (args) => {
    const r = await usageFailure(args);
    expect(r.exitCode).toBe(USAGE_EXIT_CODE);
    expect(r.stderr).toMatch(/error/);
  });

  it('document distinct exit codes', () => {
    expect(DLQ_EXIT_CODES).toEqual({ ok: 0, aboveThresholdOrFailed: 1, usage: 2, unknownOrRefused: 3 });
  });
});
