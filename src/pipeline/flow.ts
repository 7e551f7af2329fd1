/**
 * The engine's output side as an RxJS pipeline: emissions (closed rows and dead letters of one Kafka batch
 * or one side checkpoint) → score stage → write stage → acknowledged, in push order.
 *
 *   push ─▶ Subject ─▶ coalesceWhileBusy(score) ─▶ coalesceWhileBusy(write) ─▶ settle, in order
 *
 * Overlap: while the write stage waits for ClickHouse, the score stage runs the next group on the ONNX
 * worker, and the feature stage (the caller) already works on the next Kafka batches. Each stage runs one
 * group at a time and takes everything that queued up meanwhile as its next group, so a busy stage makes
 * its next group larger (fewer, larger ONNX runs and inserts) instead of making callers wait.
 *
 * Order: one write group at a time, so the rows of an emission are acknowledged only with or after the
 * rows of every earlier one. The restore (restore.ts) resumes each machine after its latest stored bucket;
 * rows stored out of order could hide an earlier bucket lost in a crash. The caller commits a batch's
 * offsets when its emission settles, which therefore also happens in push order.
 *
 * Backlog spacing: while the engine reads far behind the log (`backlogWrites.catchingUp`), a write group
 * starts no sooner than `intervalMs` after the previous one, so that what closed meanwhile goes out as
 * one insert per table instead of several. ClickHouse pays for every insert (a part, then merges): on
 * the local 18.16, 240,000 feature-vector rows took 5.4 CPU s in 2,000-row inserts and 1.0 s in
 * 60,000-row ones. Live (not behind), on a flow with half its bound or more in flight, while draining and
 * once stopping (`flush`) it never waits; a push once caught up, or one that brings the flow to half its
 * bound, ends a wait early. Half, not full: a group held until the bound was reached went out only when
 * fetching had stopped, and the feature stage then idled for the whole insert (250–550 ms, three times
 * in a 30-day backlog); started at half, the insert overlaps with the feature stage filling the rest.
 *
 * Bound: `room()` resolves only while fewer than `maxInFlight` emissions (or `maxInFlightRows` rows) are
 * unacknowledged; the source awaits it before taking a batch, so a slow ClickHouse slows fetching instead
 * of filling memory.
 */
import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type { DeadLetter } from '../dlq/index.js';
import type { FeatureRow } from '../features/index.js';
import type { EngineMetrics } from '../shared/metrics.js';
import {
  formatInstant,
  type FeatureVectorRow,
  type PredictionRow,
  type ServerCapabilities,
  type ShadowPredictionRow,
} from '../sink/index.js';
import {
  featureVectorRow,
  predictionRow,
  type OutputWriters,
  type RowScorer,
  type ScoredLike,
  type SourceCoordinates,
} from './outputs.js';
import type { RiskAlertSink, ScoredGroup } from './risk-alerts.js';
import type { Shadow } from './shadow.js';

/** What one step of the feature stage produced. */
export interface Emission {
  /** Recorded in each prediction (`source_*`): the batch whose processing closed the rows. */
  readonly at: SourceCoordinates;
  readonly rows: readonly FeatureRow[];
  readonly deadLetters: readonly DeadLetter[];
  /** When the batch was received: event→write latency is measured from here. */
  readonly receivedAtMs: number;
}

export interface FlowOptions {
  readonly scorer: RowScorer;
  readonly writers: OutputWriters;
  readonly caps: ServerCapabilities;
  readonly metrics: EngineMetrics;
  /**
   * Failure-risk alerts (risk-alerts.ts), decided from each write group's scored rows in order; the group's
   * other writes wait for them. Absent: no alerts.
   */
  readonly alerts?: RiskAlertSink;
  /**
   * Shadow scoring (shadow.ts): a second model scores every group alongside the live one, and its rows are
   * written with the group, before its live predictions. Absent: no shadow.
   */
  readonly shadow?: Shadow;
  /** Fewer, larger inserts while catching up (see the header). Absent: every group is written at once. */
  readonly backlogWrites?: BacklogWrites;
  /** @default 128 */
  readonly maxInFlight?: number;
  /** Rows plus dead letters not yet acknowledged. @default 200_000 */
  readonly maxInFlightRows?: number;
}

