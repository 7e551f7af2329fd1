import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../../src/features/index.js';
import { createOnnxScorer, loadModelPackage } from '../../../src/score/index.js';
import { DEFAULT_PACKAGE, maxAbsDiff, readFixtures } from './package-fixtures.js';

describe('committed default model package', () => {
  it('loads and matches the running feature engine', async () => {
    const pkg = await loadModelPackage(DEFAULT_PACKAGE);
    expect(pkg.nFeatures).toBe(FEATURE_COUNT);
    expect(pkg.modelVersion).toBe('pdm-default/1');
    expect(pkg.alertThresholds).toBeDefined();
  });

  it('onnxruntime-node reproduces Python onnxruntime on the fixture rows (max abs diff ≤ 1e-6)', async () => {
    const pkg = await loadModelPackage(DEFAULT_PACKAGE);
    const fx = readFixtures(DEFAULT_PACKAGE);
    expect(fx.modelSha256).toBe(pkg.meta.onnx.sha256);
    expect(fx.rows.length).toBeGreaterThanOrEqual(24);
    const scorer = await createOnnxScorer(pkg.modelPath, {
      inputName: pkg.inputName,
      outputName: pkg.outputName,
      nFeatures: pkg.nFeatures,
      nClasses: pkg.nClasses,
    });
    try {
      const input = Float32Array.from(fx.rows.flat());
      const out = await scorer.score(input, fx.rows.length);
      expect(out).toHaveLength(fx.rows.length * pkg.nClasses);
      expect(maxAbsDiff(out, fx.probabilities)).toBeLessThanOrEqual(1e-6);
    } finally {
      await scorer.close();
    }
  });
});
