import { describe, expect, it } from 'vitest';
import { CLASSES, FEATURE_COUNT, FEATURE_NAMES, SPEC_HASH } from '../../../src/features/index.js';
import { ConfigError } from '../../../src/shared/errors.js';
import {
  alertIndex,
  compatibilityProblems,
  validateModelJson,
  type ModelJson,
} from '../../../src/score/index.js';

function modelJson(overrides: Partial<Record<keyof ModelJson, unknown>> = {}): Record<string, unknown> {
  return {
    formatVersion: 1,
    name: 'pdm-test',
    version: '3',
    createdAt: '2026-01-01T00:00:00Z',
    featureSet: 'pdm-v1',
    specHash: SPEC_HASH,
    featureNames: [...FEATURE_NAMES],
    classes: [...CLASSES],
    onnx: {
      file: 'model.onnx',
      sha256: 'a'.repeat(64),
      inputName: 'features',
      inputType: 'float32',
      probabilitiesOutput: 'probabilities',
    },
    alertRule: {
      kind: 'per-class-threshold',
      thresholds: { comp1: 0.3, comp2: 0.4, comp3: 0.5, comp4: 0.6 },
    },
    metrics: { anything: 'kept' },
    ...overrides,
  };
}

function refusal(raw: unknown): ConfigError {
  try {
    validateModelJson(raw, 'models/x/1');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('validateModelJson', () => {
  it('accepts a package of the running feature engine and keeps extra fields', () => {
    const meta = validateModelJson(modelJson(), 'models/x/1');
    expect(meta.featureNames).toHaveLength(FEATURE_COUNT);
    expect((meta as Record<string, unknown>)['metrics']).toEqual({ anything: 'kept' });
  });

  it('refuses another feature-spec hash, naming both hashes', () => {
    const err = refusal(modelJson({ specHash: 'f'.repeat(64) }));
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.stage).toBe('score');
    expect(err.message).toContain(`feature-spec hash: model ${'f'.repeat(64)}, engine ${SPEC_HASH}`);
  });

  it('refuses another feature count, naming the missing and extra features', () => {
    const names = [...FEATURE_NAMES.slice(0, -1), 'vibration_max_24h', 'volt_slope_7d'];
    const err = refusal(modelJson({ featureNames: names }));
    expect(err.message).toContain(`feature count: model ${FEATURE_COUNT + 1}, engine ${FEATURE_COUNT}`);
    expect(err.message).toContain('features only in the model: vibration_max_24h; volt_slope_7d');
    expect(err.message).toContain('features missing from the model: model_model4');
  });

  it('refuses the same features in another order, naming the positions', () => {
    const names = [...FEATURE_NAMES];
    [names[0], names[2]] = [names[2] as string, names[0] as string];
    const err = refusal(modelJson({ featureNames: names }));
    expect(err.message).toContain('feature names/order: #0 model "volt_mean_24h", engine "volt_mean_12h"');
    expect(err.message).toContain('#2 model "volt_mean_12h", engine "volt_mean_24h"');
  });

  it('refuses another class list', () => {
    const err = refusal(modelJson({ classes: ['none', 'comp1', 'comp2'] }));
    expect(err.message).toContain(
      'classes: model [none, comp1, comp2], engine [none, comp1, comp2, comp3, comp4]',
    );
  });

  it('lists every difference at once', () => {
    const err = refusal(
      modelJson({ specHash: '0'.repeat(64), classes: ['none', 'x'], featureSet: 'pdm-v2' }),
    );
    expect(err.message).toMatch(/feature set: model "pdm-v2", engine "pdm-v1".*feature-spec hash.*classes:/);
  });

  it('refuses something that is not a model description', () => {
    const err = refusal({ name: 'x' });
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain('formatVersion');
    expect(refusal(modelJson({ onnx: { file: 'model.onnx', sha256: 'nope' } })).message).toContain(
      'onnx.sha256',
    );
  });

  it('refuses an alert rule that names unknown classes', () => {
    const err = refusal(
      modelJson({ alertRule: { kind: 'per-class-threshold', thresholds: { comp9: 0.5 } } }),
    );
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain('comp9');
  });

  it('compatibilityProblems is empty for a compatible package', () => {
    expect(compatibilityProblems(validateModelJson(modelJson(), 'x'))).toEqual([]);
  });
});

describe('alertIndex', () => {
  const thresholds = Float64Array.from([Infinity, 0.3, 0.4, 0.5, 0.6]);
  it.each([
    { p: [0.9, 0.05, 0.02, 0.02, 0.01], expected: 0, why: 'no component reaches its threshold' },
    { p: [0.5, 0.3, 0.1, 0.05, 0.05], expected: 1, why: 'exactly at the threshold alerts' },
    { p: [0.2, 0.32, 0.48, 0, 0], expected: 2, why: 'largest p / threshold wins (0.48/0.4 > 0.32/0.3)' },
    { p: [0.1, 0, 0, 0.5, 0.6], expected: 3, why: 'ties go to the first class' },
    { p: [0.99, 0, 0, 0, 0], expected: 0, why: 'none is never alerted' },
  ])('$why', ({ p, expected }) => {
    expect(alertIndex(p, thresholds)).toBe(expected);
  });
});
