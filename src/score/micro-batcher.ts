import type { ClassName } from '../features/index.js';
import { PdmError } from '../shared/errors.js';
import { alertMask, isWarmingUp, strongestAlert, type DecisionRule } from './decision.js';
import type { ScoreInputRow, ScoredRow, Scorer } from './types.js';

export interface MicroBatcherOptions {
  readonly scorer: Scorer;
  /** Rows per inference run; a run starts as soon as this many rows are waiting. @default 512 (PDM_SCORE_MAX_ROWS) */
  readonly maxRows?: number;
  /**
   * Longest time a row waits for its run to fill up, from the moment it is submitted into an empty batch;
   * 0 starts a run right after the submitting call returns. @default 200 (PDM_SCORE_MAX_WAIT_MS)
   */
  readonly maxWaitMs?: number;
  readonly nFeatures: number;
  /** Output classes in model order (ModelPackage.classes). */
  readonly classes: readonly ClassName[];
  /** Written into every result (ModelPackage.modelVersion). */
  readonly modelVersion: string;
  /**
   * The package's decision rule (`decisionRule(pkg)`), applied to every row. Required: a caller that
   * forgets it would publish argmax alerts, which miss the precision goal.
   */
  readonly decision: DecisionRule;
  /**
   * Runs handed to the scorer before the earlier ones finished (the worker still runs them one at a time,
   * in order): with 2, the next tensor is already queued in the worker when the current run ends, which
   * hides the thread round trip. Interleaved A/B on 2 shared cores, 1 vs 2: 7–9k vs 10–16k rows/s at 1-row
   * runs, 126–139k vs 118–196k at 64, 192–223k vs 217–260k at 512. @default 2
   */
  readonly maxRunsInFlight?: number;
  /**
   * Called after every inference run, e.g. for metrics. `runMs` is from hand-over to the scorer to the
   * result, so it includes waiting behind the previous run when runs are pipelined.
   */
  readonly onRun?: (run: {
    readonly rows: number;
    readonly waitedMs: number;
    readonly runMs: number;
  }) => void;
}

export interface MicroBatcher {
  /**
   * Queues `rows` and resolves with their results in the same order once every one of them has been
   * scored. Rows of one call may be split over several runs and share runs with other calls.
   *
   * Backpressure is per call: the promise settles only when the rows are scored, so a caller that awaits
   * each submission (the pipeline does: predictions must be written before offsets commit) has at most one
   * submission in flight. `queuedRows()` tells how many rows wait or run, for pausing a consumer or a gauge.
   */
  submit(rows: readonly ScoreInputRow[]): Promise<ScoredRow[]>;
  /** Starts a run with whatever is waiting, without waiting for `maxWaitMs`; resolves when all queued rows are scored. */
  flush(): Promise<void>;
  queuedRows(): number;
  /** Flushes, then closes the scorer. Later `submit` calls reject. */
  close(): Promise<void>;
}

interface Ticket {
  readonly results: ScoredRow[];
  remaining: number;
  resolve(rows: ScoredRow[]): void;
  reject(err: unknown): void;
}

/** Where a waiting row's result goes: its ticket and its index in the submitted array. */
interface Slot {
  readonly row: ScoreInputRow;
  readonly ticket: Ticket;
  readonly index: number;
}

