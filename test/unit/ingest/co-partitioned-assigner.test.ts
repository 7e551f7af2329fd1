import { describe, expect, it } from 'vitest';
import { assignCoPartitioned } from '../../../src/ingest/index.js';

describe('co-partitioned assignment', () => {
  const topics = new Map([
    ['t', [0, 1, 2, 3]],
    ['e', [0, 1, 2, 3]],
    ['m', [0, 1, 2, 3]],
  ]);

  it('gives partition p of every topic to the same member', () => {
    const plan = assignCoPartitioned(['b', 'a', 'c'], topics);
    for (const [, a] of plan) {
      const sets = Object.values(a).map((ps) => JSON.stringify(ps));
      expect(new Set(sets).size).toBeLessThanOrEqual(1);
    }
    const all = [...plan.values()].flatMap((a) => a['t'] ?? []).sort();
    expect(all).toEqual([0, 1, 2, 3]);
    expect(plan.get('a')).toEqual({ t: [0, 3], e: [0, 3], m: [0, 3] });
  });

  it('is deterministic whatever order members arrive in', () => {
    expect(assignCoPartitioned(['x', 'y'], topics)).toEqual(assignCoPartitioned(['y', 'x'], topics));
  });

  it('leaves extra members empty', () => {
    const plan = assignCoPartitioned(['a', 'b', 'c', 'd', 'e'], new Map([['t', [0, 1]]]));
    expect([...plan.values()].filter((a) => Object.keys(a).length === 0)).toHaveLength(3);
  });
});
