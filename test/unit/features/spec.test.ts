import { describe, expect, it } from 'vitest';
import {
  CLASSES,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SET,
  SPEC_HASH,
  specHash,
} from '../../../src/features/index.js';

describe('pdm-v1 names, order and spec hash', () => {
  it.each([
    { index: 0, name: 'volt_mean_12h' },
    { index: 1, name: 'volt_std_12h' },
    { index: 5, name: 'volt_std_36h' },
    { index: 6, name: 'rotate_mean_12h' },
    { index: 23, name: 'vibration_std_36h' },
    { index: 24, name: 'error1_count_24h' },
    { index: 28, name: 'error5_count_24h' },
    { index: 29, name: 'comp1_days_since_replacement' },
    { index: 32, name: 'comp4_days_since_replacement' },
    { index: 33, name: 'age' },
    { index: 34, name: 'model_model1' },
    { index: 37, name: 'model_model4' },
  ])('feature $index is $name', ({ index, name }) => {
    expect(FEATURE_NAMES[index]).toBe(name);
  });

  it('has 38 distinct features and 5 classes', () => {
    expect(FEATURE_COUNT).toBe(38);
    expect(new Set(FEATURE_NAMES).size).toBe(38);
    expect(CLASSES).toEqual(['none', 'comp1', 'comp2', 'comp3', 'comp4']);
    expect(FEATURE_SET).toBe('pdm-v1');
  });

  it('pins the hash: a change here means a new feature-set version and new model packages', () => {
    expect(SPEC_HASH).toBe('39fac97855790903deacf7ceb018a1f2c1bfa3bfe62b16e0981924bc7e7a12e1');
    expect(specHash(FEATURE_NAMES, CLASSES)).toBe(SPEC_HASH);
  });

  it('changes when the feature order or the class list changes', () => {
    const swapped = [...FEATURE_NAMES];
    [swapped[0], swapped[1]] = [swapped[1] as string, swapped[0] as string];
    expect(specHash(swapped, CLASSES)).not.toBe(SPEC_HASH);
    expect(specHash(FEATURE_NAMES, [...CLASSES].reverse())).not.toBe(SPEC_HASH);
    expect(specHash(FEATURE_NAMES.slice(0, 37), CLASSES)).not.toBe(SPEC_HASH);
  });
});
