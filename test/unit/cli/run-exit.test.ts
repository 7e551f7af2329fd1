import { describe, expect, it } from 'vitest';
import { exitWhenLingering, runOrBoundExit } from '../../../src/cli/exit.js';
import { ConfigError, PdmError } from '../../../src/shared/errors.js';

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

  it('a failed command (a failed start) is bounded the same way, with the exit code main.ts sets for its error', async () => {
    const cases = [
      { err: new ConfigError('cannot open ONNX model: Protobuf parsing failed'), code: 2 },
      { err: new PdmError('Kafka unavailable', { code: 'KAFKA_UNAVAILABLE', stage: 'ingest' }), code: 1 },
      { err: new Error('anything else'), code: 1 },
    ];
    for (const { err, code } of cases) {
      const exits: number[] = [];
      const log = { warn: () => undefined, flush: () => undefined };
      const started = runOrBoundExit(
        () => Promise.reject(err),
        log,
        50,
        (c) => void exits.push(c),
      );
      // The error still reaches the caller (main.ts prints it), unchanged.
      await expect(started).rejects.toBe(err);
      expect(exits).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(exits).toEqual([code]);
    }
  });

  it('a command that succeeds arms nothing', async () => {
    const exits: number[] = [];
    const log = { warn: () => undefined, flush: () => undefined };
    await expect(
      runOrBoundExit(
        () => Promise.resolve('running'),
        log,
        20,
        (c) => void exits.push(c),
      ),
    ).resolves.toBe('running');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(exits).toEqual([]);
  });
});
