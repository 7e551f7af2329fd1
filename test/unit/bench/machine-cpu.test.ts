import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { measureMachine, parsePidStat, parseProcStat } from '../../../bench/machine-cpu.js';

describe('bench machine CPU (/proc parsing)', () => {
  it('reads busy and total ticks from the aggregate cpu line', () => {
    const stat = ['cpu  100 5 20 800 30 1 2 3 0 0', 'cpu0 50 2 10 400 15 0 1 1 0 0', 'intr 12345'].join('\n');
    // busy = user 100 + nice 5 + system 20 + irq 1 + softirq 2 + steal 3; idle 800 + iowait 30.
    expect(parseProcStat(stat)).toEqual({ busy: 131, total: 961 });
    expect(parseProcStat('cpu0 1 2 3 4 5 6 7 8\n')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 x 4 5 6 7 8\n')).toBeUndefined();
  });

  it('reads utime + stime after a command name with spaces and parentheses', () => {
    const fields = [
      'S',
      '1',
      '7',
      '7',
      '0',
      '-1',
      '4194304',
      '188276',
      '0',
      '4871',
      '0',
      '3402',
      '1153',
      '0',
      '0',
    ];
    expect(parsePidStat(`30927 (java) ${fields.join(' ')}`)).toBe(3402 + 1153);
    expect(parsePidStat(`42 (a b) (c)) ${fields.join(' ')}`)).toBe(3402 + 1153);
    expect(parsePidStat('42 (short) S 1')).toBeUndefined();
  });

  it('measures this process between two points on Linux', () => {
    const phase = measureMachine({ self: process.pid });
    const until = Date.now() + 300;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const r = phase.stop();
    if (process.platform !== 'linux') {
      expect(r).toBeUndefined();
      return;
    }
    expect(x).toBeGreaterThan(0);
    expect(r?.busyFraction).toBeGreaterThan(0);
    expect(r?.busyFraction).toBeLessThanOrEqual(1);
    // 300 ms of busy loop in this process: /proc counts it in 10 ms ticks.
    expect(r?.stackCpuSeconds.self).toBeGreaterThanOrEqual(0.2);
    // The loop ran on the main thread, so its CPU is counted there too.
    expect(r?.mainThreadCpuSeconds).toBeGreaterThanOrEqual(0.2);
    expect(r?.mainThreadCpuSeconds).toBeLessThanOrEqual((r?.stackCpuSeconds.self ?? 0) + 0.02);
  });

  it('leaves out a process that exits during the phase (a service restarted mid-run) instead of failing', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 200)']);
    await once(child, 'spawn');
    const pid = child.pid as number;
    const phase = measureMachine({ leaving: pid, self: process.pid, neverThere: 2 ** 30 });
    await once(child, 'exit');
    const r = phase.stop();
    if (process.platform !== 'linux') return;
    expect(r).toBeDefined();
    expect(Object.keys(r?.stackCpuSeconds ?? {})).toEqual(['self']);
  });
});
