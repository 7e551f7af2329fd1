/**
 * Shadow scoring (issue 13, item 4): a second model package scores every row the live model scores, and
 * its answers are stored apart, in `shadow_predictions` (src/sink/shadow.ts), next to the live answer for
 * the same feature vector.
 *
 * The live path is unaffected but for the shadow's own cost:
 * - the shadow runs on its own ONNX worker, started together with the live run of the same group, so the
 *   score stage waits for the slower of the two, not for their sum;
 * - a shadow that fails (its worker died, it answered the wrong number of rows) costs one log line per
 *   distinct error and a `pdm_shadow_failures_total` count: the live rows of that group are written and
 *   acknowledged without shadow rows. A shadow that cannot score never fails the engine; its rows are
 *   written like every table's (retried while ClickHouse is down);
 * - the live rows, alerts and restore never read anything the shadow wrote.
 *
 * Shadow rows are written before the group's live predictions (like the risk alerts): the restore resumes
 * a machine after its latest stored live prediction, so a crash between the two re-scores the group and
 * writes the same shadow keys again (they merge away) rather than leaving buckets without shadow rows.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { FeatureRow } from '../features/index.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { BatchWriter, ShadowPredictionRow } from '../sink/index.js';
import { predictionRow, type RowScorer, type ScoredLike, type SourceCoordinates } from './outputs.js';

export interface ShadowOptions {
  /** The shadow package's scorer (a hot-swap scorer following PDM_SHADOW_MODEL_DIR). */
  readonly scorer: RowScorer;
  readonly writer: BatchWriter<ShadowPredictionRow>;
  readonly log: Logger;
  /** Where `pdm_shadow_inference_seconds`, `pdm_shadow_predictions_total`, `pdm_shadow_failures_total` go. */
  readonly registry?: Registry;
}

export interface Shadow {
  /** `<name>/<version>` of the shadow package now. */
  readonly modelVersion: string;
  /** The shadow's answers for `rows`, in order; undefined when it failed (logged and counted). Never rejects. */
  score(rows: readonly FeatureRow[]): Promise<readonly ScoredLike[] | undefined>;
  /** Appends the `shadow_predictions` row of each (shadow, live) pair of one emission to `out`. */
  rows(
    shadow: readonly ScoredLike[],
    live: readonly ScoredLike[],
    at: SourceCoordinates,
    scoredAt: string,
    out: ShadowPredictionRow[],
  ): void;
  /** Writes one group's shadow rows (retried by the writer while ClickHouse is down, like every table). */
  write(rows: readonly ShadowPredictionRow[]): Promise<void>;
}

/** The `shadow_predictions` row: the shadow's `predictions` columns and the live model's answer. */
export function shadowRow(
  shadow: ScoredLike,
  live: ScoredLike,
  at: SourceCoordinates,
  scoredAt: string,
): ShadowPredictionRow {
  const l = predictionRow(live, at, scoredAt);
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
    help: "The shadow model's ONNX time per score group (its own cost; the live path waits for the slower of the two)",
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
  /** The last error logged: a shadow failing on every group logs once, not once per group. */
  let lastLogged: string | undefined;

  return {
    get modelVersion() {
      return scorer.modelVersion;
    },
    async score(rows) {
      const started = performance.now();
      try {
        const scored = await scorer.score(rows);
        if (scored.length !== rows.length)
          throw new Error('shadow scorer returned another number of results than rows it was given');
        inference.observe((performance.now() - started) / 1000);
        lastLogged = undefined;
        return scored;
      } catch (err) {
        // Counted, and logged once per distinct message: the live rows go on without shadow rows.
        failures.inc();
        const message = errorMessage(err);
        if (message !== lastLogged) {
          lastLogged = message;
          log.error(
            { err: message, shadow: scorer.modelVersion, rows: rows.length },
            'shadow model failed to score a group; its live rows are written without shadow rows',
          );
        }
        return undefined;
      }
    },
    rows(shadow, live, at, scoredAt, out) {
      for (let i = 0; i < live.length; i++) {
        const s = shadow[i];
        const l = live[i];
        if (s === undefined || l === undefined) continue;
        out.push(shadowRow(s, l, at, scoredAt));
      }
    },
    async write(rows) {
      if (rows.length === 0) return;
      await writer.write(rows);
      written.inc(rows.length);
    },
  };
}
