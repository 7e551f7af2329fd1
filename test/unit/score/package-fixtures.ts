import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The committed default package carries fixtures.json, written by train/: feature rows (float32 values) and
 * the probabilities Python onnxruntime gave for them. The TypeScript side must reproduce them.
 */
export const DEFAULT_PACKAGE = path.resolve(import.meta.dirname, '../../../models/pdm-default/1');

export interface Fixtures {
  readonly modelSha256: string;
  readonly rows: number[][];
  readonly probabilities: number[][];
}

export function readFixtures(dir: string): Fixtures {
  return JSON.parse(readFileSync(path.join(dir, 'fixtures.json'), 'utf8')) as Fixtures;
}

/** Largest |a − b| over the fixture probabilities; `got` is row-major `rows × classes`. */
export function maxAbsDiff(got: ArrayLike<number>, expected: readonly (readonly number[])[]): number {
  let max = 0;
  let i = 0;
  for (const row of expected) {
    for (const v of row) max = Math.max(max, Math.abs((got[i++] ?? NaN) - v));
  }
  return Number.isNaN(max) ? Infinity : max;
}
