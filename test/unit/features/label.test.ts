import { describe, expect, it } from 'vitest';
import { labelFor, LABEL_HORIZON_MS } from '../../../src/features/index.js';
import { D, H, T0 } from './helpers.js';

const B = T0 + 36 * H;
const f = (ts: number, failure: string): { ts: number; failure: string } => ({ ts, failure });

describe('labelFor: earliest failure in (B, B + 7 d]', () => {
  it.each([
    { name: 'no failures', failures: [], label: 0 },
    { name: 'failure at B (excluded: it is the past of B)', failures: [f(B, 'comp2')], label: 0 },
    { name: 'failure at B + 1 ms', failures: [f(B + 1, 'comp2')], label: 2 },
    { name: 'failure at exactly B + 7 d', failures: [f(B + 7 * D, 'comp4')], label: 4 },
    { name: 'failure at B + 7 d + 1 ms', failures: [f(B + 7 * D + 1, 'comp4')], label: 0 },
    { name: 'failure before B', failures: [f(B - H, 'comp1')], label: 0 },
    { name: 'earliest of several wins', failures: [f(B + 3 * D, 'comp1'), f(B + D, 'comp3')], label: 3 },
    {
      name: 'earliest wins whatever the order',
      failures: [f(B + D, 'comp3'), f(B + 3 * D, 'comp1')],
      label: 3,
    },
    {
      name: 'simultaneous failures: lowest component',
      failures: [f(B + D, 'comp4'), f(B + D, 'comp2')],
      label: 2,
    },
    { name: 'unknown component is skipped', failures: [f(B + D, 'comp9'), f(B + 2 * D, 'comp1')], label: 1 },
  ])('$name → $label', ({ failures, label }) => {
    expect(labelFor(failures, B)).toBe(label);
  });

  it('horizon is 7 days', () => {
    expect(LABEL_HORIZON_MS).toBe(7 * D);
  });
});