export function createMicroBatcher(options: MicroBatcherOptions): MicroBatcher {
  const { scorer, nFeatures, classes, modelVersion, onRun, decision } = options;
  const { thresholds, warmUpPairs } = decision;
  const maxRows = options.maxRows ?? 512;
  const maxWaitMs = options.maxWaitMs ?? 200;
  if (!Number.isInteger(maxRows) || maxRows < 1)
    throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);
  if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${maxWaitMs}`);
  const maxRunsInFlight = options.maxRunsInFlight ?? 2;
  if (!Number.isInteger(maxRunsInFlight) || maxRunsInFlight < 1) {
    throw new RangeError(`maxRunsInFlight must be a positive integer, got ${maxRunsInFlight}`);
  }
  const nClasses = classes.length;

  let waiting: Slot[] = [];
  let waitingSince = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlightRows = 0;
  // Full or timed-out batches, in submission order, waiting for a run slot.
  const ready: { readonly batch: Slot[]; readonly waitedMs: number }[] = [];
  let running = 0;
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  function dispatch(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const waitedMs = Date.now() - waitingSince;
    while (waiting.length > 0) {
      const batch = waiting.length > maxRows ? waiting.splice(0, maxRows) : waiting;
      if (batch === waiting) waiting = [];
      inFlightRows += batch.length;
      ready.push({ batch, waitedMs });
    }
    pump();
  }

  function pump(): void {
    while (running < maxRunsInFlight && ready.length > 0) {
      const next = ready.shift() as (typeof ready)[number];
      running++;
      // run() settles every ticket of its batch itself and never rejects.
      void run(next.batch, next.waitedMs).finally(() => {
        running--;
        pump();
        if (running === 0 && ready.length === 0 && idleWaiters.length > 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  function idle(): Promise<void> {
    if (running === 0 && ready.length === 0) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  async function run(batch: Slot[], waitedMs: number): Promise<void> {
    const n = batch.length;
    // One tensor per run; the float64 → float32 rounding here is the same as train/'s astype(np.float32).
    const input = new Float32Array(n * nFeatures);
    for (let r = 0; r < n; r++) {
      const values = (batch[r] as Slot).row.values;
      if (values.length !== nFeatures) {
        failBatch(
          batch,
          new PdmError(`row ${r} has ${values.length} values, the model takes ${nFeatures}`, {
            code: 'SCORER_INPUT',
            stage: 'score',
          }),
        );
        return;
      }
      for (let f = 0; f < nFeatures; f++) input[r * nFeatures + f] = values[f] as number;
    }
    const t0 = performance.now();
    let probs: Float32Array;
    try {
      probs = await scorer.score(input, n);
    } catch (err) {
      failBatch(batch, err);
      return;
    }
    const runMs = performance.now() - t0;
    inFlightRows -= n;
    for (let r = 0; r < n; r++) {
      const slot = batch[r] as Slot;
      const p = probs.subarray(r * nClasses, (r + 1) * nClasses);
      let best = 0;
      for (let k = 1; k < nClasses; k++) if ((p[k] as number) > (p[best] as number)) best = k;
      // The decision reads the row's float64 values: the warm-up test is an exact equality of two windows.
      const warmingUp = isWarmingUp(slot.row.values, warmUpPairs);
      const mask = warmingUp ? 0 : alertMask(p, thresholds);
      const strongest = strongestAlert(p, thresholds, mask);
      slot.ticket.results[slot.index] = {
        machineId: slot.row.machineId,
        bucketMs: slot.row.bucketMs,
        probabilities: p,
        predictedIndex: best,
        predictedClass: classes[best] as ClassName,
        alertMask: mask,
        alertIndex: strongest,
        alertClass: classes[strongest] as ClassName,
        warmingUp,
        modelVersion,
        alertThresholds: thresholds,
      };
      if (--slot.ticket.remaining === 0) slot.ticket.resolve(slot.ticket.results);
    }
    onRun?.({ rows: n, waitedMs, runMs });
  }

  function failBatch(batch: Slot[], err: unknown): void {
    inFlightRows -= batch.length;
    // A ticket may span several runs: reject it once; its other rows' results are dropped with it.
    for (const slot of batch) slot.ticket.reject(err);
  }

  return {
    submit(rows) {
      if (closed)
        return Promise.reject(
          new PdmError('micro-batcher is closed', { code: 'SCORER_CLOSED', stage: 'score' }),
        );
      if (rows.length === 0) return Promise.resolve([]);
      return new Promise<ScoredRow[]>((resolve, reject) => {
        const ticket: Ticket = {
          results: new Array<ScoredRow>(rows.length),
          remaining: rows.length,
          resolve,
          reject,
        };
        for (let i = 0; i < rows.length; i++) {
          // The wait clock starts when a row enters an empty batch: no row waits longer than maxWaitMs.
          if (waiting.length === 0) waitingSince = Date.now();
          waiting.push({ row: rows[i] as ScoreInputRow, ticket, index: i });
          if (waiting.length >= maxRows) dispatch();
        }
        if (waiting.length > 0 && timer === undefined) {
          if (maxWaitMs === 0) queueMicrotask(dispatch);
          else timer = setTimeout(dispatch, Math.max(0, maxWaitMs - (Date.now() - waitingSince)));
        }
      });
    },
    flush() {
      dispatch();
      return idle();
    },
    queuedRows() {
      return waiting.length + inFlightRows;
    },
    async close() {
      if (closed) return;
      closed = true;
      dispatch();
      await idle();
      await scorer.close();
    },
  };
}
