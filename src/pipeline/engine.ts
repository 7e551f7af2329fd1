/**
 * The engine: ingest → decode → features → score → sink, dead letters → dlq, commits after acks.
 *
 *   Kafka batch ─▶ decode step ─▶ feature step ─┬─▶ flow (flow.ts): score ─▶ write ─▶ ack ─▶ commit
 *                                               │
 *   side end offsets (side-ends.ts) ─▶ checkpoint step ─┘
 *
 * A batch handler runs the synchronous steps (decode, apply to the partition's feature state, close what
 * is closable) and hands the result to the flow; it returns as soon as the flow has room, so the source
 * fetches the next batch while earlier ones are scored and written. The source commits a batch's offsets
 * when the flow acknowledged its emission, and emissions are acknowledged in order (flow.ts), so offsets
 * are committed per partition in order and only after ClickHouse stored everything before them.
 *
 * Side completeness (side-progress.ts) needs the side topics' end offsets read after each telemetry batch
 * plus a grace period; that read happens off the batch path (side-ends.ts) and its answer is a step of
 * its own that may close buckets.
 *
 * Window state is not committed anywhere: restore.ts rebuilds it by replay after every assignment.
 */
import type { Config } from '../config/index.js';
import type { RecordDecoder } from '../decode/index.js';
import type { DeadLetter } from '../dlq/index.js';
import { createFeatureEngine, type FeatureEngine } from '../features/index.js';
import type {
  BatchControl,
  BatchOutcome,
  RecordSource,
  SourceBatch,
  TopicPartition,
} from '../ingest/index.js';
import { errorMessage } from '../shared/errors.js';
import { emptyMessageBytes } from '../shared/message-bytes.js';
import { createTelemetryColumns } from '../shared/records.js';
import type { Logger } from '../shared/logger.js';
import type { EngineMetrics } from '../shared/metrics.js';
import { withRetry } from '../shared/retry.js';
import type { ClickHouseConnection, ServerCapabilities } from '../sink/index.js';
import {
  decodeBatch,
  emptyLocatedMessages,
  forgetLocated,
  prepareSchemas,
  type DecodedBatch,
  type InputKind,
} from './decode-step.js';
import { applyEvents, telemetryBounds } from './feature-step.js';
import { createFlow, type Flow } from './flow.js';
import { whileHeartbeating } from './heartbeat.js';
import { createMachineHomes } from './machine-homes.js';
import type { OutputWriters, RowScorer, SourceCoordinates } from './outputs.js';
import type { Shadow } from './shadow.js';
import {
  checkCoPartitioned,
  planRestore,
  replayStartMs,
  restoreSummary,
  type RestorePlan,
} from './restore.js';
import type { RiskAlerts } from './risk-alerts.js';
import { createLateSideWarning } from './late-side-warning.js';
import { createLogArrival, sighting, type LogSighting } from './log-arrival.js';
import { createSideEndsReader, type SideEndOffsets } from './side-ends.js';
import { createSideFirst } from './side-first.js';
import {
  addCheckpoint,
  advancePosition,
  createSideProgress,
  SIDE_KINDS,
  type SideEnds,
  type SideProgress,
} from './side-progress.js';

/** The topics the engine consumes: failures are labels for training only. */
export const ENGINE_INPUTS = [
  'telemetry',
  'errors',
  'maintenance',
  'machines',
] as const satisfies readonly InputKind[];

/**
 * Behind the log by at least this many records (all assigned partitions together), the engine is catching
 * up, and its writes are spaced (flow.ts, backlog spacing). Live, a batch leaves a few records behind at
 * most: 1,000 machines reading once an hour are 1,000 records an hour.
 */
export const BACKLOG_RECORDS = 10_000;
/** How long a partition's count of records behind holds after its last batch taken. */
const AHEAD_VALID_MS = 1_000;

interface PartitionTask {
  readonly partition: number;
  readonly features: FeatureEngine;
  readonly side: SideProgress;
}

export interface EngineDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: EngineMetrics;
  readonly source: RecordSource;
  readonly decoder: RecordDecoder;
  readonly scorer: RowScorer;
  readonly ch: ClickHouseConnection;
  readonly caps: ServerCapabilities;
  readonly writers: OutputWriters;
  /** Failure-risk alerts: written by the flow, their state restored with the engine's. Absent: none. */
  readonly alerts?: RiskAlerts;
  /** Shadow scoring (shadow.ts), passed to the flow. Absent: none. */
  readonly shadow?: Shadow;
  /**
   * The telemetry topic's end offsets read before the engine was built (start.ts reads them while the
   * scorer starts), and when: an earlier sighting of the log (log-arrival.ts) than the first restore's own,
   * so a backlog's side checkpoints count their grace period from then, and when that restore reads the
   * side end offsets a grace period or more later, its read answers them. Undefined or absent: none.
   */
  readonly earlyTelemetryEnds?: Promise<LogSighting | undefined>;
}

