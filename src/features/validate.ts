/**
 * Input checks of the feature stage. The decoder checks keys and categories for Kafka input, but the batch
 * path (CSV) has no decoder and the physical ranges are a feature setting, so every event is checked here.
 * Checks return `null` for a valid event so that the hot path allocates nothing.
 */
import type { FeatureConfig } from '../config/index.js';
import type { MachineRecord, TelemetryRecord } from '../shared/records.js';
import { COMPONENTS, ERROR_IDS, MODELS } from './spec.js';

/** Position of `value` in `list` (0-based), −1 when absent. */
export function categoryIndex(list: readonly string[], value: string): number {
  for (let i = 0; i < list.length; i++) if (list[i] === value) return i;
  return -1;
}

export function errorIndex(errorId: string): number {
  return categoryIndex(ERROR_IDS, errorId);
}

export function componentIndex(comp: string): number {
  return categoryIndex(COMPONENTS, comp);
}

export function modelIndex(model: string): number {
  return categoryIndex(MODELS, model);
}

function isMachineId(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/**
 * Storable event-time range of spec revision 2, [2000-01-01, 2100-01-01) UTC: a device clock reset to 1970
 * or garbage in `ts` is invalid input, never a reason to move a watermark or write a year-0000 bucket.
 */
export const MIN_EVENT_TS_MS = Date.UTC(2000, 0, 1);
export const END_EVENT_TS_MS = Date.UTC(2100, 0, 1);

/** Largest |ms| a JavaScript Date holds; `new Date(x).toISOString()` throws beyond it. */
const MAX_DATE_MS = 8.64e15;

/** ISO-8601 text of an epoch-ms instant for messages; never throws (absurd values are what we report). */
export function formatInstant(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : 'beyond the JavaScript date range';
}

/**
 * Reason an event time is unusable (not an integer, or outside the storable range), or null. Also what
 * the pipeline applies to Kafka record timestamps it reads (`name` = "record timestamp").
 */
export function checkEventTime(ts: number, name = 'ts'): string | null {
  if (!Number.isSafeInteger(ts)) return `${name} ${String(ts)} is not an epoch-millisecond integer`;
  if (ts < MIN_EVENT_TS_MS || ts >= END_EVENT_TS_MS) {
    return `${name} ${ts} (${formatInstant(ts)}) is outside the storable range [2000-01-01, 2100-01-01)`;
  }
  return null;
}

/** Reason a machineId/ts pair is unusable, or null. */
export function checkKeyAndTime(machineId: number, ts: number): string | null {
  if (!isMachineId(machineId)) return `machineId ${String(machineId)} is not a non-negative integer`;
  return checkEventTime(ts);
}

function checkSensor(name: string, v: number, min: number, max: number): string | null {
  if (!Number.isFinite(v)) return `${name} ${String(v)} is not finite`;
  if (v < min || v > max) return `${name} ${v} is outside the physical range [${min}, ${max}]`;
  return null;
}

export function checkTelemetry(r: TelemetryRecord, ranges: FeatureConfig['ranges']): string | null {
  return (
    checkKeyAndTime(r.machineId, r.ts) ??
    checkSensor('volt', r.volt, ranges.volt.min, ranges.volt.max) ??
    checkSensor('rotate', r.rotate, ranges.rotate.min, ranges.rotate.max) ??
    checkSensor('pressure', r.pressure, ranges.pressure.min, ranges.pressure.max) ??
    checkSensor('vibration', r.vibration, ranges.vibration.min, ranges.vibration.max)
  );
}

export function checkCategory(field: string, value: string, list: readonly string[]): string | null {
  return categoryIndex(list, value) < 0
    ? `${field} ${JSON.stringify(value)} is not one of ${list.join(', ')}`
    : null;
}

export function checkMachine(r: MachineRecord): string | null {
  if (!isMachineId(r.machineId)) return `machineId ${String(r.machineId)} is not a non-negative integer`;
  if (r.tombstone === true) return null;
  if (!Number.isFinite(r.age) || r.age < 0) return `age ${String(r.age)} is not a non-negative number`;
  return checkCategory('model', r.model, MODELS);
}
