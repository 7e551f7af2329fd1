import { describe, expect, it } from 'vitest';
import { createMachineTable, DENSE_LIMIT } from '../../../src/features/machine-table.js';

describe('MachineTable', () => {
  it.each([
    { name: 'dense ids in order', ids: [0, 1, 2, 3] },
    { name: 'dense ids out of order', ids: [50, 3, 1000, 7] },
    { name: 'ids beyond the dense limit', ids: [DENSE_LIMIT, DENSE_LIMIT * 4 + 1, 2 ** 31 - 1, 5] },
  ])('$name: finds what was set, nothing else, counts once per id', ({ ids }) => {
    const table = createMachineTable<string>();
    for (const id of ids) table.set(id, `m${id}`);
    for (const id of ids) table.set(id, `m${id}`);
    for (const id of ids) expect(table.get(id)).toBe(`m${id}`);
    for (const absent of [4, 999, DENSE_LIMIT + 1]) expect(table.get(absent)).toBeUndefined();
    expect(table.size).toBe(ids.length);
  });
});
