/**
 * The pdm-v1 feature engine: routes decoded events into per-machine state and closes buckets.
 *
 * Closing rule (identical for streaming and batch, which is what makes them agree): bucket B of machine m
 * closes iff B ≤ maxTelemetryTs(m) − allowedLateness AND B ≤ sideWatermark. The side watermark says
 * "errors, maintenance and machine metadata are complete up to this instant"; without it a bucket could
 * close before the error topic's consumer delivered an error of that bucket, and the features would depend
 * on how the consumers interleaved. Streaming starts at −∞ (the pipeline advances it); batch uses +∞.
 *
 * `ingest` never closes anything; `closeReady` does, so everything in one ingest batch is applied before any
 * bucket it touches can close.
 *
 * Which buckets exist: a machine's buckets are every multiple of bucketMs from the first one ≥ its first
 * telemetry ts; each one, once closed, is either a row (telemetry in (B − 12 h, B]) or part of a silent run.
 * A machine that stops sending altogether gets no silent buckets: its own watermark no longer moves, so its
 * buckets never close (the pipeline sees it as an idle machine, not through this engine).
 *
 * Late events (ts ≤ the machine's last closed bucket) are not applied at all, not even to later buckets: they
 * go to the dead-letter table as LATE_EVENT, the spec's "recorded, never dropped silently". Lateness is per
 * machine: a machine far behind the others of its partition loses nothing.
 *
 * Spec revision 2: ts outside [2000-01-01, 2100-01-01) is INVALID_VALUE and ts > processing clock + allowed
 * future skew is FUTURE_EVENT, so one device with a wrong clock cannot push its machine's watermark into the
 * future. Every check runs before any state is touched: a dead-lettered event moves no watermark, is not
 * "seen" for duplicate detection, and does not even create the machine's entry.
 *
 * Memory: per machine, what windows of still-open buckets need (see machine-state.ts). While the side
 * watermark lags, open buckets pile up and so does their telemetry; the pipeline bounds that lag.
 */
import type { FeatureConfig } from '../config/index.js';
import { ConfigError, PdmError } from '../shared/errors.js';
import type { PdmEvent, TelemetryColumns, TelemetryRecord } from '../shared/records.js';
import {
  addError,
  addMaintenance,
  addTelemetry,
  closeBuckets,
  createMachineState,
  setMetadata,
  type CloseOutput,
  type MachineState,
} from './machine-state.js';
import type {
  CloseResult,
  DeadLetterOutcome,
  DuplicateOutcome,
  EventOutcome,
  FeatureCounts,
  FeatureEngineStats,
} from './types.js';
import {
  checkCategory,
  checkKeyAndTime,
  checkMachine,
  checkTelemetry,
  componentIndex,
  errorIndex,
  formatInstant,
  modelIndex,
} from './validate.js';
import { COMPONENTS, ERROR_IDS } from './spec.js';
import { createMachineTable } from './machine-table.js';
import { createByteAccount } from './sorted-records.js';
import { windowGeometry, type WindowGeometry } from './window-math.js';

export interface FeatureEngineOptions extends FeatureConfig {
  /**
   * Instant up to which errors, maintenance and machine metadata are known to be complete at start.
   * @default -Infinity (streaming: nothing closes until `advanceSideWatermark`); batch passes +Infinity.
   */
  readonly sideWatermarkMs?: number;
  /**
   * Per machine, the last bucket already written before a restart: buckets ≤ it close without output while
   * the replayed events rebuild the state. @default empty
   */
  readonly resumeAfter?: ReadonlyMap<number, number>;
  /**
   * The processing clock, read once per `ingest` call: events with ts > now + futureSkewMs are FUTURE_EVENT.
   * Streaming uses the wall clock; the batch path fixes it (`features build --now`). @default Date.now
   */
  readonly nowMs?: () => number;
}

/** Allowed future skew when the config has none (PDM_FUTURE_SKEW_MS's default). */
export const DEFAULT_FUTURE_SKEW_MS = 3_600_000;