export interface BacklogWrites {
  /** Least time between the starts of two write groups while catching up; 0 turns the spacing off. */
  readonly intervalMs: number;
  /** Whether the engine is reading far enough behind the log that waiting for more rows is free. */
  catchingUp(): boolean;
}

export interface Flow {
  /** Resolves when an emission may be pushed without exceeding the in-flight bound. */
  room(): Promise<void>;
  /** Queues an emission; resolves when ClickHouse acknowledged all it holds (and all pushed before it). */
  push(emission: Emission): Promise<void>;
  /** Resolves when everything pushed so far is acknowledged; rejects if the flow failed. */
  drain(): Promise<void>;
  /** Writes a group held for the backlog spacing now, and holds none from here on (the engine stops). */
  flush(): void;
  /** Rejects with the first non-retryable failure of a stage (a flow that failed accepts nothing more). */
  readonly failed: Promise<never>;
}

interface Pending {
  readonly emission: Emission;
  readonly size: number;
  resolve(): void;
  reject(err: Error): void;
}

interface Scored {
  readonly pending: Pending;
  readonly scored: readonly ScoredLike[];
  /** The shadow's answers for the same rows; absent without a shadow or when it failed on this group. */
  readonly shadow?: readonly ScoredLike[];
}

export interface CoalesceOptions<T = unknown> {
  /**
   * An idle stage waits for the current microtasks before it starts, so that items pushed one after the
   * other by promise continuations of one event (the side checkpoints of all partitions answered by one
   * end-offset read) form one group instead of one small group and one for the rest. @default false
   */
  readonly gatherMicrotasks?: boolean;
  /**
   * Asked before a group starts, with the items queued: a promise (which must not reject) delays the
   * start until it settles, the items arriving meanwhile joining the group, and then it is asked again;
   * undefined starts the group now.
   */
  readonly hold?: (queued: readonly T[]) => Promise<void> | undefined;
}

/**
 * Runs `work` on one group at a time: items arriving while it runs are buffered and become the next
 * group (in arrival order). Emits what `work` emits, in group order; the first error ends the stream.
 */
export function coalesceWhileBusy<T, R>(
  work: (group: readonly T[]) => Observable<R> | Promise<R>,
  options: CoalesceOptions<T> = {},
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let queue: T[] = [];
      let busy = false;
      let sourceDone = false;
      let inner: Subscription | undefined;
      let pumpQueued = false;
      const pump = (): void => {
        // A stream that ended (an error of either stage) starts no more work, held or not.
        if (busy || subscriber.closed) return;
        if (queue.length === 0) {
          if (sourceDone) subscriber.complete();
          return;
        }
        const held = options.hold?.(queue);
        if (held !== undefined) {
          busy = true;
          void held.then(() => {
            busy = false;
            pump();
          });
          return;
        }
        const group = queue;
        queue = [];
        busy = true;
        const done = (): void => {
          busy = false;
          pump();
        };
        let out: Observable<R> | Promise<R>;
        try {
          out = work(group);
        } catch (err) {
          subscriber.error(err);
          return;
        }
        if (out instanceof Promise) {
          out.then(
            (r) => {
              subscriber.next(r);
              done();
            },
            (err: unknown) => {
              subscriber.error(err);
            },
          );
        } else {
          inner = out.subscribe({
            next: (r) => {
              subscriber.next(r);
            },
            error: (err: unknown) => {
              subscriber.error(err);
            },
            complete: done,
          });
        }
      };
      const sub = source.subscribe({
        next: (item) => {
          queue.push(item);
          if (options.gatherMicrotasks !== true) {
            pump();
          } else if (!busy && !pumpQueued) {
            pumpQueued = true;
            queueMicrotask(() => {
              pumpQueued = false;
              pump();
            });
          }
        },
        error: (err: unknown) => {
          subscriber.error(err);
        },
        complete: () => {
          sourceDone = true;
          pump();
        },
      });
      return () => {
        sub.unsubscribe();
        inner?.unsubscribe();
      };
    });
}

