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
 * go to the dead-letter table as LATE_EVENT, the spec's "recorded, never dropped silently".
 *
 * Memory: per machine, what windows of still-open buckets need (see machine-state.ts). While the side
 * watermark lags, open buckets pile up and so does their telemetry; the pipeline bounds that lag.
 */
import type { FeatureConfig } from '../config/index.js';
import { PdmError } from '../shared/errors.js';
import type { PdmEvent } from '../shared/records.js';
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
import type { CloseResult, EventOutcome, FeatureCounts, FeatureEngineStats } from './types.js';
import {
  checkCategory,
  checkKeyAndTime,
  checkMachine,
  checkTelemetry,
  componentIndex,
  errorIndex,
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
  /** Like `resumeAfter`, for every machine not in that map. @default -Infinity (nothing suppressed) */
  readonly resumeAllAfterMs?: number;
}

export interface FeatureEngine {
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /** Pre-aggregation slot length: gcd(bucketMs, 12 h). */
  readonly slotMs: number;
  /**
   * Applies a batch of decoded events. Returns an outcome (with the event's index in `events`) for every
   * event not used: LATE_EVENT and INVALID_VALUE (dead-letter them), DUPLICATE (count them). Failure events
   * are labels only: counted, not used, no outcome unless invalid.
   */
  ingest(events: readonly PdmEvent[]): EventOutcome[];
  /** Side inputs are complete up to `tsMs` (monotonic: a smaller value is ignored). */
  advanceSideWatermark(tsMs: number): void;
  /** Closes every bucket that became closable; each bucket is emitted exactly once. */
  closeReady(): CloseResult;
  /** End of input: side watermark +∞, then `closeReady()` (the spec's end-of-input rule). */
  finish(): CloseResult;
  /** Buckets ≤ `bucketMs` of this machine were written before a restart: close them without output. */
  skipUpTo(machineId: number, bucketMs: number): void;
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
    failuresIgnored: 0,
    late: 0,
    invalid: 0,
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
  const resumeAll = options.resumeAllAfterMs ?? Number.NEGATIVE_INFINITY;
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
      st = createMachineState(
        machineId,
        Math.max(resumeAll, resumeAfter?.get(machineId) ?? resumeAll),
        account,
      );
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
    assertOpen();
    const outcomes: EventOutcome[] = [];
    const invalid = (index: number, e: PdmEvent, message: string): void => {
      counts.invalid++;
      outcomes.push({
        kind: 'INVALID_VALUE',
        index,
        recordKind: e.kind,
        machineId: e.record.machineId,
        message,
      });
    };
    const late = (index: number, e: PdmEvent, ts: number, lastClosed: number): void => {
      counts.late++;
      outcomes.push({
        kind: 'LATE_EVENT',
        index,
        recordKind: e.kind,
        machineId: e.record.machineId,
        message: `${e.kind} ts ${ts} is at or before the last closed bucket ${lastClosed} of machine ${e.record.machineId}`,
      });
    };
    /** A timed side event's machine state, or undefined once its INVALID/LATE outcome is recorded. */
    const acceptTimed = (
      index: number,
      e: PdmEvent,
      machineId: number,
      ts: number,
      categoryProblem: string | null,
    ): MachineState | undefined => {
      const bad = checkKeyAndTime(machineId, ts) ?? categoryProblem;
      if (bad !== null) {
        invalid(index, e, bad);
        return undefined;
      }
      const st = stateFor(machineId);
      if (ts <= st.lastClosed) {
        late(index, e, ts, st.lastClosed);
        return undefined;
      }
      return st;
    };
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as PdmEvent;
      switch (e.kind) {
        case 'telemetry': {
          const r = e.record;
          const bad = checkTelemetry(r, ranges);
          if (bad !== null) {
            invalid(i, e, bad);
            break;
          }
          const st = stateFor(r.machineId);
          if (r.ts <= st.lastClosed) {
            late(i, e, r.ts, st.lastClosed);
            break;
          }
          if (!addTelemetry(st, geo, r)) {
            counts.duplicates++;
            outcomes.push({
              kind: 'DUPLICATE',
              index: i,
              recordKind: 'telemetry',
              machineId: r.machineId,
              ts: r.ts,
            });
            break;
          }
          counts.telemetry++;
          // Only a machine whose telemetry watermark reached its next bucket has anything to close.
          if (st.maxTs - allowedLatenessMs >= st.nextClose) enqueue(st);
          break;
        }
        case 'errors': {
          const r = e.record;
          const st = acceptTimed(i, e, r.machineId, r.ts, checkCategory('errorId', r.errorId, ERROR_IDS));
          if (st === undefined) break;
          addError(st, r.ts, errorIndex(r.errorId));
          counts.errors++;
          break;
        }
        case 'maintenance': {
          const r = e.record;
          const st = acceptTimed(i, e, r.machineId, r.ts, checkCategory('comp', r.comp, COMPONENTS));
          if (st === undefined) break;
          addMaintenance(st, r.ts, componentIndex(r.comp));
          counts.maintenance++;
          break;
        }
        case 'machines': {
          const r = e.record;
          const bad = checkMachine(r);
          if (bad !== null) {
            invalid(i, e, bad);
            break;
          }
          setMetadata(stateFor(r.machineId), modelIndex(r.model), r.age);
          counts.machines++;
          break;
        }
        case 'failures': {
          const r = e.record;
          const bad = checkKeyAndTime(r.machineId, r.ts) ?? checkCategory('failure', r.failure, COMPONENTS);
          if (bad !== null) {
            invalid(i, e, bad);
            break;
          }
          counts.failuresIgnored++;
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
      closeBuckets(st, geo, Math.min(byTelemetry, sideWatermark), out);
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

  function skipUpTo(machineId: number, upToMs: number): void {
    assertOpen();
    const st = stateFor(machineId);
    if (upToMs > st.suppressUpTo) st.suppressUpTo = upToMs;
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
    advanceSideWatermark,
    closeReady,
    finish,
    skipUpTo,
    stats,
    close,
  };
}
