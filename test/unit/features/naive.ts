/**
 * A deliberately naive pdm-v1 implementation, written straight from ../shared/FEATURES.md: it keeps every
 * raw event and recomputes each window with a two-pass mean/std. The property tests compare the
 * incremental engine against it. It shares nothing with src/features except the names and constants.
 */
import type { FeatureConfig } from '../../../src/config/index.js';
import {
  COMPONENTS,
  ERROR_IDS,
  FEATURE_COUNT,
  MODELS,
  SENSORS,
  WINDOW_HOURS,
} from '../../../src/features/index.js';
import type { FeatureRow } from '../../../src/features/index.js';
import { DAY_MS, HOUR_MS, type PdmEvent, type TelemetryRecord } from '../../../src/shared/records.js';

export interface NaiveResult {
  rows: FeatureRow[];
  /** "machineId@bucket" of silent buckets, sorted. */
  silent: string[];
}

/** Storable event times (spec revision 2): [2000-01-01, 2100-01-01) UTC, and not in the future. */
function validTime(machineId: number, ts: number, latestMs: number): boolean {
  return (
    Number.isInteger(machineId) &&
    machineId >= 0 &&
    Number.isSafeInteger(ts) &&
    ts >= Date.UTC(2000, 0, 1) &&
    ts < Date.UTC(2100, 0, 1) &&
    ts <= latestMs
  );
}

function validTelemetry(r: TelemetryRecord, ranges: FeatureConfig['ranges'], latestMs: number): boolean {
  if (!validTime(r.machineId, r.ts, latestMs)) return false;
  return SENSORS.every((s) => Number.isFinite(r[s]) && r[s] >= ranges[s].min && r[s] <= ranges[s].max);
}

/**
 * `clockMs`: the processing clock; events later than it plus `cfg.futureSkewMs` (default 1 h) are not used.
 * Duplicates (same machine, ts and code) count once; a tombstone deletes the metadata.
 */
export function naiveFeatures(
  events: readonly PdmEvent[],
  cfg: FeatureConfig,
  clockMs = Number.POSITIVE_INFINITY,
): NaiveResult {
  const { bucketMs, allowedLatenessMs, ranges } = cfg;
  const latestMs = clockMs + (cfg.futureSkewMs ?? HOUR_MS);
  const telemetry = new Map<number, TelemetryRecord[]>();
  const seen = new Set<string>();
  const errors: { machineId: number; ts: number; errorId: string }[] = [];
  const maint: { machineId: number; ts: number; comp: string }[] = [];
  const metadata = new Map<number, { model: string; age: number }>();
  for (const e of events) {
    if (e.kind === 'telemetry') {
      const r = e.record;
      if (!validTelemetry(r, ranges, latestMs)) continue;
      const key = `${r.machineId}@${r.ts}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const list = telemetry.get(r.machineId) ?? [];
      list.push(r);
      telemetry.set(r.machineId, list);
    } else if (e.kind === 'errors') {
      const r = e.record;
      const key = `e${r.machineId}@${r.ts}@${r.errorId}`;
      if (!validTime(r.machineId, r.ts, latestMs) || seen.has(key)) continue;
      seen.add(key);
      if ((ERROR_IDS as readonly string[]).includes(r.errorId)) errors.push(r);
    } else if (e.kind === 'maintenance') {
      const r = e.record;
      const key = `m${r.machineId}@${r.ts}@${r.comp}`;
      if (!validTime(r.machineId, r.ts, latestMs) || seen.has(key)) continue;
      seen.add(key);
      if ((COMPONENTS as readonly string[]).includes(r.comp)) maint.push(r);
    } else if (e.kind === 'machines') {
      const r = e.record;
      if (r.tombstone === true) metadata.delete(r.machineId);
      else if ((MODELS as readonly string[]).includes(r.model) && r.age >= 0) metadata.set(r.machineId, r);
    }
  }
  const rows: FeatureRow[] = [];
  const silent: string[] = [];
  for (const machineId of [...telemetry.keys()].sort((a, b) => a - b)) {
    const tel = telemetry.get(machineId) ?? [];
    const minTs = Math.min(...tel.map((r) => r.ts));
    const maxTs = Math.max(...tel.map((r) => r.ts));
    const first = Math.ceil(minTs / bucketMs) * bucketMs;
    const last = Math.floor((maxTs - allowedLatenessMs) / bucketMs) * bucketMs;
    for (let B = first; B <= last; B += bucketMs) {
      const inWindow = (ts: number, w: number): boolean => ts > B - w && ts <= B;
      if (!tel.some((r) => inWindow(r.ts, 12 * HOUR_MS))) {
        silent.push(`${machineId}@${B}`);
        continue;
      }
      const values: number[] = [];
      for (const s of SENSORS) {
        for (const wh of WINDOW_HOURS) {
          const xs = tel.filter((r) => inWindow(r.ts, wh * HOUR_MS)).map((r) => r[s]);
          const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
          const ss = xs.reduce((a, x) => a + (x - mean) * (x - mean), 0);
          values.push(mean, xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0);
        }
      }
      for (const id of ERROR_IDS) {
        values.push(
          errors.filter((x) => x.machineId === machineId && x.errorId === id && inWindow(x.ts, DAY_MS))
            .length,
        );
      }
      for (const c of COMPONENTS) {
        const ts = maint
          .filter((x) => x.machineId === machineId && x.comp === c && x.ts <= B)
          .map((x) => x.ts);
        values.push(ts.length === 0 ? 365 : Math.min(365, (B - Math.max(...ts)) / DAY_MS));
      }
      const m = metadata.get(machineId);
      values.push(m === undefined ? -1 : m.age);
      for (const model of MODELS) values.push(m?.model === model ? 1 : 0);
      if (values.length !== FEATURE_COUNT) throw new Error('naive layout broken');
      rows.push({ machineId, bucketMs: B, values: Float64Array.from(values) });
    }
  }
  return { rows, silent: silent.sort() };
}
