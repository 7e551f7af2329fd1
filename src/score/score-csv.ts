import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { PdmError } from '../shared/errors.js';
import { alertClasses } from './decision.js';
import type { ScoreInputRow, ScoredRow } from './types.js';

/**
 * CSV in and out of batch scoring (`pdm-stream score`). Input is the file of `features build`:
 * `machineId,bucketTs,<feature names>[,label]`; columns are matched by name, so only the model's features
 * need to be there. Output: `machineId,bucketTs,p_<class>…,predicted,modelVersion,alert,alertComponents,warmingUp`:
 * `predicted` is the argmax ("most likely"); `alert` the strongest alerting component of the package's
 * decision or `none`, `alertComponents` every alerting component joined by `|` (empty: none), `warmingUp`
 * 1 when the row's windows do not cover its history yet (it never alerts then). The decision columns come
 * last so that readers of the older layout keep working.
 */
export interface FeatureCsvOptions {
  /** Feature names the model takes, in its input order. */
  readonly featureNames: readonly string[];
  /** Rows per yielded chunk. @default 4096 */
  readonly chunkRows?: number;
}

function csvError(path: string, line: number, message: string): PdmError {
  return new PdmError(`${path}:${line}: ${message}`, { code: 'FEATURE_CSV_INVALID', stage: 'score' });
}

/** Maps the model's feature names to column indices of `header`; throws naming every missing column. */
export function featureColumns(
  header: readonly string[],
  featureNames: readonly string[],
  path: string,
): number[] {
  const index = new Map(header.map((h, i) => [h.trim(), i]));
  const missing = ['machineId', 'bucketTs', ...featureNames].filter((n) => !index.has(n));
  if (missing.length > 0) throw csvError(path, 1, `missing columns: ${missing.join(', ')}`);
  return featureNames.map((n) => index.get(n) as number);
}

/** Parses one data line into a row; `line` is 1-based for messages. */
export function parseFeatureLine(
  text: string,
  columns: readonly number[],
  idColumns: readonly [number, number],
  path: string,
  line: number,
): ScoreInputRow {
  const cells = text.split(',');
  const machineId = Number(cells[idColumns[0]]);
  const bucketMs = Number(cells[idColumns[1]]);
  if (!Number.isInteger(machineId) || !Number.isInteger(bucketMs)) {
    throw csvError(path, line, 'machineId and bucketTs must be integers');
  }
  const values = new Float64Array(columns.length);
  for (let f = 0; f < columns.length; f++) {
    const cell = cells[columns[f] as number];
    const v = cell === undefined || cell === '' ? NaN : Number(cell);
    if (!Number.isFinite(v))
      throw csvError(path, line, `column ${(columns[f] as number) + 1} is not a finite number`);
    values[f] = v;
  }
  return { machineId, bucketMs, values };
}

/** Streams a feature file in chunks of rows. */
export async function* readFeatureCsv(
  path: string,
  options: FeatureCsvOptions,
): AsyncGenerator<ScoreInputRow[]> {
  const chunkRows = options.chunkRows ?? 4096;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  let columns: number[] | undefined;
  let ids: [number, number] = [0, 1];
  let chunk: ScoreInputRow[] = [];
  for await (const text of lines) {
    lineNo++;
    if (columns === undefined) {
      const header = text.split(',').map((h) => h.trim());
      columns = featureColumns(header, options.featureNames, path);
      ids = [header.indexOf('machineId'), header.indexOf('bucketTs')];
      continue;
    }
    if (text.trim() === '') continue;
    chunk.push(parseFeatureLine(text, columns, ids, path, lineNo));
    if (chunk.length >= chunkRows) {
      yield chunk;
      chunk = [];
    }
  }
  if (columns === undefined) throw csvError(path, 1, 'empty file (no header)');
  if (chunk.length > 0) yield chunk;
}

export function scoreCsvHeader(classes: readonly string[]): string {
  return (
    [
      'machineId',
      'bucketTs',
      ...classes.map((c) => `p_${c}`),
      'predicted',
      'modelVersion',
      'alert',
      'alertComponents',
      'warmingUp',
    ].join(',') + '\n'
  );
}

/**
 * Shortest decimal that reads back as the same float32: the file stays readable (0.12 rather than
 * 0.11999999731779099) and exact for anyone parsing it back into float32.
 */
export function formatFloat32(x: number): string {
  for (let digits = 1; digits < 9; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

/** Rows in the layout of {@link scoreCsvHeader}; `classes` names the bits of `alertMask`. */
export function formatScoredRows(rows: readonly ScoredRow[], classes: readonly string[]): string {
  let out = '';
  for (const r of rows) {
    out += `${r.machineId},${r.bucketMs}`;
    for (const p of r.probabilities) out += `,${formatFloat32(p)}`;
    const components = r.alertMask === 0 ? '' : alertClasses(r.alertMask, classes).join('|');
    out += `,${r.predictedClass},${r.modelVersion},${r.alertClass},${components},${r.warmingUp ? 1 : 0}\n`;
  }
  return out;
}
