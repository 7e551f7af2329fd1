/**
 * One `stack up`/`down` at a time per cache directory: several engineers, scripts and test runs share the
 * working tree, and two concurrent `up`s would otherwise both launch a broker.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PdmError } from '../shared/errors.js';
import type { StackLog } from './service.js';

function holder(lockFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    // Removed between our attempt and this read: nobody holds it any more.
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withStackLock<T>(
  lockFile: string,
  log: StackLog,
  fn: () => Promise<T>,
  waitMs: number,
): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = holder(lockFile);
      if (pid === process.pid) {
        throw new PdmError('stack: re-entrant use of the stack lock', {
          code: 'STACK_LOCKED',
          stage: 'stack',
        });
      }
      if (pid === undefined || !alive(pid)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new PdmError(
          `stack: another stack command (pid ${pid}) is still working on ${dirname(lockFile)}`,
          {
            code: 'STACK_LOCKED',
            stage: 'stack',
          },
        );
      }
      if (!announced) log.info(`stack: waiting for another stack command (pid ${pid}) to finish`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
