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

/** Reason a machineId/ts pair is unusable, or null. */
export function checkKeyAndTime(machineId: number, ts: number): string | null {
  if (!isMachineId(machineId)) return `machineId ${String(machineId)} is not a non-negative integer`;
  if (!Number.isSafeInteger(ts)) return `ts ${String(ts)} is not an epoch-millisecond integer`;
  return null;
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
  if (!Number.isFinite(r.age) || r.age < 0) return `age ${String(r.age)} is not a non-negative number`;
  return checkCategory('model', r.model, MODELS);
}
