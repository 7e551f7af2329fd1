import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLASSES, FEATURE_NAMES, SPEC_HASH } from '../../src/features/index.js';
import { createPackageScorer, loadModelPackage } from '../../src/score/index.js';
import { maxAbsDiff, readFixtures } from '../unit/score/package-fixtures.js';

/**
 * CI trains a package on a small simulated fleet (`bash scripts/train.sh --fast --out DIR`) and points
 * PDM_TEST_TRAINED_MODEL_DIR at it: the package must be complete, valid and load in the TypeScript scorer
 * with the same probabilities as Python onnxruntime.
 */
const dir = process.env['PDM_TEST_TRAINED_MODEL_DIR'];
const title =
  dir === undefined || dir === ''
    ? 'freshly trained package (SKIPPED: PDM_TEST_TRAINED_MODEL_DIR is not set; CI sets it after scripts/train.sh --fast)'
    : `freshly trained package in ${dir}`;

if (dir === undefined || dir === '') console.warn(`score-package.test.ts: ${title}`);

describe.skipIf(dir === undefined || dir === '')(title, () => {
  const pkgDir = path.resolve(dir ?? '.');

  it('has every file of a model package', async () => {
    for (const f of ['model.onnx', 'model.json', 'fixtures.json', 'report.md']) {
      expect((await stat(path.join(pkgDir, f))).size, f).toBeGreaterThan(0);
    }
    for (const f of ['confusion_matrix.png', 'lead_time_histogram.png']) {
      const head = (await readFile(path.join(pkgDir, f))).subarray(0, 8);
      expect(head.toString('hex'), f).toBe('89504e470d0a1a0a');
    }
  });

  it('describes itself: spec, ranges in time order, metrics, alert rule, library versions', async () => {
    const pkg = await loadModelPackage(pkgDir);
    const m = pkg.meta as unknown as Record<string, unknown> & {
      ranges: Record<'train' | 'validation' | 'test', { startMs: number; endMs: number; rows: number }>;
      metrics: { test: { leadTime: { failures: number; recall: number } } };
      libraries: Record<string, string>;
    };
    expect(m.specHash).toBe(SPEC_HASH);
    expect(m.featureNames).toEqual(FEATURE_NAMES);
    expect(m.classes).toEqual(CLASSES);
    expect(m.ranges.train.endMs).toBeLessThan(m.ranges.validation.startMs);
    expect(m.ranges.validation.endMs).toBeLessThan(m.ranges.test.startMs);
    for (const r of Object.values(m.ranges)) expect(r.rows).toBeGreaterThan(0);
    expect(m.metrics.test.leadTime.failures).toBeGreaterThan(0);
    expect(m.metrics.test.leadTime.recall).toBeGreaterThanOrEqual(0);
    expect(Object.keys(m.libraries)).toEqual(
      expect.arrayContaining(['scikit-learn', 'skl2onnx', 'onnxruntime']),
    );
    expect(pkg.alertThresholds).toHaveLength(CLASSES.length);
    expect(Number.isNaN(Date.parse(String(m.createdAt)))).toBe(false);
  });

  it('loads in the worker scorer and reproduces its fixtures (max abs diff ≤ 1e-6)', async () => {
    const pkg = await loadModelPackage(pkgDir);
    const fx = readFixtures(pkgDir);
    const scorer = await createPackageScorer(pkg);
    try {
      const out = await scorer.score(Float32Array.from(fx.rows.flat()), fx.rows.length);
      expect(maxAbsDiff(out, fx.probabilities)).toBeLessThanOrEqual(1e-6);
    } finally {
      await scorer.close();
    }
  });
});
