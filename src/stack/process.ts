/**
 * Detached processes owned through pid files. A pid counts as ours only while /proc/<pid>/cmdline still
 * contains every marker we launched it with, so a recycled pid of some other program is never signalled.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PdmError } from '../shared/errors.js';

export interface OwnedProcess {
  readonly pidFile: string;
  /** Strings the command line of our process contains (e.g. the absolute path of its config file). */
  readonly markers: readonly string[];
}

export interface SpawnSpec extends OwnedProcess {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts `command` in its own session (it outlives the CLI) and records its pid. */
export function spawnDetached(spec: SpawnSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  const out = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      detached: true,
      stdio: ['ignore', out, out],
      env: spec.env ?? process.env,
    });
    const pid = child.pid;
    if (pid === undefined) {
      throw new PdmError(`could not start ${spec.command} (see ${spec.logFile})`, {
        code: 'STACK_SPAWN_FAILED',
        stage: 'stack',
      });
    }
    // Spawn errors (ENOENT…) arrive asynchronously; they show up as "process exited" in the readiness wait.
    child.on('error', () => undefined);
    child.unref();
    writeFileSync(spec.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(out);
  }
}

export function readPidFile(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The command line of a live process, arguments joined by spaces; undefined when gone or a zombie. */
export function commandLine(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text === '' ? undefined : text.split('\0').join(' ').trim();
  } catch {
    // No such process (or no /proc): for our purposes it is not running.
    return undefined;
  }
}

export function isOurs(pid: number, markers: readonly string[]): boolean {
  const cmd = commandLine(pid);
  return cmd !== undefined && markers.every((m) => cmd.includes(m));
}

/** Our live pid, or undefined; a pid file that no longer names our process is removed. */
export function ownedPid(proc: OwnedProcess): number | undefined {
  const pid = readPidFile(proc.pidFile);
  if (pid === undefined) return undefined;
  if (isOurs(pid, proc.markers)) return pid;
  rmSync(proc.pidFile, { force: true });
  return undefined;
}

/**
 * Stops our process: SIGTERM, wait up to `graceMs`, then SIGKILL. Never signals a pid whose command line
 * lacks the markers.
 */
export async function stopOwned(
  proc: OwnedProcess,
  graceMs: number,
): Promise<'stopped' | 'killed' | 'not-running'> {
  const pid = ownedPid(proc);
  if (pid === undefined) return 'not-running';
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(pid, proc.markers)) {
      rmSync(proc.pidFile, { force: true });
      return 'stopped';
    }
    await sleep(100);
  }
  if (isOurs(pid, proc.markers)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isOurs(pid, proc.markers); i++) await sleep(100);
  rmSync(proc.pidFile, { force: true });
  return 'killed';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    // ESRCH: it exited between our check and the signal, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The last `lines` lines of a log file (at most 64 KiB read), for error messages. */
export function tailFile(file: string, lines = 30): string {
  if (!existsSync(file)) return `(no ${file})`;
  const size = statSync(file).size;
  const length = Math.min(size, 64 * 1024);
  const buf = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buf
    .toString('utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n')
    .trimEnd();
}