export interface FeatureEngine {
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /** Pre-aggregation slot length: gcd(bucketMs, 12 h). */
  readonly slotMs: number;
  /**
   * Applies a batch of decoded events. Returns an outcome (with the event's index in `events`) for every
   * event not used: INVALID_VALUE, FUTURE_EVENT and LATE_EVENT (dead-letter them; they changed no state),
   * DUPLICATE (count them). Failure events are labels only: counted, not used, no outcome unless invalid
   * or in the future. Metadata tombstones delete a machine's metadata.
   */
  ingest(events: readonly PdmEvent[]): EventOutcome[];
  /** {@link ingest} of telemetry given as columns (row i is event i of the outcomes' indexes). */
  ingestTelemetry(rows: TelemetryColumns): EventOutcome[];
  /** Side inputs are complete up to `tsMs` (monotonic: a smaller value is ignored). */
  advanceSideWatermark(tsMs: number): void;
  /**
   * Side inputs of one machine are complete up to `tsMs` (streaming: lateness is judged per machine, so a
   * machine behind the others of its partition waits for its own side events, not theirs). Monotonic.
   */
  advanceMachineSideWatermark(machineId: number, tsMs: number): void;
  /** Closes every bucket that became closable; each bucket is emitted exactly once. */
  closeReady(): CloseResult;
  /** End of input: side watermark +∞, then `closeReady()` (the spec's end-of-input rule). */
  finish(): CloseResult;
  stats(): FeatureEngineStats;
  /** Drops all state; the engine cannot be used afterwards. */
  close(): void;
}

/**
 * Estimated bytes per machine besides typed-array contents: the state object and its boxed doubles, the
 * SortedRecords objects, the map entry and ~130 bytes of header per typed array (JSTypedArray +
 * JSArrayBuffer + allocation header). Calibrated against heap deltas in bench/features.ts.
 */
const MACHINE_OVERHEAD_BYTES = 700;
const TYPED_ARRAY_OVERHEAD_BYTES = 130;

function emptyCounts(): FeatureCounts {
  return {
    telemetry: 0,
    errors: 0,
    maintenance: 0,
    machines: 0,
    tombstones: 0,
    failuresIgnored: 0,
    late: 0,
    invalid: 0,
    future: 0,
    duplicates: 0,
    rows: 0,
    silentBuckets: 0,
    suppressedBuckets: 0,
  };
}

