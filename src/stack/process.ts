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

/**
 * What a pid is to us right now. `in-transition` = alive but with an empty command line, which Linux shows
 * for a moment while a process execs (setpriv → clickhouse-server, sh → java) and while it exits (the
 * leader thread has dropped its memory but other threads still hold files, sockets and locks). Treating
 * that moment as "gone" once made a healthy ClickHouse look like it had died during startup.
 */
export type ProcessState = 'ours' | 'foreign' | 'in-transition' | 'gone';

/**
 * False once the process no longer exists or is a zombie whose threads have all exited (its files,
 * sockets and locks are released by then). A zombie leader with live threads is still alive.
 */
export function isAlive(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // No such process (or no /proc): not running.
    return false;
  }
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1');
  return !((state === 'Z' || state === 'X') && threads <= 1);
}

export function processState(pid: number, markers: readonly string[]): ProcessState {
  if (!isAlive(pid)) return 'gone';
  const cmd = commandLine(pid);
  if (cmd === undefined) return isAlive(pid) ? 'in-transition' : 'gone';
  return markers.every((m) => cmd.includes(m)) ? 'ours' : 'foreign';
}

export function isOurs(pid: number, markers: readonly string[]): boolean {
  return processState(pid, markers) === 'ours';
}

/**
 * Our live pid, or undefined; a pid file that no longer names our process is removed. A process caught
 * mid-exec or mid-exit is looked at again for up to `settleMs`; if it is still alive then, it is the one the
 * pid file named (a pid is not reused before its process is reaped), so it counts as ours.
 */
export async function ownedPid(proc: OwnedProcess, settleMs = 2_000): Promise<number | undefined> {
  const pid = readPidFile(proc.pidFile);
  if (pid === undefined) return undefined;
  const deadline = Date.now() + settleMs;
  let state = processState(pid, proc.markers);
  while (state === 'in-transition' && Date.now() < deadline) {
    await sleep(20);
    state = processState(pid, proc.markers);
  }
  if (state === 'ours' || state === 'in-transition') return pid;
  rmSync(proc.pidFile, { force: true });
  return undefined;
}

/** Polls until `pid` is gone (see {@link isAlive}); false when `timeoutMs` passes first. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops our process: SIGTERM, wait up to `graceMs` until it is really gone (not merely past the point where
 * its command line empties), then SIGKILL. Never signals a pid whose command line lacks the markers; once
 * verified, the pid stays ours until the process is reaped, so later signals need no new check.
 */
export async function stopOwned(
  proc: OwnedProcess,
  graceMs: number,
): Promise<'stopped' | 'killed' | 'not-running'> {
  const pid = await ownedPid(proc);
  if (pid === undefined) return 'not-running';
  signal(pid, 'SIGTERM');
  if (await waitGone(pid, graceMs)) {
    rmSync(proc.pidFile, { force: true });
    return 'stopped';
  }
  signal(pid, 'SIGKILL');
  if (!(await waitGone(pid, 10_000))) {
    throw new PdmError(
      `process ${pid} (${proc.pidFile}) is still alive 10 s after SIGKILL (stuck in the kernel?); its ports and ` +
        'files may stay busy until it goes',
      { code: 'STACK_STOP_FAILED', stage: 'stack' },
    );
  }
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
