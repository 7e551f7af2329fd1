/** Side topics first (src/pipeline/side-first.ts): telemetry waits only while its sides make progress. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSideFirst, type SideFirst } from '../../../src/pipeline/side-first.js';
import type { TopicPartition } from '../../../src/ingest/index.js';

let clock = 1_000;
const opened: SideFirst[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function setup(stallMs = 500) {
  const calls: string[] = [];
  const fmt = (what: string, tps: readonly TopicPartition[]) =>
    `${what} ${tps.map((t) => `${t.topic}[${t.partition}]`).join(',')}`;
  const s = createSideFirst({
    telemetryTopic: 'tel',
    pause: (tps) => calls.push(fmt('pause', tps)),
    resume: (tps) => calls.push(fmt('resume', tps)),
    stallMs,
    now: () => clock,
  });
  opened.push(s);
  return { s, calls };
}

describe('side-first', () => {
  it('takes telemetry when no side batch was seen, or when every side is at its log end', () => {
    const { s, calls } = setup();
    expect(s.takeTelemetry(0)).toBe(true);
    s.sideBatch(0, 'errors', 10n, 10n);
    s.sideBatch(0, 'maintenance', 5n, 5n);
    expect(s.takeTelemetry(0)).toBe(true);
    expect(calls).toEqual([]);
  });

  it('pauses a telemetry partition while a side partition of its number catches up, resumes at its end', () => {
    const { s, calls } = setup();
    s.sideBatch(1, 'maintenance', 250n, 2_700n);
    expect(s.takeTelemetry(1)).toBe(false);
    expect(s.takeTelemetry(1)).toBe(false); // paused once
    expect(s.takeTelemetry(0)).toBe(true); // other partitions are not held
    s.sideBatch(1, 'maintenance', 2_000n, 2_700n);
    expect(calls).toEqual(['pause tel[1]']);
    s.sideBatch(1, 'maintenance', 2_700n, 2_700n);
    expect(calls).toEqual(['pause tel[1]', 'resume tel[1]']);
    expect(s.takeTelemetry(1)).toBe(true);
  });

  it('does not hold telemetry behind a side partition that stopped making progress', async () => {
    const { s, calls } = setup(40);
    s.sideBatch(2, 'machines', 3n, 9n); // a compacted tail: fetches return nothing for the last offsets
    expect(s.takeTelemetry(2)).toBe(false);
    clock += 41;
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).toEqual(['pause tel[2]', 'resume tel[2]']);
    expect(s.takeTelemetry(2)).toBe(true);
  });

  it('reset() forgets what it saw (a new assignment resumes every partition itself)', () => {
    const { s, calls } = setup();
    s.sideBatch(0, 'errors', 1n, 100n);
    expect(s.takeTelemetry(0)).toBe(false);
    s.reset();
    expect(s.takeTelemetry(0)).toBe(true);
    expect(calls).toEqual(['pause tel[0]']);
  });

  it('sideStart holds telemetry from the first fetch when a side starts behind its log end, not otherwise', async () => {
    const { s, calls } = setup(40);
    s.sideStart(0, 'errors', 0n, 0n); // an empty side: nothing to wait for
    s.sideStart(1, 'errors', 120n, 120n);
    s.sideStart(1, 'maintenance', 7n, 900n);
    expect(calls).toEqual(['pause tel[1]']);
    expect(s.takeTelemetry(0)).toBe(true);
    expect(s.takeTelemetry(1)).toBe(false);
    s.sideBatch(1, 'maintenance', 900n, 900n);
    expect(calls).toEqual(['pause tel[1]', 'resume tel[1]']);
    // Behind, but no side batch comes (a compacted tail): telemetry is released after stallMs.
    s.sideStart(2, 'machines', 3n, 9n);
    clock += 41;
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).toEqual(['pause tel[1]', 'resume tel[1]', 'pause tel[2]', 'resume tel[2]']);
  });
});