export function createFlow(options: FlowOptions): Flow {
  const { scorer, writers, caps, metrics } = options;
  const maxInFlight = options.maxInFlight ?? 128;
  const maxInFlightRows = options.maxInFlightRows ?? 200_000;
  let inFlight = 0;
  let inFlightRows = 0;
  let roomWaiters: (() => void)[] = [];
  /** Settles when the last emission pushed so far settles. */
  let tail: Promise<void> = Promise.resolve();
  let failure: { readonly err: Error } | undefined;
  let fail: (err: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // Observed here so that a failure nobody awaits yet is not an unhandled rejection; callers race it.
  failed.catch(() => undefined);

  const hasRoom = () => inFlight < maxInFlight && inFlightRows < maxInFlightRows;
  /** Half the bound or more in flight: a held group goes (see the header). */
  const halfFull = () => inFlight * 2 >= maxInFlight || inFlightRows * 2 >= maxInFlightRows;

  /** When the last write group with predictions started (performance.now()); none yet: no wait. */
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Drains under way: nothing is held meanwhile. */
  let draining = 0;
  /** Set by `flush` (stopping): nothing is held any more. */
  let flushed = false;
  /** Ends the current hold early (drain, flush, half the bound, caught up); the group then starts. */
  let releaseHold: (() => void) | undefined;
  let released = false;
  function holdWrite(): Promise<void> | undefined {
    const spacing = options.backlogWrites;
    if (released) {
      released = false;
      return undefined;
    }
    // Nothing is held from half the bound on, so a caller never waits for room while a group is held.
    if (spacing === undefined || flushed || draining > 0 || halfFull()) return undefined;
    const waitMs = lastWriteAt + spacing.intervalMs - performance.now();
    if (waitMs <= 0 || !spacing.catchingUp()) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        releaseHold = undefined;
        resolve();
      }, waitMs);
      // A held write alone does not keep the process alive (what it holds is not acknowledged anyway).
      timer.unref();
      releaseHold = () => {
        clearTimeout(timer);
        releaseHold = undefined;
        released = true;
        resolve();
      };
    });
  }

  async function score(group: readonly Pending[]): Promise<Scored[]> {
    const rows: FeatureRow[] = [];
    for (const p of group) for (const r of p.emission.rows) rows.push(r);
    if (rows.length === 0) return group.map((pending) => ({ pending, scored: [] }));
    const started = performance.now();
    // Started together with the live run, on its own worker: the stage waits for the slower of the two.
    const shadowRun = options.shadow?.score(rows);
    const scored = await scorer.score(rows);
    metrics.inferenceSeconds.observe((performance.now() - started) / 1000);
    metrics.inferenceBatchRows.observe(rows.length);
    if (scored.length !== rows.length)
      throw new Error(`scorer returned ${scored.length} results for ${rows.length} rows`);
    const shadowScored = await shadowRun;
    let i = 0;
    return group.map((pending) => {
      const n = pending.emission.rows.length;
      const part = scored.slice(i, i + n);
      const shadowPart = shadowScored?.slice(i, i + n);
      i += n;
      return shadowPart === undefined
        ? { pending, scored: part }
        : { pending, scored: part, shadow: shadowPart };
    });
  }

  async function write(groups: readonly Scored[][]): Promise<Pending[]> {
    const startedAt = performance.now();
    const scoredAt = formatInstant(Date.now(), caps);
    const predictions: PredictionRow[] = [];
    const vectors: FeatureVectorRow[] = [];
    const deadLetters: DeadLetter[] = [];
    const settled: Pending[] = [];
    const alertGroups: ScoredGroup[] = [];
    const shadowRows: ShadowPredictionRow[] = [];
    for (const group of groups) {
      for (const { pending, scored, shadow } of group) {
        const e = pending.emission;
        if (scored.length > 0) alertGroups.push({ at: e.at, scored });
        const first = predictions.length;
        for (const s of scored) predictions.push(predictionRow(s, e.at, scoredAt));
        if (shadow !== undefined)
          options.shadow?.rows(shadow, predictions.slice(first), e.at, scoredAt, shadowRows);
        // The version that scored these rows (one score() call, one model), not the live one now: a
        // hot-swap may have happened between this group's ONNX run and its write.
        const version = scored[0]?.modelVersion ?? scorer.modelVersion;
        for (const r of e.rows) vectors.push(featureVectorRow(r, version, scoredAt));
        for (const d of e.deadLetters) deadLetters.push(d);
        settled.push(pending);
      }
    }
    // Alerts before the predictions: the restore resumes a machine after its latest stored prediction, so
    // predictions stored before a crash lost their alerts would never be re-scored. In this order a crash
    // in between re-scores the buckets and re-publishes the same transitions (same ids: at-least-once).
    // Feature vectors and dead letters are no resume marker: they go out meanwhile. Shadow rows go before
    // the predictions for the same reason as alerts (shadow.ts).
    // The interval runs from the last group that wrote predictions: one of side batches that closed
    // nothing (offsets to settle, maybe dead letters) does not make the first predictions of a backlog wait.
    if (predictions.length > 0) lastWriteAt = startedAt;
    const alerted = options.alerts?.publish(alertGroups);
    const shadowed = shadowRows.length === 0 ? undefined : options.shadow?.write(shadowRows);
    const before = Promise.all([alerted, shadowed]);
    await Promise.all([
      deadLetters.length === 0 ? undefined : writers.deadLetters.write(deadLetters),
      vectors.length === 0 ? undefined : writers.features.write(vectors),
      predictions.length === 0 ? before : before.then(() => writers.predictions.write(predictions)),
    ]);
    for (const d of deadLetters) metrics.deadLetters.inc({ reason: d.reason, topic: d.message.topic });
    metrics.predictions.inc(predictions.length);
    const now = Date.now();
    for (const p of settled) {
      if (p.emission.rows.length > 0)
        metrics.eventToWriteSeconds.observe((now - p.emission.receivedAtMs) / 1000);
    }
    return settled;
  }

  /** Emissions pushed and not yet settled (to fail them all if a stage fails). */
  const unsettled = new Set<Pending>();
  const input = new Subject<Pending>();
  input
    .pipe(
      coalesceWhileBusy(score, { gatherMicrotasks: true }),
      coalesceWhileBusy((groups: readonly Scored[][]) => write(groups), { hold: holdWrite }),
    )
    .subscribe({
      next: (settled) => {
        for (const p of settled) {
          inFlight--;
          inFlightRows -= p.size;
          p.resolve();
        }
        if (hasRoom()) {
          const ws = roomWaiters;
          roomWaiters = [];
          for (const w of ws) w();
        }
      },
      error: (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        failure = { err: e };
        fail(e);
        // Everything still queued fails with the stage's error: nothing of it is acknowledged.
        for (const w of roomWaiters) w();
        roomWaiters = [];
        for (const p of unsettled) p.reject(e);
        unsettled.clear();
      },
    });

  return {
    failed,
    room() {
      if (failure !== undefined) return Promise.reject(failure.err);
      if (hasRoom()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        roomWaiters.push(() => {
          if (failure !== undefined) reject(failure.err);
          else resolve();
        });
      });
    },
    push(emission) {
      if (failure !== undefined) return Promise.reject(failure.err);
      const size = emission.rows.length + emission.deadLetters.length;
      const acked = new Promise<void>((resolve, reject) => {
        const p: Pending = {
          emission,
          size,
          resolve: () => {
            unsettled.delete(p);
            resolve();
          },
          reject,
        };
        unsettled.add(p);
        inFlight++;
        inFlightRows += size;
        input.next(p);
      });
      // Caught up, or half the bound in flight: the held group goes now, not at the end of its interval.
      if (releaseHold !== undefined && (halfFull() || options.backlogWrites?.catchingUp() === false))
        releaseHold();
      tail = acked;
      return acked;
    },
    flush() {
      flushed = true;
      releaseHold?.();
    },
    drain() {
      if (failure !== undefined) return Promise.reject(failure.err);
      draining++;
      releaseHold?.();
      const done = () => {
        draining--;
      };
      tail.then(done, done);
      return tail;
    },
  };
}
