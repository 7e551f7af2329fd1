/**
 * Scoring throughput: raw onnxruntime-node (session.run on the calling thread) against the engine's scorer
 * (micro-batcher → worker thread → onnxruntime) at batch sizes 1, 64, 512, 4096. Prints one JSON document.
 *
 *   npx tsx bench/score.ts [--model DIR] [--seconds 0.8] [--repeats 3]
 *
 * Each measurement runs whole batches for about `--seconds` (bounded, 2 shared cores) after a warm-up;
 * every measurement is repeated `--repeats` times, interleaved, and reported as median, min and max.
 * `scorer` submits all rows of the measurement at once with maxRows = batch size, so runs follow each other
 * through the worker as in the engine under load; `workerDirect` calls the worker scorer batch by batch
 * (one round trip per batch, no batcher) to separate thread-hop cost from batching cost.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  createMicroBatcher,
  createPackageScorer,
  decisionRule,
  loadModelPackage,
  type ModelPackage,
  type ScoreInputRow,
} from '../src/score/index.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/pdm-default/1' },
    seconds: { type: 'string', default: '0.8' },
    repeats: { type: 'string', default: '3' },
  },
});
const budgetMs = Number(args.seconds) * 1000;
const REPEATS = Number(args.repeats);
const BATCH_SIZES = [1, 64, 512, 4096] as const;

function featureRows(pkg: ModelPackage, n: number): ScoreInputRow[] {
  let s = 2024;
  return Array.from({ length: n }, (_, i) => {
    const values = new Float64Array(pkg.nFeatures);
    for (let f = 0; f < values.length; f++) {
      s = (s * 1103515245 + 12345) >>> 0;
      values[f] = (s / 2 ** 32) * 200;
    }
    return { machineId: i, bucketMs: 0, values };
  });
}

function packed(rows: readonly ScoreInputRow[], nFeatures: number): Float32Array {
  const out = new Float32Array(rows.length * nFeatures);
  rows.forEach((r, i) => {
    out.set(r.values, i * nFeatures);
  });
  return out;
}

/** Repeats `once` (which scores `rowsPerCall` rows) until the time budget is spent; rows/s. */
async function measure(
  rowsPerCall: number,
  once: () => Promise<unknown>,
): Promise<{ rowsPerS: number; calls: number }> {
  for (let i = 0; i < 3; i++) await once();
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) {
    await once();
    calls++;
  }
  const ms = performance.now() - t0;
  return { rowsPerS: Math.round((calls * rowsPerCall * 1000) / ms), calls };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const pkg = await loadModelPackage(args.model);
const raw = await createPackageScorer(pkg, { inThread: true });
const worker = await createPackageScorer(pkg);
// The batchers share the worker; their close() must not close it.
const shared = {
  score: (rows: Float32Array, n: number) => worker.score(rows, n),
  close: () => Promise.resolve(),
};
const samples = new Map<string, number[]>();
const add = (key: string, v: number): void => {
  samples.set(key, [...(samples.get(key) ?? []), v]);
};
// Methods and sizes are interleaved and repeated: the machine is shared, and load drifts over a run.
for (let rep = 0; rep < REPEATS; rep++) {
  for (const b of BATCH_SIZES) {
    const input = packed(featureRows(pkg, b), pkg.nFeatures);
    // The raw session keeps the caller's buffer (no transfer), so one input is reused.
    add(`raw/${b}`, (await measure(b, () => raw.score(input, b))).rowsPerS);
    // The worker scorer detaches what it is given: a fresh copy per call, as the batcher produces.
    add(`direct/${b}`, (await measure(b, () => worker.score(input.slice(), b))).rowsPerS);
    // Whole path: enough rows for ~16 runs of size b per submission (at least 1024 rows).
    const perSubmit = Math.max(b * 16, 1024);
    const many = featureRows(pkg, perSubmit);
    const batcher = createMicroBatcher({
      scorer: shared,
      maxRows: b,
      maxWaitMs: 0,
      nFeatures: pkg.nFeatures,
      classes: pkg.classes,
      modelVersion: pkg.modelVersion,
      decision: decisionRule(pkg),
    });
    add(`scorer/${b}`, (await measure(perSubmit, () => batcher.submit(many))).rowsPerS);
    await batcher.close();
  }
}
await raw.close();
await worker.close();
const stat = (key: string) => {
  const xs = samples.get(key) ?? [];
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
};
const results = BATCH_SIZES.map((b) => {
  const r = stat(`raw/${b}`);
  const s = stat(`scorer/${b}`);
  return {
    batchRows: b,
    rawOnnxruntimeRowsPerS: r,
    workerDirectRowsPerS: stat(`direct/${b}`),
    scorerRowsPerS: s,
    scorerVsRawMedian: Number((s.median / r.median).toFixed(3)),
  };
});
console.log(
  JSON.stringify(
    {
      bench: 'score',
      model: pkg.modelVersion,
      algorithm: (pkg.meta as { algorithm?: { chosen?: string } }).algorithm?.chosen,
      onnxBytes: (pkg.meta.onnx as { bytes?: number }).bytes,
      node: process.version,
      cpus: os.cpus().length,
      loadAverage1m: Number(os.loadavg()[0]?.toFixed(2)),
      secondsPerMeasurement: budgetMs / 1000,
      repeats: REPEATS,
      results,
    },
    null,
    2,
  ),
);
