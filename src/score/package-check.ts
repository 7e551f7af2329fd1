import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../shared/errors.js';
import type { ScoreInputRow, ScoredRow } from './types.js';

/**
 * The smoke run a package passes before the engine switches to it: fixture feature rows (written by train/
 * next to every package, `fixtures.json`) scored by the new session must give, for every row, one finite
 * probability in [0, 1] per class, summing to 1. A model exported with the wrong output (logits, labels) or
 * a session that does not load fails here, before it writes a single prediction.
 */
export const FIXTURES_FILE = 'fixtures.json';

/** Largest accepted |Σp − 1| (float32 probabilities of 5 classes). */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** The feature rows of `dir/fixtures.json`; empty when the package has none or they cannot be read. */
export async function readFixtureRows(dir: string): Promise<{ rows: ScoreInputRow[]; problem?: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, FIXTURES_FILE), 'utf8'));
  } catch (err) {
    return { rows: [], problem: `${FIXTURES_FILE}: ${errorMessage(err)}` };
  }
  const rows = (raw as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) return { rows: [], problem: `${FIXTURES_FILE} has no rows` };
  const out: ScoreInputRow[] = [];
  for (const r of rows) {
    if (!Array.isArray(r) || !r.every((v) => typeof v === 'number')) {
      return { rows: [], problem: `${FIXTURES_FILE}: a row is not an array of numbers` };
    }
    out.push({ machineId: 0, bucketMs: 0, values: r });
  }
  return { rows: out };
}

/** What is wrong with a smoke run's results; undefined when every row is a probability distribution. */
export function smokeProblem(
  scored: readonly ScoredRow[],
  nRows: number,
  nClasses: number,
): string | undefined {
  if (scored.length !== nRows) return `${scored.length} results for ${nRows} fixture rows`;
  for (let r = 0; r < scored.length; r++) {
    const p = (scored[r] as ScoredRow).probabilities;
    if (p.length !== nClasses) return `fixture row ${r}: ${p.length} probabilities, expected ${nClasses}`;
    let sum = 0;
    for (let k = 0; k < p.length; k++) {
      const v = p[k] as number;
      if (!Number.isFinite(v) || v < 0 || v > 1) return `fixture row ${r}: probability ${k} is ${v}`;
      sum += v;
    }
    if (!(Math.abs(sum - 1) <= PROBABILITY_SUM_TOLERANCE)) {
      return `fixture row ${r}: probabilities sum to ${sum}`;
    }
  }
  return undefined;
}
