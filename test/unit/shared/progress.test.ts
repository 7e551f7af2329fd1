import { describe, expect, it } from 'vitest';
import { createProgress, groupDigits } from '../../../src/shared/progress.js';

function fakeStream(
  isTTY: boolean,
  columns?: number,
): { writes: string[]; isTTY: boolean; columns?: number; write(t: string): boolean } {
  const writes: string[] = [];
  return {
    writes,
    isTTY,
    ...(columns !== undefined ? { columns } : {}),
    write: (t: string) => writes.push(t) > 0,
  };
}

describe('createProgress', () => {
  it('writes plain lines at most once per interval when not a terminal, and always the final one', () => {
    let t = 1_000;
    const stream = fakeStream(false);
    const p = createProgress({ label: 'simulate', stream, now: () => t, intervalMs: 5_000 });
    t = 2_000;
    p.update({ done: 100, fraction: 0.1 });
    t = 3_000;
    p.update({ done: 200, fraction: 0.2 });
    t = 7_000;
    p.update({ done: 600, fraction: 0.6, detail: 'at 2026-01-03' });
    t = 11_000;
    p.finish({ done: 1_000, fraction: 1 });
    p.update({ done: 2_000 });
    expect(stream.writes).toEqual([
      'simulate:  10.0%  100 records  100/s  0:01  eta 0:09\n',
      'simulate:  60.0%  600 records  100/s  0:06  eta 0:04  at 2026-01-03\n',
      'simulate: 100.0%  1,000 records  100/s  0:10\n',
    ]);
  });

  it('redraws a bar in place on a terminal and ends the line on finish', () => {
    let t = 0;
    const stream = fakeStream(true);
    const p = createProgress({ label: 'import', stream, now: () => t, unit: 'rows' });
    t = 500;
    p.update({ done: 50, fraction: 0.5 });
    t = 1_000;
    p.finish({ done: 100, fraction: 1 });
    expect(stream.writes).toHaveLength(2);
    expect(stream.writes[0]).toBe(
      '\rimport: [############------------]   50.0%  50 rows  100/s  0:01  eta 0:01\x1b[K',
    );
    expect(stream.writes[1]).toBe(`\rimport: [${'#'.repeat(24)}]  100.0%  100 rows  100/s  0:01\x1b[K\n`);
  });

  it('cuts the bar to the terminal width', () => {
    const stream = fakeStream(true, 20);
    const p = createProgress({ label: 'simulate', stream, now: () => 0 });
    p.finish({ done: 1, fraction: 1 });
    expect(stream.writes[0]).toBe('\rsimulate: [########\x1b[K\n');
  });

  it('works without a known total', () => {
    const stream = fakeStream(false);
    const p = createProgress({ label: 'x', stream, now: () => 2_000 });
    p.finish({ done: 1_234_567 });
    expect(stream.writes[0]).toBe('x: 1,234,567 records  0/s  0:00\n');
  });
});

describe('groupDigits', () => {
  it('groups thousands without depending on the locale', () => {
    expect([0, 999, 1000, 1234567.4].map(groupDigits)).toEqual(['0', '999', '1,000', '1,234,567']);
  });
});
