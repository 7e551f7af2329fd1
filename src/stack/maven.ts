/**
 * Tools the JVM services need, and "run Maven once into a directory": Maven writes into `<dir>.partial`,
 * which is checked and renamed to `<dir>` when complete (with a marker file), so an interrupted download or
 * build is never mistaken for a usable result.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, PdmError } from '../shared/errors.js';
import { tailFile } from './process.js';
import type { StackLog } from './service.js';

const run = promisify(execFile);
const COMPLETE_MARKER = '.complete';

export const JAVA_HINT = 'a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)';
const MAVEN_HINT = 'Apache Maven 3 (Debian: apt-get install maven)';

/** Returns `tool` once `tool probeArgs…` runs; otherwise a ConfigError saying what to install. */
export async function requireTool(
  service: string,
  tool: string,
  probeArgs: string[],
  what: string,
): Promise<string> {
  try {
    await run(tool, probeArgs, { timeout: 30_000 });
    return tool;
  } catch (err) {
    throw new ConfigError(
      `${service}: \`${tool}\` is not usable (${(err as Error).message.split('\n')[0]}); install ${what}`,
      { code: 'STACK_TOOL_MISSING', stage: 'stack', cause: err },
    );
  }
}

export interface MavenIntoDirOptions {
  /** Log and error prefix, e.g. `kafka`. */
  readonly service: string;
  /** What is being produced, for the log lines. */
  readonly what: string;
  readonly targetDir: string;
  readonly mavenLog: string;
  readonly args: (stagingDir: string) => string[];
  /** Maven's working directory (created). @default the current directory */
  readonly cwd?: string;
  /** Checks the staged result: a one-line summary when usable, else what is missing. */
  readonly verify: (stagingDir: string) => { readonly summary: string } | { readonly problem: string };
  readonly errorCode: string;
  readonly timeoutMs: number;
  readonly log: StackLog;
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, COMPLETE_MARKER));
}

export async function mavenIntoDir(o: MavenIntoDirOptions): Promise<void> {
  if (isComplete(o.targetDir)) return;
  const mvn = await requireTool(o.service, 'mvn', ['-v'], MAVEN_HINT);
  const staging = `${o.targetDir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(o.mavenLog), { recursive: true });
  o.log.info(`${o.service}: ${o.what} with Maven into ${o.targetDir}`);
  const started = Date.now();
  if (o.cwd !== undefined) mkdirSync(o.cwd, { recursive: true });
  try {
    const { stdout, stderr } = await run(mvn, o.args(staging), {
      ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
      timeout: o.timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    writeFileSync(o.mavenLog, `${stdout}${stderr}`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    writeFileSync(o.mavenLog, `${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}\n`);
    throw new PdmError(`${o.service}: Maven failed (${o.what}).\n${tailFile(o.mavenLog, 30)}`, {
      code: o.errorCode,
      stage: 'stack',
      cause: err,
    });
  }
  const checked = o.verify(staging);
  if ('problem' in checked) {
    throw new PdmError(`${o.service}: Maven finished but ${checked.problem}`, {
      code: o.errorCode,
      stage: 'stack',
    });
  }
  writeFileSync(join(staging, COMPLETE_MARKER), `${checked.summary}\n`);
  rmSync(o.targetDir, { recursive: true, force: true });
  renameSync(staging, o.targetDir);
  o.log.info(`${o.service}: ${checked.summary}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