export interface Engine {
  /** Joins the group and starts processing; `done` settles when processing ends. */
  start(): Promise<void>;
  /**
   * Resolves only after {@link stop}; rejects on every other end (a Kafka crash or an outage longer than
   * PDM_KAFKA_OUTAGE_MAX_MS, a non-retryable error, a handler or a write that failed), with the reason.
   * Batches not yet acknowledged then stay uncommitted.
   */
  readonly done: Promise<void>;
  /** Graceful: stop fetching, write and commit every batch taken, flush writers. */
  stop(): Promise<void>;
  /** True once partitions are assigned and state restore was planned. */
  ready(): boolean;
  featureStats(): { machines: number; stateBytes: number };
}

/** Resolves when both have (outside any batch's scope, for the same reason as requestCheckpoint). */
function bothAcked(a: Promise<void>, b: Promise<void>): Promise<void> {
  return Promise.all([a, b]).then(() => undefined);
}

export function createEngine(deps: EngineDeps): Engine {
  const { config, log, metrics, source, decoder } = deps;
  const topics = config.kafka.topics;
  const kindOfTopic = new Map<string, InputKind>(ENGINE_INPUTS.map((k) => [topics[k], k]));
  const tasks = new Map<number, PartitionTask>();
  /** Next offset to process per `topic:partition`, set by the restore seek. */
  const nextOffset = new Map<string, bigint>();
  /** Partitions whose first batch after the restore seek has not arrived yet. */
  const awaitingSeek = new Set<string>();
  let assignedOnce = false;
  /** Bumped by every restore: answers and batches of an earlier assignment are dropped. */
  let generation = 0;
  /** Batches wait for the latest assignment's restore to be planned and seeked. */
  let assignment: Promise<void> = Promise.resolve();
  /** Partition number of each machine's events (kept across rebalances: a machine does not move). */
  const homes = createMachineHomes();
  /**
   * Records already in the log past each partition's last batch taken (its high watermark then, minus
   * the next offset) and when that batch was taken: how far behind the log the engine reads. A count
   * older than AHEAD_VALID_MS no longer counts: a log that ends in records fetches never return (a
   * compacted tail, an aborted transaction) must not keep a live engine "behind".
   */
  const logAhead = new Map<string, { records: number; atMs: number }>();
  function catchingUp(): boolean {
    const since = performance.now() - AHEAD_VALID_MS;
    let behind = 0;
    for (const a of logAhead.values()) if (a.atMs >= since) behind += a.records;
    return behind >= BACKLOG_RECORDS;
  }
  const flow: Flow = createFlow({
    scorer: deps.scorer,
    writers: deps.writers,
    caps: deps.caps,
    metrics,
    ...(deps.alerts === undefined ? {} : { alerts: deps.alerts }),
    ...(deps.shadow === undefined ? {} : { shadow: deps.shadow }),
    maxInFlight: config.pipeline.maxInFlightBatches,
    maxInFlightRows: config.pipeline.maxInFlightRows,
    backlogWrites: {
      intervalMs: config.pipeline.backlogWriteIntervalMs,
      catchingUp,
    },
  });
  const sideEnds = createSideEndsReader({ read: (k) => source.endOffsets(topics[k]), log });
  const telemetryArrival = createLogArrival();
  const lateSide = createLateSideWarning({ log, sideGraceMs: config.kafka.sideGraceMs });
  /**
   * The early sighting, once read, until the first restore uses it (never awaited: a restore that comes
   * first does without it). Later restores read the log again themselves: a sighting is a fact about an
   * append-only log, and a topic recreated meanwhile would make an old one claim offsets it never saw.
   */
  let earlySighting: LogSighting | undefined;
  deps.earlyTelemetryEnds?.then(
    (s) => {
      earlySighting = s;
    },
    () => undefined,
  );
  const decodeDeps = {
    decoder,
    homes,
    metrics,
    log,
    columns: createTelemetryColumns(),
    rowSources: { messageIndex: new Int32Array(0), schemaIds: new Int32Array(0) },
    bytes: emptyMessageBytes(),
    located: emptyLocatedMessages(),
  };
  const sideFirst = createSideFirst({
    telemetryTopic: topics.telemetry,
    pause: (tps) => {
      source.pause(tps);
    },
    resume: (tps) => {
      source.resume(tps);
    },
  });

  function newTask(partition: number, plan: RestorePlan): PartitionTask {
    return {
      partition,
      features: createFeatureEngine({ ...config.features, resumeAfter: plan.resumeAfter }),
      side: createSideProgress(),
    };
  }

  function onAssigned(assigned: readonly TopicPartition[]): Promise<void> {
    // What the previous assignment took is written first: the restore plan reads it back.
    assignment = flow.drain().then(() => restore(assigned));
    return assignment;
  }

  async function restore(assigned: readonly TopicPartition[]): Promise<void> {
    generation++;
    sideEnds.cancelAll();
    sideFirst.reset();
    telemetryArrival.reset();
    const { alerts } = deps;
    // Before the end offsets below are asked for: they are all read at or after it.
    const readsFromMs = Date.now();
    // Read once per topic: for the co-partitioning check, for where the side topics end (side-first), and
    // as the first side end offsets read (side-ends.ts).
    const ends = new Map<string, Promise<ReadonlyMap<number, string>>>();
    const endOffsets = (t: string): Promise<ReadonlyMap<number, string>> => {
      let e = ends.get(t);
      if (e === undefined) {
        e = source.endOffsets(t);
        ends.set(t, e);
      }
      return e;
    };
    // A failed read fails the co-partitioning check below; here it only means no sighting.
    const telemetryEnds = sighting(endOffsets(topics.telemetry));
    const [, plan] = await Promise.all([
      checkCoPartitioned(
        ENGINE_INPUTS.map((k) => topics[k]),
        endOffsets,
      ),
      withRetry(
        () =>
          planRestore({
            ch: deps.ch,
            database: config.clickhouse.database,
            modelVersion: deps.scorer.modelVersion,
            bucketMs: config.features.bucketMs,
            allowedLatenessMs: config.features.allowedLatenessMs,
          }),
        {
          onRetry: (err, attempt) => {
            log.warn(
              { attempt, err: errorMessage(err) },
              'restore planning: ClickHouse unavailable, retrying',
            );
          },
        },
      ),
      // The hysteresis state of every machine, re-read at each assignment: after a rebalance this instance
      // may score machines another instance alerted for (the flow drained first, so ours are stored too).
      alerts === undefined
        ? undefined
        : withRetry(() => alerts.restore(), {
            onRetry: (err, attempt) => {
              log.warn(
                { attempt, err: errorMessage(err) },
                'risk alert restore: ClickHouse unavailable, retrying',
              );
            },
          }),
    ]);
    const seen = await telemetryEnds;
    const early = earlySighting;
    earlySighting = undefined;
    // Oldest first: a sighting is kept only when it is past the ones observed before it (log-arrival.ts).
    // An early end past the restore's own is not the same log any more (recreated, truncated): not used.
    if (early !== undefined && seen !== undefined) {
      for (const [partition, end] of early.ends) {
        const now = seen.ends.get(partition);
        if (now !== undefined && BigInt(end) <= BigInt(now))
          telemetryArrival.observe(partition, end, early.atMs);
      }
    }
    if (seen !== undefined)
      for (const [partition, end] of seen.ends) telemetryArrival.observe(partition, end, seen.atMs);
    homes.seed(plan.homePartition);
    for (const t of tasks.values()) t.features.close();
    tasks.clear();
    nextOffset.clear();
    awaitingSeek.clear();
    logAhead.clear();
    const inputs = assigned.flatMap((tp) => {
      const kind = kindOfTopic.get(tp.topic);
      return kind === undefined ? [] : [{ tp, kind }];
    });
    // One lookup per partition, all at once (a sequential loop cost a round trip each at every start).
    const offsets = await Promise.all(
      inputs.map(({ tp, kind }) =>
        source.offsetForTimestamp(tp, replayStartMs(kind, plan.replayFromMs(tp.partition))),
      ),
    );
    const sideRead = await Promise.all(SIDE_KINDS.map((k) => endOffsets(topics[k])));
    const sideLogEnds = Object.fromEntries(SIDE_KINDS.map((k, i) => [k, sideRead[i]])) as SideEndOffsets;
    sideEnds.offer(readsFromMs, sideLogEnds);
    inputs.forEach(({ tp, kind }, i) => {
      const offset = offsets[i] as string;
      const end = kind === 'telemetry' ? undefined : sideLogEnds[kind].get(tp.partition);
      if (kind !== 'telemetry' && end !== undefined)
        sideFirst.sideStart(tp.partition, kind, BigInt(offset), BigInt(end));
      let task = tasks.get(tp.partition);
      if (task === undefined) {
        task = newTask(tp.partition, plan);
        tasks.set(tp.partition, task);
      }
      source.seek(tp, offset);
      nextOffset.set(`${tp.topic}:${tp.partition}`, BigInt(offset));
      awaitingSeek.add(`${tp.topic}:${tp.partition}`);
      if (kind !== 'telemetry') task.side.position[kind] = BigInt(offset);
    });
    log.info(restoreSummary(plan, [...tasks.keys()]), 'state restore: replaying inputs');
    assignedOnce = true;
  }

  /** Side inputs of these machines are complete up to these instants: close what that allows. */
  function completeSides(task: PartitionTask, complete: Map<number, number> | undefined): void {
    if (complete === undefined) return;
    for (const [machineId, upTo] of complete) task.features.advanceMachineSideWatermark(machineId, upTo);
  }

  /** Closes what is closable in `task` and hands it to the flow with `deadLetters`. */
  function closeAndEmit(
    task: PartitionTask,
    at: SourceCoordinates,
    deadLetters: DeadLetter[],
    receivedAtMs: number,
  ): Promise<void> {
    const closed = task.features.closeReady();
    for (const run of closed.silent) metrics.silentMachineBuckets.inc(run.buckets);
    return flow.push({ at, rows: closed.rows, deadLetters, receivedAtMs });
  }

  /**
   * The checkpoint step: the answer to a telemetry batch's end-offset request. Records the checkpoint and
   * closes what became complete; its rows are written like a batch's (in order, through the flow), and
   * the batch that asked is committed only after them.
   */
  function onSideEnds(
    gen: number,
    task: PartitionTask,
    upTo: ReadonlyMap<number, number>,
    read: SideEndOffsets | undefined,
    at: SourceCoordinates,
    receivedAtMs: number,
  ): Promise<void> | undefined {
    if (read === undefined || gen !== generation || tasks.get(task.partition) !== task) return undefined;
    const ends = {} as SideEnds;
    for (const kind of SIDE_KINDS) {
      const end = read[kind].get(task.partition);
      // Co-partitioning is checked at assignment; a missing partition means the topics changed under us.
      if (end === undefined)
        throw new Error(`no partition ${task.partition} in ${topics[kind]} (topics changed?)`);
      ends[kind] = BigInt(end);
    }
    const complete = addCheckpoint(task.side, ends, upTo);
    if (complete === undefined) return undefined;
    completeSides(task, complete);
    return closeAndEmit(task, at, [], receivedAtMs);
  }

  /**
   * The checkpoint request of a telemetry batch. Its callback lives until the side end offsets are read
   * (at least the grace period) and is created here, not in onBatch: a closure keeps the whole scope it
   * was created in alive, and onBatch's holds the batch, whose messages pin their fetch response's
   * buffers (a backfill held ~230k messages and their responses this way, promoted to the old generation).
   */
  function requestCheckpoint(
    gen: number,
    task: PartitionTask,
    upTo: ReadonlyMap<number, number>,
    at: SourceCoordinates,
    receivedAtMs: number,
    inLogByMs: number,
  ): Promise<void> {
    return sideEnds
      .request(inLogByMs + config.kafka.sideGraceMs)
      .then((read) => onSideEnds(gen, task, upTo, read, at, receivedAtMs));
  }

  const NOT_TAKEN: BatchOutcome = { taken: false };

  async function onBatch(fetched: SourceBatch, control: BatchControl): Promise<BatchOutcome> {
    // kafkajs hands over the batches of a fetch in a chain of promises, which never lets the event loop
    // run I/O callbacks; each batch holds the main thread for tens of milliseconds. Yielding here lets the
    // ONNX worker's results and ClickHouse's acknowledgements through between two batches instead of after
    // the whole fetch (the first prediction of a backlog came ~1 s later without it).
    await new Promise<void>((resolve) => setImmediate(resolve));
    await assignment;
    const receivedAt = Date.now();
    const kind = kindOfTopic.get(fetched.topic);
    const key = `${fetched.topic}:${fetched.partition}`;
    const expected = nextOffset.get(key);
    if (kind === undefined || !tasks.has(fetched.partition) || expected === undefined) {
      throw new Error(`batch for unassigned ${fetched.topic}[${fetched.partition}] (programmer error)`);
    }
    // A batch fetched from the old position before the seek took effect starts past the seek offset:
    // drop it uncommitted (the seek re-delivers). Compacted `machines` may legitimately start later.
    const first = BigInt(fetched.messages[0]?.offset ?? '0');
    if (awaitingSeek.has(key) && kind !== 'machines' && first > expected) return NOT_TAKEN;
    awaitingSeek.delete(key);
    if (kind === 'telemetry') {
      // True of the log even for a batch left untaken: later batches below it were in the log by then.
      telemetryArrival.observe(fetched.partition, fetched.highWatermark, fetched.fetchedAtMs);
      // Side topics first (side-first.ts): while this partition's sides catch up, telemetry waits.
      if (!sideFirst.takeTelemetry(fetched.partition)) return NOT_TAKEN;
    }
    const batch =
      fetched.messages.length > 0 && first < expected
        ? { ...fetched, messages: fetched.messages.filter((m) => BigInt(m.offset) >= expected) }
        : fetched;
    const last = batch.messages[batch.messages.length - 1];
    if (last === undefined) return NOT_TAKEN;
    metrics.recordsIn.inc({ topic: batch.topic }, batch.messages.length);
    metrics.batchSize.observe({ topic: batch.topic }, batch.messages.length);

    const gen = generation;
    const deadLetters: DeadLetter[] = [];
    let task: PartitionTask | undefined;
    let decoded: DecodedBatch;
    // Whatever ends this stretch (decoded, not taken, or failed), the bytes prepareSchemas located go.
    try {
      await prepareSchemas(decodeDeps, control, batch);
      // Backpressure: a batch is taken only while the flow has room (writes slower than fetching).
      await whileHeartbeating(control, flow.room());
      task = tasks.get(batch.partition);
      if (gen !== generation || task === undefined) return NOT_TAKEN;
      // From here to the push: synchronous, so no other step sees this partition's state half-applied.
      decoded = decodeBatch(decodeDeps, kind, batch, deadLetters);
    } finally {
      forgetLocated(decodeDeps.located);
    }
    const rejected = applyEvents(task.features, metrics, batch, decoded, deadLetters);
    if (kind === 'errors' || kind === 'maintenance') lateSide.record(kind, deadLetters);
    const lastOffset = BigInt(last.offset);
    nextOffset.set(key, lastOffset + 1n);
    logAhead.set(key, {
      records: Number(BigInt(batch.highWatermark) - lastOffset - 1n),
      atMs: performance.now(),
    });
    const at: SourceCoordinates = { topic: batch.topic, partition: batch.partition, offset: last.offset };
    let checkpointed: Promise<void> | undefined;
    if (kind === 'telemetry') {
      const upTo = telemetryBounds(decoded, rejected, config.features.allowedLatenessMs);
      if (upTo.size > 0) {
        const inLogBy = telemetryArrival.inLogBy(task.partition, lastOffset, fetched.fetchedAtMs);
        checkpointed = requestCheckpoint(gen, task, upTo, at, receivedAt, inLogBy);
      }
    } else {
      const next = lastOffset + 1n;
      completeSides(task, advancePosition(task.side, kind, next));
      sideFirst.sideBatch(task.partition, kind, next, BigInt(batch.highWatermark));
    }
    const emitted = closeAndEmit(task, at, deadLetters, receivedAt);
    const acked = checkpointed === undefined ? emitted : bothAcked(emitted, checkpointed);
    const st = featureStats();
    metrics.machinesTracked.set(st.machines);
    metrics.featureStateBytes.set(st.stateBytes);
    // pdm_consumer_lag_messages is read from the broker periodically (start.ts), not per batch.
    return { taken: true, acked };
  }

  function featureStats() {
    let machines = 0;
    let stateBytes = 0;
    for (const t of tasks.values()) {
      const s = t.features.stats();
      machines += s.machines;
      stateBytes += s.stateBytes;
    }
    return { machines, stateBytes };
  }

  // A write that failed for good ends the engine even when no batch is waiting on it.
  const done = Promise.race([source.done, flow.failed]);
  // Observed here as well: the failure is the caller's to report (run.ts), even before it looks.
  done.catch(() => undefined);

  return {
    start: () => source.start({ onAssigned, onBatch }),
    done,
    async stop() {
      // Checkpoints still waiting for a read are given up (the next start's restore closes those
      // buckets); the source stops fetching, waits for the acks of what it handed over and commits them.
      sideEnds.close();
      sideFirst.close();
      // Nothing waits for the backlog spacing any more: the source's stop waits for the acks.
      flow.flush();
      try {
        await source.stop();
      } finally {
        // After the source: the batch it was handling may still dead-letter late side events.
        lateSide.close();
      }
      await flow.drain().catch(() => undefined);
      await Promise.all([
        deps.writers.predictions.close(),
        deps.writers.features.close(),
        deps.writers.deadLetters.close(),
        deps.alerts?.close(),
      ]);
      for (const t of tasks.values()) t.features.close();
      tasks.clear();
    },
    ready: () => assignedOnce,
    featureStats,
  };
}
