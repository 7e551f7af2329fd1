/**
 * RxJS face of the feature engine: batches of decoded events (and side-watermark ticks) in, one batch of
 * closed-bucket rows and outcomes out per input, nothing for an input that produced nothing. Per-batch by
 * design (house style rule 8); no groupBy: all per-machine state lives in the engine's bounded map.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { PdmEvent } from '../shared/records.js';
import type { FeatureEngine } from './engine.js';
import type { EventOutcome, FeatureRow, SilentRun } from './types.js';

/** "Errors, maintenance and metadata are complete up to `tsMs`" (see FeatureEngine.advanceSideWatermark). */
export interface SideWatermark {
  readonly kind: 'side-watermark';
  readonly tsMs: number;
}

export type FeatureInput = readonly PdmEvent[] | SideWatermark;

export function sideWatermark(tsMs: number): SideWatermark {
  return { kind: 'side-watermark', tsMs };
}

export interface FeatureBatch {
  /** Newly closed buckets, (machineId, bucketMs) order. */
  readonly rows: readonly FeatureRow[];
  /** Events of `input` not used (indexes into `input`). */
  readonly outcomes: readonly EventOutcome[];
  readonly silent: readonly SilentRun[];
  /** The event batch the outcomes refer to; null for a watermark tick or the end-of-input close. */
  readonly input: readonly PdmEvent[] | null;
}

export interface FeatureRowsOptions {
  /**
   * On source completion, close by the end-of-input rule (`engine.finish()`) and emit what it closes. For
   * the batch path and tests; a streaming consumer that stops must not, or it would close buckets whose
   * side inputs were not complete. @default false
   */
  readonly finishOnComplete?: boolean;
}

function isWatermark(input: FeatureInput): input is SideWatermark {
  return !Array.isArray(input);
}

/** Feeds each input to `engine` and emits what became closable. Engine errors are forwarded as errors. */
export function featureRows(
  engine: FeatureEngine,
  options: FeatureRowsOptions = {},
): OperatorFunction<FeatureInput, FeatureBatch> {
  return (source) =>
    new Observable<FeatureBatch>((subscriber) => {
      const emit = (batch: FeatureBatch): void => {
        if (batch.rows.length > 0 || batch.outcomes.length > 0 || batch.silent.length > 0)
          subscriber.next(batch);
      };
      return source.subscribe({
        next(input) {
          try {
            if (isWatermark(input)) {
              engine.advanceSideWatermark(input.tsMs);
              const { rows, silent } = engine.closeReady();
              emit({ rows, silent, outcomes: [], input: null });
            } else {
              const outcomes = engine.ingest(input);
              const { rows, silent } = engine.closeReady();
              emit({ rows, silent, outcomes, input });
            }
          } catch (err) {
            subscriber.error(err);
          }
        },
        error(err: unknown) {
          subscriber.error(err);
        },
        complete() {
          try {
            if (options.finishOnComplete === true) {
              const { rows, silent } = engine.finish();
              emit({ rows, silent, outcomes: [], input: null });
            }
            subscriber.complete();
          } catch (err) {
            subscriber.error(err);
          }
        },
      });
    });
}
