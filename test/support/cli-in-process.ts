/** `pdm-stream <args>` in this process (this checkout's src/), with its console output captured. */
import { vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';

export interface CliRun {
  /** The exit code the command set (process.exitCode or a commander exit), 0 otherwise. */
  readonly code: number;
  /** Everything it printed on stdout and stderr, one line per console call. */
  readonly out: string;
}

/** Runs the CLI with `env` laid over process.env for the duration of the call (restored afterwards). */
export async function runCliInProcess(args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const lines: string[] = [];
  const push = (...a: unknown[]): void => void lines.push(a.join(' '));
  const log = vi.spyOn(console, 'log').mockImplementation(push);
  const err = vi.spyOn(console, 'error').mockImplementation(push);
  const exitCode = process.exitCode;
  process.exitCode = 0;
  let code = 0;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync([...args], { from: 'user' });
    const after: unknown = process.exitCode; // set by the command (3, 130), else still 0
    code = typeof after === 'number' ? after : 0;
  } catch (x) {
    const c = (x as { exitCode?: number }).exitCode;
    if (c === undefined) throw x;
    code = c;
    lines.push((x as Error).message);
  } finally {
    log.mockRestore();
    err.mockRestore();
    process.exitCode = exitCode;
    for (const [k, v] of saved) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  }
  return { code, out: lines.join('\n') };
}
