import { describe, expect, it } from 'vitest';
import { exitWhenLingering } from '../../../src/cli/run.js';

describe('run: a stopped engine exits even when a client lingers', () => {
  it('exits with the engine exit code after the linger time, from a timer that holds nothing alive', async () => {
    const exits: number[] = [];
    const warnings: object[] = [];
    const log = { warn: (obj: object) => void warnings.push(obj), flush: () => undefined };
    const timer = exitWhenLingering(1, log, 50, (code) => void exits.push(code));
    // Unref'd: a process with nothing else open ends before it fires.
    expect(timer.hasRef()).toBe(false);
    expect(exits).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(exits).toEqual([1]);
    expect(warnings).toEqual([{ exitCode: 1, lingerMs: 50 }]);
  });
});
