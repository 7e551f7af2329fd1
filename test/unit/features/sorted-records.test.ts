import { describe, expect, it } from 'vitest';
import {
  createByteAccount,
  createSortedRecords,
  dropFront,
  findKey,
  insertSorted,
  keyAt,
  lowerBound,
  upperBound,
} from '../../../src/features/sorted-records.js';

function keys(buf: ReturnType<typeof createSortedRecords>): number[] {
  return Array.from({ length: buf.len }, (_, i) => keyAt(buf, i));
}

describe('SortedRecords', () => {
  it('keeps keys sorted whatever the insertion order and carries the payload along', () => {
    const buf = createSortedRecords(2, 2, createByteAccount());
    for (const k of [5, 1, 9, 3, 7, 3]) {
      // insertSorted may reallocate: read buf.data after it.
      const off = insertSorted(buf, k);
      buf.data[off + 1] = k * 10;
    }
    expect(keys(buf)).toEqual([1, 3, 3, 5, 7, 9]);
    expect(Array.from({ length: buf.len }, (_, i) => buf.data[2 * i + 1])).toEqual([10, 30, 30, 50, 70, 90]);
  });

  it.each([
    { key: 0, lower: 0, upper: 0, found: -1 },
    { key: 3, lower: 1, upper: 3, found: 1 },
    { key: 4, lower: 3, upper: 3, found: -1 },
    { key: 9, lower: 4, upper: 5, found: 4 },
    { key: 10, lower: 5, upper: 5, found: -1 },
  ])('bounds of $key', ({ key, lower, upper, found }) => {
    const buf = createSortedRecords(1, 8, createByteAccount());
    for (const k of [1, 3, 3, 5, 9]) insertSorted(buf, k);
    expect(lowerBound(buf, key)).toBe(lower);
    expect(upperBound(buf, key)).toBe(upper);
    const i = findKey(buf, key);
    expect(i === -1 ? -1 : keyAt(buf, i)).toBe(found === -1 ? -1 : key);
  });

  it('drops a prefix and shrinks back after a burst', () => {
    const buf = createSortedRecords(1, 4, createByteAccount());
    for (let k = 0; k < 1000; k++) insertSorted(buf, k);
    expect(buf.data.length).toBeGreaterThanOrEqual(1000);
    dropFront(buf, 998);
    expect(keys(buf)).toEqual([998, 999]);
    expect(buf.data.length).toBeLessThanOrEqual(8);
    dropFront(buf, 5);
    expect(buf.len).toBe(0);
  });

  it('keeps its array through cycles that fill and empty it, and shrinks back after a burst', () => {
    // A backlog: each batch adds about a hundred readings of a machine, each close keeps a few.
    const buf = createSortedRecords(1, 16, createByteAccount());
    let key = 0;
    const cycle = (adds: number, keepLast: number) => {
      for (let k = 0; k < adds; k++) insertSorted(buf, key++);
      dropFront(buf, buf.len - keepLast);
    };
    cycle(100, 8);
    cycle(100, 8);
    const steady = buf.data;
    for (let c = 0; c < 50; c++) cycle(100 + (c % 7), c % 9);
    expect(buf.data).toBe(steady);
    expect(buf.data.length).toBeLessThanOrEqual(256);
    // A burst: shrunk back at its drop to the room the cycles before it needed.
    for (let k = 0; k < 5000; k++) insertSorted(buf, key++);
    expect(buf.data.length).toBeGreaterThanOrEqual(5000);
    dropFront(buf, buf.len - 8);
    expect(buf.data.length).toBeLessThanOrEqual(256);
    for (let c = 0; c < 6; c++) cycle(100, 8);
    expect(buf.data.length).toBeLessThanOrEqual(256);
    expect(keys(buf)).toEqual(Array.from({ length: 8 }, (_, i) => key - 8 + i));
  });
});

describe('ByteAccount', () => {
  it('tracks allocated bytes through growth and shrinking', () => {
    const account = createByteAccount();
    const a = createSortedRecords(2, 4, account);
    const b = createSortedRecords(1, 8, account);
    expect(account).toEqual({ bytes: 2 * 4 * 8 + 8 * 8, arrays: 2 });
    for (let k = 0; k < 100; k++) insertSorted(a, k);
    expect(account.bytes).toBe(a.data.byteLength + b.data.byteLength);
    dropFront(a, 99);
    expect(account.bytes).toBe(a.data.byteLength + b.data.byteLength);
    expect(a.data.byteLength).toBe(2 * 4 * 8);
  });
});
