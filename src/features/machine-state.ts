/**
 * Per-machine state of pdm-v1 and the computation of one closed bucket. Plain data + functions rather than
 * one closure per machine: with 100k machines, every byte of per-machine overhead counts.
 *
 * What is kept, and for how long (B_next = the next bucket to close):
 * - telemetry slots (count/mean/M2 per sensor) with slot end > B_next − 36 h;
 * - telemetry timestamps > last closed bucket, for exact duplicate detection (older ones are late anyway);
 * - error events with ts > min(last closed bucket, B_next − 24 h) (windows and duplicate detection);
 * - replacements with ts > last closed bucket (pending), and per component the latest one ≤ it;
 * - the latest metadata.
 * Everything older cannot influence any bucket that can still close, so it is dropped when buckets close.
 */
import { DAY_MS, type TelemetryRecord } from '../shared/records.js';
import {
  dropFront,
  insertAt,
  insertSorted,
  keyAt,
  lowerBound,
  upperBound,
  createSortedRecords,
  findKey,
  type ByteAccount,
  type SortedRecords,
} from './sorted-records.js';
import { COMPONENTS, ERROR_IDS, FEATURE_COUNT, MODELS, REPLACEMENT_CAP_DAYS, SENSORS } from './spec.js';
import type { FeatureRow, SilentRun } from './types.js';
import {
  MOMENTS_LENGTH,
  SLOT_STRIDE,
  addReading,
  ceilToBucket,
  floorToBucket,
  mergeSlot,
  sampleStd,
  slotOf,
  type WindowGeometry,
} from './window-math.js';

export interface MachineState {
  readonly machineId: number;
  /**
   * The next bucket that can close: the first bucket ≥ the smallest accepted telemetry ts until one has
   * closed (an earlier reading may still lower it), then the one after the last closed. +∞ before any
   * telemetry. Cached so that the engine can tell from the state it already holds whether a reading made a
   * bucket closable, without a second pass over every machine.
   */
  nextClose: number;
  /** Largest accepted telemetry ts: the machine's event-time watermark is maxTs − allowed lateness. */
  maxTs: number;
  /** Last closed bucket instant; −∞ before the first close. Events with ts ≤ it are late. */
  lastClosed: number;
  /** Buckets ≤ this were written before a restart: they close without output. */
  suppressUpTo: number;
  /**
   * Side inputs (errors, maintenance, metadata) of this machine are complete up to this instant (streaming:
   * per-machine checkpoints of the pipeline; the engine-wide side watermark applies as well).
   */
  sideUpTo: number;
  /** Latest metadata: age (−1 unknown) and index into MODELS (−1 unknown). */
  age: number;
  model: number;
  /** Bookkeeping of the engine: in the close queue / waiting for the side watermark. */
  queued: boolean;
  blocked: boolean;
  slots: SortedRecords | null;
  seen: SortedRecords | null;
  errors: SortedRecords | null;
  maintenance: SortedRecords | null;
  /** Per component, the latest replacement ts ≤ lastClosed; −∞ when none. */
  readonly replaced: Float64Array;
  /** The engine's running byte total, updated when a buffer of this machine is allocated or resized. */
  readonly account: ByteAccount;
}

/** Sink of one close pass. */
export interface CloseOutput {
  readonly rows: FeatureRow[];
  readonly silent: SilentRun[];
  suppressedBuckets: number;
  silentBuckets: number;
}

const SEEN_MIN_RECORDS = 16;
const EVENT_MIN_RECORDS = 4;
const ERROR_OFFSET = SENSORS.length * 6;
const REPLACEMENT_OFFSET = ERROR_OFFSET + ERROR_IDS.length;
const AGE_OFFSET = REPLACEMENT_OFFSET + COMPONENTS.length;
const MODEL_OFFSET = AGE_OFFSET + 1;

if (MODEL_OFFSET + MODELS.length !== FEATURE_COUNT) {
  throw new Error('feature layout of machine-state.ts does not match FEATURE_NAMES');
}

export function createMachineState(
  machineId: number,
  suppressUpTo: number,
  account: ByteAccount,
): MachineState {
  const replaced = new Float64Array(COMPONENTS.length).fill(Number.NEGATIVE_INFINITY);
  account.bytes += replaced.byteLength;
  account.arrays++;
  return {
    machineId,
    nextClose: Number.POSITIVE_INFINITY,
    maxTs: Number.NEGATIVE_INFINITY,
    lastClosed: Number.NEGATIVE_INFINITY,
    suppressUpTo,
    sideUpTo: Number.NEGATIVE_INFINITY,
    age: -1,
    model: -1,
    queued: false,
    blocked: false,
    slots: null,
    seen: null,
    errors: null,
    maintenance: null,
    replaced,
    account,
  };
}

