/**
 * Pure window math of pdm-v1: bucket/slot geometry and numerically stable running moments.
 *
 * Telemetry is pre-aggregated per slot (count, mean, M2 per sensor; Welford) and slots are merged per window
 * with Chan's parallel formula. Every window edge (B − W, with W ∈ 12/24/36 h) and every bucket instant is a
 * multiple of the slot length, so the slots of a window are exactly its events: the aggregation is exact,
 * only the floating-point order of additions differs from a two-pass computation (≪ 1e-9 relative).
 */
import { ConfigError } from '../shared/errors.js';
import { HOUR_MS } from '../shared/records.js';
import { ERROR_WINDOW_HOURS, WINDOW_HOURS } from './spec.js';

/** Number of sensors in a telemetry record (volt, rotate, pressure, vibration). */
export const SENSOR_COUNT = 4;

/** A slot record: [slotIndex, n, mean0, m2_0, mean1, m2_1, mean2, m2_2, mean3, m2_3]. */
export const SLOT_STRIDE = 2 + 2 * SENSOR_COUNT;

/** Smallest accepted slot: keeps a 36 h window at ≤ 4,320 slots per machine. */
export const MIN_SLOT_MS = 30_000;

const TWELVE_HOURS_MS = 12 * HOUR_MS;

export interface WindowGeometry {
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /** gcd(bucketMs, 12 h): every bucket instant and every window edge is a multiple of it. */
  readonly slotMs: number;
  /** Window lengths in slots, in WINDOW_HOURS order (12, 24, 36 h). */
  readonly windowSlots: readonly [number, number, number];
  /** Longest telemetry window in slots. */
  readonly maxWindowSlots: number;
  readonly errorWindowMs: number;
  /** Window that decides whether a machine is silent at B (the shortest sensor window). */
  readonly silentWindowMs: number;
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

export function windowGeometry(bucketMs: number, allowedLatenessMs: number): WindowGeometry {
  if (!Number.isSafeInteger(bucketMs) || bucketMs <= 0) {
    throw new ConfigError(`bucketMs must be a positive integer, got ${bucketMs}`, { stage: 'features' });
  }
  if (!Number.isSafeInteger(allowedLatenessMs) || allowedLatenessMs < 0) {
    throw new ConfigError(`allowedLatenessMs must be a non-negative integer, got ${allowedLatenessMs}`, {
      stage: 'features',
    });
  }
  const slotMs = gcd(bucketMs, TWELVE_HOURS_MS);
  if (slotMs < MIN_SLOT_MS) {
    throw new ConfigError(
      `bucketMs ${bucketMs} gives window slots of ${slotMs} ms (gcd with 12 h); use a bucket length whose ` +
        `gcd with 12 h is at least ${MIN_SLOT_MS} ms (e.g. a whole number of minutes dividing 12 h or a multiple of 12 h)`,
      { stage: 'features' },
    );
  }
  const [w0, w1, w2] = WINDOW_HOURS.map((h) => (h * HOUR_MS) / slotMs) as [number, number, number];
  return {
    bucketMs,
    allowedLatenessMs,
    slotMs,
    windowSlots: [w0, w1, w2],
    maxWindowSlots: Math.max(w0, w1, w2),
    errorWindowMs: ERROR_WINDOW_HOURS * HOUR_MS,
    silentWindowMs: Math.min(...WINDOW_HOURS) * HOUR_MS,
  };
}

/** Slot k holds event times in ((k − 1)·slotMs, k·slotMs], matching the spec's left-open windows. */
export function slotOf(ts: number, slotMs: number): number {
  return Math.ceil(ts / slotMs);
}

/** First bucket instant ≥ ts. */
export function ceilToBucket(ts: number, bucketMs: number): number {
  return Math.ceil(ts / bucketMs) * bucketMs;
}

/** Last bucket instant ≤ ts (±Infinity pass through). */
export function floorToBucket(ts: number, bucketMs: number): number {
  return Number.isFinite(ts) ? Math.floor(ts / bucketMs) * bucketMs : ts;
}

/** Welford update of the slot record at `off` with one reading. */
export function addReading(
  d: Float64Array,
  off: number,
  volt: number,
  rotate: number,
  pressure: number,
  vibration: number,
): void {
  const n = (d[off + 1] as number) + 1;
  d[off + 1] = n;
  welford(d, off + 2, volt, n);
  welford(d, off + 4, rotate, n);
  welford(d, off + 6, pressure, n);
  welford(d, off + 8, vibration, n);
}

function welford(d: Float64Array, i: number, x: number, n: number): void {
  const mean = d[i] as number;
  const delta = x - mean;
  const next = mean + delta / n;
  d[i] = next;
  d[i + 1] = (d[i + 1] as number) + delta * (x - next);
}

/** Accumulator layout: [n, mean0, m2_0, …, mean3, m2_3]. */
export const MOMENTS_LENGTH = 1 + 2 * SENSOR_COUNT;

/** Merges the slot record at `off` into the accumulator (Chan et al., parallel variance). */
export function mergeSlot(acc: Float64Array, d: Float64Array, off: number): void {
  const nb = d[off + 1] as number;
  if (nb === 0) return;
  const na = acc[0] as number;
  if (na === 0) {
    acc[0] = nb;
    for (let s = 0; s < 2 * SENSOR_COUNT; s++) acc[1 + s] = d[off + 2 + s] as number;
    return;
  }
  const n = na + nb;
  acc[0] = n;
  const wb = nb / n;
  const cross = (na * nb) / n;
  for (let s = 0; s < SENSOR_COUNT; s++) {
    const ia = 1 + 2 * s;
    const ib = off + 2 + 2 * s;
    const ma = acc[ia] as number;
    const delta = (d[ib] as number) - ma;
    acc[ia] = ma + delta * wb;
    acc[ia + 1] = (acc[ia + 1] as number) + (d[ib + 1] as number) + delta * delta * cross;
  }
}

/** Sample standard deviation (divisor n − 1); 0 for a single value, as the spec says. */
export function sampleStd(m2: number, n: number): number {
  return n > 1 ? Math.sqrt(Math.max(0, m2) / (n - 1)) : 0;
}