export function createFeatureEngine(options: FeatureEngineOptions): FeatureEngine {
  const geo: WindowGeometry = windowGeometry(options.bucketMs, options.allowedLatenessMs);
  const { bucketMs, allowedLatenessMs } = geo;
  const ranges = options.ranges;
  const resumeAfter = options.resumeAfter;
  const nowMs = options.nowMs ?? Date.now;
  const futureSkewMs = options.futureSkewMs ?? DEFAULT_FUTURE_SKEW_MS;
  if (!Number.isSafeInteger(futureSkewMs) || futureSkewMs < 0) {
    throw new ConfigError(`futureSkewMs must be a non-negative integer, got ${futureSkewMs}`, {
      stage: 'features',
    });
  }
  let sideWatermark = options.sideWatermarkMs ?? Number.NEGATIVE_INFINITY;
  let sideAdvanced = false;
  let machines = createMachineTable<MachineState>();
  /** Machines whose telemetry watermark advanced since the last close pass. */
  let queue: MachineState[] = [];
  /** Machines with buckets the telemetry watermark allows but the side watermark does not (yet). */
  let blocked = new Set<MachineState>();
  const counts = emptyCounts();
  let account = createByteAccount();
  let closed = false;

  function assertOpen(): void {
    if (closed)
      throw new PdmError('feature engine used after close()', { code: 'CLOSED', stage: 'features' });
  }

  function stateFor(machineId: number): MachineState {
    let st = machines.get(machineId);
    if (st === undefined) {
      st = createMachineState(machineId, resumeAfter?.get(machineId) ?? Number.NEGATIVE_INFINITY, account);
      machines.set(machineId, st);
    }
    return st;
  }

  function enqueue(st: MachineState): void {
    if (!st.queued) {
      st.queued = true;
      queue.push(st);
    }
  }

  function ingest(events: readonly PdmEvent[]): EventOutcome[] {
    return apply(events.length, (i) => events[i] as PdmEvent);
  }

  function ingestTelemetry(rows: TelemetryColumns): EventOutcome[] {
    // One event object for every row, refilled: nothing below keeps an event or its record.
    const record: { -readonly [F in keyof TelemetryRecord]: number } = {
      machineId: 0,
      ts: 0,
      volt: 0,
      rotate: 0,
      pressure: 0,
      vibration: 0,
    };
    const event: PdmEvent = { kind: 'telemetry', record };
    const { machineId, ts, volt, rotate, pressure, vibration } = rows;
    return apply(rows.length, (i) => {
      record.machineId = machineId[i] as number;
      record.ts = ts[i] as number;
      record.volt = volt[i] as number;
      record.rotate = rotate[i] as number;
      record.pressure = pressure[i] as number;
      record.vibration = vibration[i] as number;
      return event;
    });
  }

  /** Applies events 0..count−1, each as `eventAt(i)` returns it (used before the next call only). */
  function apply(count: number, eventAt: (i: number) => PdmEvent): EventOutcome[] {
    assertOpen();
    const outcomes: EventOutcome[] = [];
    // One clock read per batch, not per event: cheap, and every event of a batch is judged alike.
    const now = nowMs();
    if (!Number.isFinite(now)) {
      throw new PdmError(`processing clock returned ${String(now)}`, {
        code: 'BAD_CLOCK',
        stage: 'features',
      });
    }
    const futureLimit = now + futureSkewMs;
    const deadLetter = (
      kind: DeadLetterOutcome['kind'],
      index: number,
      e: PdmEvent,
      message: string,
    ): void => {
      outcomes.push({ kind, index, recordKind: e.kind, machineId: e.record.machineId, message });
    };
    const duplicate = (index: number, e: PdmEvent & { kind: DuplicateOutcome['recordKind'] }): void => {
      counts.duplicates++;
      outcomes.push({
        kind: 'DUPLICATE',
        index,
        recordKind: e.kind,
        machineId: e.record.machineId,
        ts: e.record.ts,
      });
    };
    /** False once an INVALID_VALUE or FUTURE_EVENT outcome of a timed event is recorded. */
    const usable = (index: number, e: PdmEvent, ts: number, problem: string | null): boolean => {
      if (problem !== null) {
        counts.invalid++;
        deadLetter('INVALID_VALUE', index, e, problem);
        return false;
      }
      if (ts > futureLimit) {
        counts.future++;
        deadLetter(
          'FUTURE_EVENT',
          index,
          e,
          `${e.kind} ts ${ts} (${formatInstant(ts)}) is later than the processing clock ` +
            `${formatInstant(now)} plus the allowed future skew of ${futureSkewMs} ms`,
        );
        return false;
      }
      return true;
    };
    /**
     * The machine state a timed event may change, or undefined once its dead-letter outcome is recorded.
     * Checks come before any state is touched (spec revision 2: a dead-lettered event changes no state, not
     * even by creating the machine's entry); lateness is judged against this machine's own buckets only.
     */
    const admit = (
      index: number,
      e: PdmEvent,
      machineId: number,
      ts: number,
      problem: string | null,
    ): MachineState | undefined => {
      if (!usable(index, e, ts, problem)) return undefined;
      const st = machines.get(machineId);
      if (st === undefined) return stateFor(machineId);
      if (ts <= st.lastClosed) {
        counts.late++;
        deadLetter(
          'LATE_EVENT',
          index,
          e,
          `${e.kind} ts ${ts} is at or before the last closed bucket ${st.lastClosed} of machine ${machineId}`,
        );
        return undefined;
      }
      return st;
    };
    for (let i = 0; i < count; i++) {
      const e = eventAt(i);
      switch (e.kind) {
        case 'telemetry': {
          const r = e.record;
          const st = admit(i, e, r.machineId, r.ts, checkTelemetry(r, ranges));
          if (st === undefined) break;
          if (!addTelemetry(st, geo, r)) {
            duplicate(i, e);
            break;
          }
          counts.telemetry++;
          // Only a machine whose telemetry watermark reached its next bucket has anything to close.
          if (st.maxTs - allowedLatenessMs >= st.nextClose) enqueue(st);
          break;
        }
        case 'errors': {
          const r = e.record;
          const problem =
            checkKeyAndTime(r.machineId, r.ts) ?? checkCategory('errorId', r.errorId, ERROR_IDS);
          const st = admit(i, e, r.machineId, r.ts, problem);
          if (st === undefined) break;
          if (!addError(st, r.ts, errorIndex(r.errorId))) {
            duplicate(i, e);
            break;
          }
          counts.errors++;
          break;
        }
        case 'maintenance': {
          const r = e.record;
          const problem = checkKeyAndTime(r.machineId, r.ts) ?? checkCategory('comp', r.comp, COMPONENTS);
          const st = admit(i, e, r.machineId, r.ts, problem);
          if (st === undefined) break;
          if (!addMaintenance(st, r.ts, componentIndex(r.comp))) {
            duplicate(i, e);
            break;
          }
          counts.maintenance++;
          break;
        }
        case 'machines': {
          const r = e.record;
          const bad = checkMachine(r);
          if (bad !== null) {
            counts.invalid++;
            deadLetter('INVALID_VALUE', i, e, bad);
            break;
          }
          counts.machines++;
          if (r.tombstone === true) {
            // Deleting what was never there changes nothing: no entry for a machine we do not know.
            counts.tombstones++;
            const st = machines.get(r.machineId);
            if (st !== undefined) setMetadata(st, -1, -1);
            break;
          }
          setMetadata(stateFor(r.machineId), modelIndex(r.model), r.age);
          break;
        }
        case 'failures': {
          // Labels, not features: checked like any timed event, never part of a machine's state.
          const r = e.record;
          const problem =
            checkKeyAndTime(r.machineId, r.ts) ?? checkCategory('failure', r.failure, COMPONENTS);
          if (usable(i, e, r.ts, problem)) counts.failuresIgnored++;
          break;
        }
      }
    }
    return outcomes;
  }

  function advanceSideWatermark(tsMs: number): void {
    assertOpen();
    if (Number.isNaN(tsMs)) {
      throw new PdmError('side watermark must be a number', { code: 'BAD_WATERMARK', stage: 'features' });
    }
    if (tsMs > sideWatermark) {
      sideWatermark = tsMs;
      sideAdvanced = true;
    }
  }

  function advanceMachineSideWatermark(machineId: number, tsMs: number): void {
    assertOpen();
    const st = machines.get(machineId);
    // No state: no accepted telemetry of this machine, so nothing of it can close yet.
    if (st === undefined || !(tsMs > st.sideUpTo)) return;
    st.sideUpTo = tsMs;
    enqueue(st);
  }

  function closeReady(): CloseResult {
    assertOpen();
    if (sideAdvanced) {
      for (const st of blocked) enqueue(st);
      sideAdvanced = false;
    }
    const out: CloseOutput = { rows: [], silent: [], suppressedBuckets: 0, silentBuckets: 0 };
    if (queue.length === 0) return out;
    // (machineId, bucket) order within a call: sorting ids in a typed array avoids a comparator per pair.
    const ids = new Float64Array(queue.length);
    for (let i = 0; i < queue.length; i++) ids[i] = (queue[i] as MachineState).machineId;
    ids.sort();
    queue = [];
    for (const id of ids) {
      const st = machines.get(id) as MachineState;
      st.queued = false;
      const byTelemetry = st.maxTs - allowedLatenessMs;
      closeBuckets(st, geo, Math.min(byTelemetry, Math.max(sideWatermark, st.sideUpTo)), out);
      const waiting = st.nextClose <= byTelemetry;
      if (waiting !== st.blocked) {
        st.blocked = waiting;
        if (waiting) blocked.add(st);
        else blocked.delete(st);
      }
    }
    counts.rows += out.rows.length;
    counts.silentBuckets += out.silentBuckets;
    counts.suppressedBuckets += out.suppressedBuckets;
    return { rows: out.rows, silent: out.silent };
  }

  function finish(): CloseResult {
    advanceSideWatermark(Number.POSITIVE_INFINITY);
    return closeReady();
  }

  /** O(1): buffers keep a running byte total (the engine calls this after every batch for metrics). */
  function stats(): FeatureEngineStats {
    return {
      machines: machines.size,
      typedArrayBytes: account.bytes,
      stateBytes:
        account.bytes + account.arrays * TYPED_ARRAY_OVERHEAD_BYTES + machines.size * MACHINE_OVERHEAD_BYTES,
      sideWatermarkMs: sideWatermark,
      counts: { ...counts },
    };
  }

  function close(): void {
    closed = true;
    machines = createMachineTable();
    account = createByteAccount();
    queue = [];
    blocked = new Set();
  }

  return {
    bucketMs,
    allowedLatenessMs,
    slotMs: geo.slotMs,
    ingest,
    ingestTelemetry,
    advanceSideWatermark,
    advanceMachineSideWatermark,
    closeReady,
    finish,
    stats,
    close,
  };
}