/** Capacity for a slot array that never needs to grow at one reading per slot or less. */
function slotMinRecords(geo: WindowGeometry): number {
  return geo.maxWindowSlots + Math.ceil((geo.bucketMs + geo.allowedLatenessMs) / geo.slotMs) + 1;
}

/**
 * Adds an accepted (valid, not late) telemetry reading. Returns false, changing nothing, when its ts was
 * already seen for this machine (a duplicate).
 */
export function addTelemetry(st: MachineState, geo: WindowGeometry, r: TelemetryRecord): boolean {
  const ts = r.ts;
  const seen = (st.seen ??= createSortedRecords(1, SEEN_MIN_RECORDS, st.account));
  const n = seen.len;
  if (n === 0 || keyAt(seen, n - 1) < ts) {
    insertAt(seen, n, ts);
  } else {
    const i = lowerBound(seen, ts);
    if (i < n && keyAt(seen, i) === ts) return false;
    insertAt(seen, i, ts);
  }
  const slots = (st.slots ??= createSortedRecords(SLOT_STRIDE, slotMinRecords(geo), st.account));
  const k = slotOf(ts, geo.slotMs);
  const i = findKey(slots, k);
  const off = i >= 0 ? i * SLOT_STRIDE : insertAt(slots, lowerBound(slots, k), k);
  addReading(slots.data, off, r.volt, r.rotate, r.pressure, r.vibration);
  if (st.lastClosed === Number.NEGATIVE_INFINITY) {
    const first = ceilToBucket(ts, geo.bucketMs);
    if (first < st.nextClose) st.nextClose = first;
  }
  if (ts > st.maxTs) st.maxTs = ts;
  return true;
}

/**
 * Inserts the (ts, code) event into a buffer of 2-number records unless the same pair is already there.
 * Returns false, changing nothing, for a duplicate. Equal timestamps are rare, so the scan is short.
 */
function addCodedEvent(buf: SortedRecords, ts: number, code: number): boolean {
  const n = buf.len;
  if (n > 0 && keyAt(buf, n - 1) >= ts) {
    const { data } = buf;
    for (let i = lowerBound(buf, ts); i < n && (data[2 * i] as number) === ts; i++) {
      if ((data[2 * i + 1] as number) === code) return false;
    }
  }
  const off = insertSorted(buf, ts);
  buf.data[off + 1] = code;
  return true;
}

/**
 * Adds an accepted error event; false (nothing changed) for a duplicate (machineId, ts, errorId). Exact:
 * the buffer keeps every error with ts > last closed bucket, and older ones are late.
 */
export function addError(st: MachineState, ts: number, errorIdx: number): boolean {
  return addCodedEvent((st.errors ??= createSortedRecords(2, EVENT_MIN_RECORDS, st.account)), ts, errorIdx);
}

/**
 * Adds an accepted replacement; false (nothing changed) for a duplicate (machineId, ts, comp). Exact: the
 * pending buffer holds every replacement with ts > last closed bucket, and older ones are late.
 */
export function addMaintenance(st: MachineState, ts: number, compIdx: number): boolean {
  return addCodedEvent(
    (st.maintenance ??= createSortedRecords(2, EVENT_MIN_RECORDS, st.account)),
    ts,
    compIdx,
  );
}

/** Latest metadata wins; (−1, −1) is "unknown", which a tombstone sets. */
export function setMetadata(st: MachineState, modelIdx: number, age: number): void {
  st.model = modelIdx;
  st.age = age;
}

/** Moves pending replacements with ts ≤ upTo into `replaced`. */
function foldMaintenance(st: MachineState, upTo: number): void {
  const buf = st.maintenance;
  if (buf === null || buf.len === 0) return;
  const count = upperBound(buf, upTo);
  const { data } = buf;
  for (let i = 0; i < count; i++) {
    const ts = data[2 * i] as number;
    const c = data[2 * i + 1] as number;
    if (ts > (st.replaced[c] as number)) st.replaced[c] = ts;
  }
  dropFront(buf, count);
}

/** Scratch accumulator, shared because a close pass is synchronous. */
const acc = new Float64Array(MOMENTS_LENGTH);

