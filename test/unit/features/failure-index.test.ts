/**
 * Issue 13, item 1: the failures that label a training set read from Kafka, with the test and the label rule
 * of `features build --labels` (labelFailureProblem, labelFor).
 */
import { describe, expect, it } from 'vitest';
import {
  createFailureIndex,
  labelFailureProblem,
  labelWindowComplete,
  LABEL_HORIZON_MS,
} from '../../../src/features/index.js';
import { D, H, T0 } from './helpers.js';

const f = (machineId: number, ts: number, failure: string) => ({ machineId, ts, failure });
const LIMIT = T0 + 100 * D;

describe('labelFailureProblem', () => {
  it.each([
    { name: 'a valid failure', r: f(1, T0, 'comp1'), kind: null },
    { name: 'unknown component', r: f(1, T0, 'comp9'), kind: 'INVALID_VALUE' },
    { name: 'negative machine id', r: f(-1, T0, 'comp1'), kind: 'INVALID_VALUE' },
    { name: 'before 2000', r: f(1, Date.UTC(1999, 11, 31), 'comp1'), kind: 'INVALID_VALUE' },
    { name: 'at the future limit', r: f(1, LIMIT, 'comp2'), kind: null },
    { name: 'after the future limit', r: f(1, LIMIT + 1, 'comp2'), kind: 'FUTURE_EVENT' },
  ])('$name → $kind', ({ r, kind }) => {
    expect(labelFailureProblem(r, LIMIT)?.kind ?? null).toBe(kind);
  });
});

describe('labelWindowComplete: (B, B + 7 d] at or before the known horizon', () => {
  it.each([
    [T0, T0 + LABEL_HORIZON_MS, true],
    [T0, T0 + LABEL_HORIZON_MS - 1, false],
    [T0, T0 + LABEL_HORIZON_MS + 12 * H, true],
    [T0, Number.NEGATIVE_INFINITY, false],
  ])('B %i, known up to %i → %s', (b, until, complete) => {
    expect(labelWindowComplete(b, until)).toBe(complete);
  });
});

describe('createFailureIndex', () => {
  it('counts invalid, future and duplicate failures, keeps each failure once, labels with labelFor', () => {
    const index = createFailureIndex(LIMIT);
    const outcomes = [
      f(1, T0 + 3 * D, 'comp3'),
      f(1, T0 + 3 * D, 'comp3'), // resent
      f(1, T0 + 3 * D, 'comp1'), // simultaneous, lower component
      f(2, T0 + D, 'comp9'),
      f(2, LIMIT + H, 'comp2'),
      f(3, T0 + 20 * D, 'comp4'),
    ].map((r) => index.add(r));
    expect(outcomes).toEqual(['used', 'duplicate', 'used', 'INVALID_VALUE', 'FUTURE_EVENT', 'used']);
    expect(index.counts).toEqual({ used: 3, invalid: 1, future: 1, duplicates: 1 });
    expect(index.machines()).toBe(2);
    expect(index.labelOf(1, T0)).toBe(1);
    expect(index.labelOf(1, T0 + 3 * D)).toBe(0);
    expect(index.labelOf(2, T0)).toBe(0);
    expect(index.labelOf(3, T0 + 13 * D)).toBe(4);
    expect(index.labelOf(3, T0 + 13 * D - 1)).toBe(0);
    expect(index.failures()).toEqual([
      f(1, T0 + 3 * D, 'comp1'),
      f(1, T0 + 3 * D, 'comp3'),
      f(3, T0 + 20 * D, 'comp4'),
    ]);
  });
});
