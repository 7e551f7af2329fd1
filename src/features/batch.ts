/**
 * Batch path of pdm-v1 (`features build`): the streaming engine, unchanged, over a finite event-time-ordered
 * input with the side watermark at +∞, closed at the end by the spec's end-of-input rule. Same code, so
 * batch rows equal streaming rows.
 *
 * Input contract (what readReferenceCsv yields): machine metadata first, then events in non-decreasing ts.
 * Events go to the engine in batches that end only where the event time changes, so every event at an
 * instant is applied before any bucket at that instant can close (with zero lateness a reading at B closes
 * B at once, and an error at B must still count). Labels need the future (B, B + 7 d]: a row waits until the
 * input has passed B + 7 d, so memory holds about 7 days of rows, not the whole training set.
 */
import type { FeatureConfig } from '../config/index.js';
import { PdmError } from '../shared/errors.js';
import type { FailureRecord, PdmEvent } from '../shared/records.js';
import { createFeatureEngine, DEFAULT_FUTURE_SKEW_MS } from './engine.js';
import { LABEL_HORIZON_MS, labelFailureProblem, labelFor } from './label.js';
import type { EventOutcome, FeatureCounts, FeatureRow } from './types.js';

export interface BuildFeaturesOptions {
  readonly config: FeatureConfig;
  /** Label every row from the failures in the input (the training set). @default false */
  readonly labels?: boolean;
  /** Receives the rows in output order, with their labels when `labels`; awaited (backpressure). */
  readonly onRows: (
    rows: readonly FeatureRow[],
    labels: readonly number[] | undefined,
  ) => Promise<void> | void;
  /** Every late, invalid or duplicate event with its outcome. */
  readonly onOutcome?: (outcome: EventOutcome, event: PdmEvent) => void;
  /** Events per engine batch (a batch is extended to the end of its event time). @default 8192 */
  readonly batchEvents?: number;
  /**
   * The processing clock of this run, epoch ms: events later than it plus `config.futureSkewMs` are
   * FUTURE_EVENT, as they would be for a streaming engine at that instant (`features build --now`).
   * @default Date.now() when buildFeatures starts
   */
  readonly nowMs?: number;
}

export interface BuildFeaturesSummary {
  readonly events: number;
  readonly rows: number;
  readonly machines: number;
  /** Valid failure events used for labels (0 without labels). */
  readonly labelFailures: number;
  readonly firstBucketTs: number | null;
  readonly lastBucketTs: number | null;
  /** The processing clock used (options.nowMs or the wall clock at start). */
  readonly nowMs: number;
  readonly counts: Readonly<FeatureCounts>;
}

function eventTs(e: PdmEvent): number {
  return e.kind === 'machines' ? Number.NEGATIVE_INFINITY : e.record.ts;
}

export async function buildFeatures(
  events: AsyncIterable<PdmEvent> | Iterable<PdmEvent>,
  options: BuildFeaturesOptions,
): Promise<BuildFeaturesSummary> {
  const withLabels = options.labels ?? false;
  const batchEvents = options.batchEvents ?? 8192;
  const nowMs = options.nowMs ?? Date.now();
  const engine = createFeatureEngine({
    ...options.config,
    sideWatermarkMs: Number.POSITIVE_INFINITY,
    nowMs: () => nowMs,
  });
  const futureLimit = nowMs + (options.config.futureSkewMs ?? DEFAULT_FUTURE_SKEW_MS);
  const failures = new Map<number, Pick<FailureRecord, 'ts' | 'failure'>[]>();
  let labelFailures = 0;
  /** Rows waiting for their label window to be read: waiting[waitingHead…]. */
  let waiting: FeatureRow[] = [];
  let waitingHead = 0;
  /** Labels of rows with B + 7 d ≤ this have been written: a failure at or before it would change them. */
  let labelledUpTo = Number.NEGATIVE_INFINITY;
  let chunk: PdmEvent[] = [];
  let chunkTs = Number.NEGATIVE_INFINITY;
  let total = 0;
  let rows = 0;
  let firstBucketTs: number | null = null;
  let lastBucketTs: number | null = null;

  async function emit(out: readonly FeatureRow[], labels: readonly number[] | undefined): Promise<void> {
    if (out.length === 0) return;
    for (const r of out) {
      if (firstBucketTs === null || r.bucketMs < firstBucketTs) firstBucketTs = r.bucketMs;
      if (lastBucketTs === null || r.bucketMs > lastBucketTs) lastBucketTs = r.bucketMs;
    }
    rows += out.length;
    await options.onRows(out, labels);
  }

  /** Writes the waiting rows whose label window (B, B + 7 d] lies entirely in the input read so far. */
  async function releaseLabelled(readUpTo: number): Promise<void> {
    let end = waitingHead;
    while (end < waiting.length && (waiting[end] as FeatureRow).bucketMs + LABEL_HORIZON_MS <= readUpTo)
      end++;
    if (end === waitingHead) return;
    const ready = waiting.slice(waitingHead, end);
    waitingHead = end;
    if (waitingHead * 2 > waiting.length) {
      waiting = waiting.slice(waitingHead);
      waitingHead = 0;
    }
    for (const r of ready) labelledUpTo = Math.max(labelledUpTo, r.bucketMs + LABEL_HORIZON_MS);
    await emit(
      ready,
      ready.map((r) => labelFor(failures.get(r.machineId) ?? [], r.bucketMs)),
    );
  }

  async function flush(final: boolean): Promise<void> {
    const batch = chunk;
    chunk = [];
    for (const o of engine.ingest(batch)) options.onOutcome?.(o, batch[o.index] as PdmEvent);
    const { rows: closed } = final ? engine.finish() : engine.closeReady();
    if (!withLabels) {
      await emit(closed, undefined);
      return;
    }
    for (const r of closed) waiting.push(r);
    await releaseLabelled(final ? Number.POSITIVE_INFINITY : chunkTs);
  }

  function collectFailure(e: PdmEvent): void {
    if (e.kind !== 'failures') return;
    const r = e.record;
    // Invalid and future ones are reported by the engine (INVALID_VALUE, FUTURE_EVENT); they are no label either.
    if (labelFailureProblem(r, futureLimit) !== null) return;
    if (r.ts <= labelledUpTo) {
      throw new PdmError(
        `failure of machine ${r.machineId} at ts ${r.ts} arrived after labels up to ${labelledUpTo} were written: ` +
          'the input is not in event-time order',
        { code: 'INPUT_NOT_ORDERED', stage: 'features' },
      );
    }
    let list = failures.get(r.machineId);
    if (list === undefined) failures.set(r.machineId, (list = []));
    list.push({ ts: r.ts, failure: r.failure });
    labelFailures++;
  }

  for await (const e of events) {
    const ts = eventTs(e);
    if (chunk.length >= batchEvents && ts > chunkTs) await flush(false);
    if (withLabels) collectFailure(e);
    chunk.push(e);
    if (ts > chunkTs) chunkTs = ts;
    total++;
  }
  await flush(true);
  const stats = engine.stats();
  engine.close();
  return {
    events: total,
    rows,
    machines: stats.machines,
    labelFailures,
    firstBucketTs,
    lastBucketTs,
    nowMs,
    counts: stats.counts,
  };
}