/** Features at bucket B; `hiPos` = index of the first slot after B. */
function computeRow(st: MachineState, geo: WindowGeometry, bucket: number, hiPos: number): Float64Array {
  const values = new Float64Array(FEATURE_COUNT);
  const slots = st.slots as SortedRecords;
  const b = bucket / geo.slotMs;
  acc.fill(0);
  let j = hiPos - 1;
  // Windows are nested (12 ⊂ 24 ⊂ 36 h): one backwards pass over the slots, a snapshot per window edge.
  for (let w = 0; w < geo.windowSlots.length; w++) {
    const lo = b - (geo.windowSlots[w] as number);
    while (j >= 0 && keyAt(slots, j) > lo) {
      mergeSlot(acc, slots.data, j * SLOT_STRIDE);
      j--;
    }
    const n = acc[0] as number;
    for (let s = 0; s < SENSORS.length; s++) {
      const at = s * 6 + w * 2;
      values[at] = acc[1 + 2 * s] as number;
      values[at + 1] = sampleStd(acc[2 + 2 * s] as number, n);
    }
  }
  const errors = st.errors;
  if (errors !== null) {
    const { data } = errors;
    for (let i = upperBound(errors, bucket - geo.errorWindowMs); i < errors.len; i++) {
      if ((data[2 * i] as number) > bucket) break;
      const at = ERROR_OFFSET + (data[2 * i + 1] as number);
      values[at] = (values[at] as number) + 1;
    }
  }
  for (let c = 0; c < COMPONENTS.length; c++) {
    // Never replaced: −∞ gives +∞ days, capped to 365 like the spec's "365 when there has been none".
    const days = (bucket - (st.replaced[c] as number)) / DAY_MS;
    values[REPLACEMENT_OFFSET + c] = Math.min(REPLACEMENT_CAP_DAYS, days);
  }
  values[AGE_OFFSET] = st.age;
  if (st.model >= 0) values[MODEL_OFFSET + st.model] = 1;
  return values;
}

function emitSilent(st: MachineState, bucketMs: number, from: number, to: number, out: CloseOutput): void {
  let first = from;
  if (first <= st.suppressUpTo) {
    first = Math.min(to + bucketMs, floorToBucket(st.suppressUpTo, bucketMs) + bucketMs);
    out.suppressedBuckets += (first - from) / bucketMs;
  }
  if (first > to) return;
  const buckets = (to - first) / bucketMs + 1;
  out.silentBuckets += buckets;
  out.silent.push({ machineId: st.machineId, fromBucketMs: first, toBucketMs: to, buckets });
}

/**
 * Closes every bucket B ≥ next bucket with B ≤ limitMs, in order: a row when the machine had telemetry in
 * (B − 12 h, B], else a silent run. Work is O(rows + slots), not O(buckets): a gap is skipped in one step.
 */
export function closeBuckets(st: MachineState, geo: WindowGeometry, limitMs: number, out: CloseOutput): void {
  const slots = st.slots;
  if (slots === null || slots.len === 0) return;
  const { bucketMs, slotMs } = geo;
  const last = floorToBucket(limitMs, bucketMs);
  let bucket = st.nextClose;
  if (bucket > last) return;
  const silentSlots = geo.silentWindowMs / slotMs;
  while (bucket <= last) {
    const b = bucket / slotMs;
    const hiPos = upperBound(slots, b);
    if (hiPos > 0 && keyAt(slots, hiPos - 1) > b - silentSlots) {
      foldMaintenance(st, bucket);
      if (bucket > st.suppressUpTo) {
        out.rows.push({
          machineId: st.machineId,
          bucketMs: bucket,
          values: computeRow(st, geo, bucket, hiPos),
        });
      } else {
        out.suppressedBuckets++;
      }
      st.lastClosed = bucket;
      bucket += bucketMs;
    } else {
      // The next bucket with telemetry in its 12 h window is the first bucket at or after the end of the next
      // non-empty slot (a slot's readings are all > its start, so no earlier bucket can contain them).
      const next =
        hiPos < slots.len ? ceilToBucket(keyAt(slots, hiPos) * slotMs, bucketMs) : Number.POSITIVE_INFINITY;
      const to = Math.min(next - bucketMs, last);
      emitSilent(st, bucketMs, bucket, to, out);
      st.lastClosed = to;
      bucket = to + bucketMs;
    }
  }
  st.nextClose = st.lastClosed + bucketMs;
  foldMaintenance(st, st.lastClosed);
  prune(st, geo);
}

/** Drops what no bucket after the last closed one can use. */
function prune(st: MachineState, geo: WindowGeometry): void {
  const next = st.lastClosed + geo.bucketMs;
  const slots = st.slots;
  if (slots !== null) dropFront(slots, upperBound(slots, next / geo.slotMs - geo.maxWindowSlots));
  const seen = st.seen;
  if (seen !== null) dropFront(seen, upperBound(seen, st.lastClosed));
  // Errors after the last closed bucket stay even when no window reaches them (bucket > 24 h): duplicate
  // detection must see every error that is not late.
  const errors = st.errors;
  if (errors !== null) {
    dropFront(errors, upperBound(errors, Math.min(st.lastClosed, next - geo.errorWindowMs)));
  }
}
