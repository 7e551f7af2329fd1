/**
 * PDM_HEAP_GROWING_PERCENT: the engine sets V8's heap growing factor while running. The flag string is
 * checked directly; that V8 honours it when set after start (not only on the command line) is checked in
 * a child process, which keeps a fixed live heap and churns garbage with and without it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { limitHeapGrowing } from '../../../src/shared/heap-growing.js';

const run = promisify(execFile);

/** Peak V8 heap size (MB) of a child that holds ~40 MB live and allocates ~2 GB of garbage. */
async function peakHeapMb(percent: number): Promise<number> {
  const script = `
    const v8 = require('node:v8');
    if (${percent} > 0) v8.setFlagsFromString('--heap-growing-percent=${percent}');
    const live = [];
    for (let i = 0; i < 40; i++) live.push(new Array(131072).fill(i));
    let peak = 0;
    let sink = 0;
    for (let round = 0; round < 2000; round++) {
      const garbage = new Array(131072).fill(round);
      sink += garbage.length;
      peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    }
    process.stdout.write(String(Math.round(peak / 1048576)) + ' ' + live.length + ' ' + sink);
  `;
  const { stdout } = await run(process.execPath, ['-e', script]);
  return Number(stdout.split(' ')[0]);
}

describe('heap growing', () => {
  it('sets --heap-growing-percent, or nothing for 0, and refuses nonsense', () => {
    const flags: string[] = [];
    limitHeapGrowing(100, (f) => flags.push(f));
    limitHeapGrowing(0, (f) => flags.push(f));
    expect(flags).toEqual(['--heap-growing-percent=100']);
    expect(() => {
      limitHeapGrowing(-1, () => undefined);
    }).toThrow(RangeError);
    expect(() => {
      limitHeapGrowing(1.5, () => undefined);
    }).toThrow(RangeError);
  });

  it('defaults to 100; 0 means V8 decides; out-of-range values are invalid settings', () => {
    expect(loadConfig({}).pipeline.heapGrowingPercent).toBe(100);
    expect(loadConfig({ PDM_HEAP_GROWING_PERCENT: '0' }).pipeline.heapGrowingPercent).toBe(0);
    expect(() => loadConfig({ PDM_HEAP_GROWING_PERCENT: '-5' })).toThrow(/PDM_HEAP_GROWING_PERCENT/);
    expect(() => loadConfig({ PDM_HEAP_GROWING_PERCENT: 'lots' })).toThrow(/PDM_HEAP_GROWING_PERCENT/);
  });

  it('V8 honours the factor set while running: a smaller heap for the same live data and garbage', async () => {
    const [free, limited] = await Promise.all([peakHeapMb(0), peakHeapMb(10)]);
    // ~40 MB live: growing by 10 % keeps the heap well under V8's own (up to 4×) limit.
    expect(limited).toBeGreaterThan(30);
    expect(limited).toBeLessThan(free * 0.8);
  }, 30_000);
});
