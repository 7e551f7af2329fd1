/** Event builders and engine drivers shared by the feature tests. */
import type { FeatureConfig } from '../../../src/config/index.js';
import {
  createFeatureEngine,
  FEATURE_NAMES,
  type FeatureEngineOptions,
  type FeatureRow,
  type SilentRun,
} from '../../../src/features/index.js';
import { HOUR_MS, type PdmEvent } from '../../../src/shared/records.js';

export const H = HOUR_MS;
export const D = 24 * HOUR_MS;
/** 2015-01-01T00:00:00Z, a multiple of 12 h. */
export const T0 = Date.UTC(2015, 0, 1);

export const RANGES: FeatureConfig['ranges'] = {
  volt: { min: 0, max: 1000 },
  rotate: { min: 0, max: 5000 },
  pressure: { min: 0, max: 1000 },
  vibration: { min: 0, max: 500 },
};

export const CONFIG: FeatureConfig = { bucketMs: 12 * H, allowedLatenessMs: 2 * H, ranges: RANGES };

export function tel(
  machineId: number,
  ts: number,
  volt = 170,
  rotate = 450,
  pressure = 100,
  vibration = 40,
): PdmEvent {
  return { kind: 'telemetry', record: { machineId, ts, volt, rotate, pressure, vibration } };
}
export function err(machineId: number, ts: number, errorId = 'error1'): PdmEvent {
  return { kind: 'errors', record: { machineId, ts, errorId } };
}
export function maint(machineId: number, ts: number, comp = 'comp1'): PdmEvent {
  return { kind: 'maintenance', record: { machineId, ts, comp } };
}
export function meta(machineId: number, model = 'model3', age = 18): PdmEvent {
  return { kind: 'machines', record: { machineId, model, age } };
}
export function fail(machineId: number, ts: number, failure = 'comp2'): PdmEvent {
  return { kind: 'failures', record: { machineId, ts, failure } };
}

/** Value of a named feature in a row. */
export function feat(row: FeatureRow, name: string): number {
  const i = FEATURE_NAMES.indexOf(name);
  if (i < 0) throw new Error(`unknown feature ${name}`);
  return row.values[i] as number;
}

export interface RunResult {
  rows: FeatureRow[];
  silent: SilentRun[];
}

/** Batch semantics: ingest everything, then close by the end-of-input rule. */
export function runBatch(
  events: readonly PdmEvent[],
  options: Partial<FeatureEngineOptions> = {},
): RunResult {
  const engine = createFeatureEngine({ ...CONFIG, sideWatermarkMs: Number.POSITIVE_INFINITY, ...options });
  engine.ingest(events);
  const r = engine.finish();
  return { rows: r.rows, silent: r.silent };
}

export function rowAt(
  rows: readonly FeatureRow[],
  machineId: number,
  bucketMs: number,
): FeatureRow | undefined {
  return rows.find((r) => r.machineId === machineId && r.bucketMs === bucketMs);
}

/** Silent runs expanded to "machineId@bucket" keys. */
export function silentKeys(runs: readonly SilentRun[], bucketMs: number): string[] {
  const keys: string[] = [];
  for (const r of runs)
    for (let b = r.fromBucketMs; b <= r.toBucketMs; b += bucketMs) keys.push(`${r.machineId}@${b}`);
  return keys.sort();
}

/** Rows sorted by (machineId, bucket), for comparing runs whose closing interleaving differs. */
export function sortRows(rows: readonly FeatureRow[]): FeatureRow[] {
  return [...rows].sort((a, b) => a.machineId - b.machineId || a.bucketMs - b.bucketMs);
}

/** Largest violation of |a − b| ≤ tol·max(1, |b|) over two row lists with the same keys (throws otherwise). */
export function maxRowDifference(actual: readonly FeatureRow[], expected: readonly FeatureRow[]): number {
  const a = sortRows(actual);
  const e = sortRows(expected);
  const keysA = a.map((r) => `${r.machineId}@${r.bucketMs}`).join(' ');
  const keysE = e.map((r) => `${r.machineId}@${r.bucketMs}`).join(' ');
  if (keysA !== keysE) throw new Error(`row keys differ:\n  actual   ${keysA}\n  expected ${keysE}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const va = (a[i] as FeatureRow).values;
    const ve = (e[i] as FeatureRow).values;
    for (let j = 0; j < ve.length; j++) {
      const x = va[j] as number;
      const y = ve[j] as number;
      const d = Math.abs(x - y) / Math.max(1, Math.abs(y));
      if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
  }
  return worst;
}
