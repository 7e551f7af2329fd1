/**
 * Shadow scoring (issue 13, item 4): a second model package scores every row the live model scores, and
 * its answers are stored apart, in `shadow_predictions` (src/sink/shadow.ts), next to the live answer for
 * the same feature vector.
 *
 * The live path is unaffected but for the shadow's own cost:
 * - the shadow runs on its own ONNX worker, started together with the live run of the same group, so the
 *   score stage waits for the slower of the two, not for their sum;
 * - a shadow that fails (its worker died, it answered the wrong rows, it did not answer within `timeoutMs`,
 *   no valid shadow package is loaded) costs one log line per distinct error and a
 *   `pdm_shadow_failures_total` count, and its session is reopened (at most every `reopenMs`): the live rows
 *   of that group are written and acknowledged without shadow rows. Its rows are written like every
 *   table's (retried while ClickHouse is down); an insert that fails for good is counted and dropped;
 * - the live rows, alerts and restore never read anything the shadow wrote.
 *
 * Shadow rows are written before the group's live predictions (like the risk alerts): the restore resumes
 * a machine after its latest stored live prediction, so a crash between the two re-scores the group and
 * writes the same shadow keys again (they merge away) rather than leaving buckets without shadow rows.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { FeatureRow } from '../features/index.js';
import { errorMessage, PdmError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { BatchWriter, PredictionRow, ShadowPredictionRow } from '../sink/index.js';
import { predictionRow, type RowScorer, type ScoredLike, type SourceCoordinates } from './outputs.js';

export interface ShadowOptions {
  /**
   * The shadow package's scorer (a hot-swap scorer following PDM_SHADOW_MODEL_DIR). `reopen` opens a new
   * session of the same package: called after a failure, since a batcher whose worker died rejects every call.
   */
  readonly scorer: RowScorer & { reopen?(): Promise<void> };
  readonly writer: BatchWriter<ShadowPredictionRow>;
  readonly log: Logger;
  /** Where `pdm_shadow_inference_seconds`, `pdm_shadow_predictions_total`, `pdm_shadow_failures_total` go. */
  readonly registry?: Registry;
  /** A group the shadow has not answered within this is written without shadow rows. @default 30_000 */
  readonly timeoutMs?: number;
  /** Least time between two reopens of the shadow's session after failures. @default 10_000 */
  readonly reopenMs?: number;
}

export interface Shadow {
  /** `<name>/<version>` of the shadow package now. */
  readonly modelVersion: string;
  /** The shadow's answers for `rows`, in order; undefined when it failed (logged and counted). Never rejects. */
  score(rows: readonly FeatureRow[]): Promise<readonly ScoredLike[] | undefined>;
  /**
   * Appends the `shadow_predictions` row of each (shadow answer, live `predictions` row) pair of one
   * emission to `out` (the live rows as the flow built them: not formatted a second time).
   */
  rows(
    shadow: readonly ScoredLike[],
    live: readonly PredictionRow[],
    at: SourceCoordinates,
    scoredAt: string,
    out: ShadowPredictionRow[],
  ): void;
  /**
   * Writes one group's shadow rows: retried by the writer while ClickHouse is down, like every table; a
   * failure the writer does not retry (the table dropped, say) is logged and counted, and resolves, so
   * that the live rows go on.
   */
  write(rows: readonly ShadowPredictionRow[]): Promise<void>;
  /** Flushes and closes the shadow's writer (the scorer is closed by its owner). */
  close(): Promise<void>;
}

/** The `shadow_predictions` row: the shadow's `predictions` columns and the live model's answer. */
export function shadowRow(
  shadow: ScoredLike,
  l: PredictionRow,
  at: SourceCoordinates,
  scoredAt: string,
): ShadowPredictionRow {
  return {
    ...predictionRow(shadow, at, scoredAt),
    live_model_version: l.model_version,
    live_p_none: l.p_none,
    live_p_comp1: l.p_comp1,
    live_p_comp2: l.p_comp2,
    live_p_comp3: l.p_comp3,
    live_p_comp4: l.p_comp4,
    live_predicted_class: l.predicted_class,
    live_alert: l.alert,
    live_alert_components: l.alert_components,
  };
}

export function createShadow(options: ShadowOptions): Shadow {
  const { scorer, writer, log } = options;
  const registers = options.registry === undefined ? [] : [options.registry];
  const inference = new Histogram({
    name: 'pdm_shadow_inference_seconds',
    help: "Wall time of the shadow model's score call per group (the live model's run of the same group runs meanwhile; the live path waits for the slower of the two)",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const written = new Counter({
    name: 'pdm_shadow_predictions_total',
    help: 'Shadow predictions written to shadow_predictions',
    registers,
  });
  const failures = new Counter({
    name: 'pdm_shadow_failures_total',
    help: 'Score groups the shadow model failed to score (their live rows were written without shadow rows)',
    registers,
  });
  failures.inc(0);
  const writeFailures = new Counter({
    name: 'pdm_shadow_write_failures_total',
    help: 'Shadow row inserts that failed for good (not retried); the live rows were written',
    registers,
  });
  writeFailures.inc(0);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const reopenMs = options.reopenMs ?? 10_000;
  /** The last error logged: a shadow failing on every group logs once, not once per group. */
  let lastLogged: string | undefined;
  let lastReopenMs = Number.NEGATIVE_INFINITY;

  function failed(message: string, rows: number): void {
    failures.inc();
    if (message !== lastLogged) {
      lastLogged = message;
      log.error(
        { err: message, shadow: scorer.modelVersion, rows },
        'shadow model failed to score a group; its live rows are written without shadow rows',
      );
    }
  }

  /** A new session after a failure (its worker may have died), at most once per `reopenMs`. */
  function reopenSoon(): void {
    const now = Date.now();
    if (scorer.reopen === undefined || now - lastReopenMs < reopenMs) return;
    lastReopenMs = now;
    scorer.reopen().catch((err: unknown) => {
      log.error(
        { err: errorMessage(err), shadow: scorer.modelVersion },
        'reopening the shadow model session failed',
      );
    });
  }

  return {
    get modelVersion() {
      return scorer.modelVersion;
    },
    async score(rows) {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, timeoutMs);
      });
      const run = scorer.score(rows);
      // A late answer or failure after the timeout is dropped (observed, so it is not unhandled).
      run.catch(() => undefined);
      try {
        const scored = await Promise.race([run, timedOut]);
        if (scored === 'timeout') {
          reopenSoon();
          failed(`shadow model did not answer within ${timeoutMs} ms`, rows.length);
          return undefined;
        }
        if (scored.length !== rows.length)
          throw new Error('shadow scorer returned another number of results than rows it was given');
        inference.observe((performance.now() - started) / 1000);
        lastLogged = undefined;
        return scored;
      } catch (err) {
        if (!(err instanceof PdmError && err.code === 'SCORER_UNAVAILABLE')) reopenSoon();
        failed(errorMessage(err), rows.length);
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    },
    rows(shadow, live, at, scoredAt, out) {
      // Paired by position (one score call, rows in order); a pair of two different rows would compare
      // different vectors, so such an emission gets no shadow rows at all.
      const made: ShadowPredictionRow[] = [];
      for (let i = 0; i < Math.max(live.length, shadow.length); i++) {
        const s = shadow[i];
        const l = live[i];
        const row = s === undefined || l === undefined ? undefined : shadowRow(s, l, at, scoredAt);
        if (row === undefined || row.machine_id !== l?.machine_id || row.bucket_ts !== l.bucket_ts) {
          failed('shadow answers do not pair with the live rows (machine or bucket differs)', live.length);
          return;
        }
        made.push(row);
      }
      for (const row of made) out.push(row);
    },
    async write(rows) {
      if (rows.length === 0) return;
      try {
        await writer.write(rows);
        written.inc(rows.length);
      } catch (err) {
        // Not retryable (the writer retries what is): the shadow's rows are lost, the live ones must not be.
        writeFailures.inc();
        log.error(
          { err: errorMessage(err), rows: rows.length },
          'shadow rows could not be written; the live rows go on without them',
        );
      }
    },
    close: () => writer.close(),
  };
}
