/**
 * The engine: ingest → decode → features → score → sink, dead letters → dlq, commits after acks.
 *
 * Ordering and commits: kafkajs hands over one partition's batch at a time (partitionsConsumedConcurrently
 * = 1). A batch is decoded, applied to the feature state of its partition number, closable buckets are
 * scored and written together with the batch's dead letters, and only when ClickHouse acknowledged all of
 * it does the handler return, after which the source commits the batch's offsets. Window state is not
 * committed anywhere: restore.ts rebuilds it by replay after every assignment.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/index.js';
import type { RecordDecoder } from '../decode/index.js';
import type { DeadLetter } from '../dlq/index.js';
import {
  checkEventTime,
  createFeatureEngine,
  isDeadLetterOutcome,
  type FeatureEngine,
} from '../features/index.js';
import {
  type BatchControl,
  type RecordSource,
  type SourceBatch,
  type TopicPartition,
} from '../ingest/index.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { EngineMetrics } from '../shared/metrics.js';
import type { PdmEvent } from '../shared/records.js';
import { withRetry } from '../shared/retry.js';
import type { ClickHouseConnection, ServerCapabilities } from '../sink/index.js';
import { whileHeartbeating } from './heartbeat.js';
import { emit, type OutputWriters, type RowScorer } from './outputs.js';
import { createMachineHomes } from './machine-homes.js';
import { planRestore, replayStartMs, type RestorePlan } from './restore.js';
import {
  addCheckpoint,
  advancePosition,
  createSideProgress,
  SIDE_KINDS,
  type SideEnds,
  type SideKind,
  type SideProgress,
} from './side-progress.js';

/** The topics the engine consumes: failures are labels for training only. */
export const ENGINE_INPUTS = ['telemetry', 'errors', 'maintenance', 'machines'] as const;
type InputKind = (typeof ENGINE_INPUTS)[number];

interface PartitionTask {
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
}

export interface Engine {
  /** Joins the group and starts processing; `done` settles when processing ends. */
  start(): Promise<void>;
  /**
   * Resolves only after {@link stop}; rejects on every other end (a Kafka crash or an outage longer than
   * PDM_KAFKA_OUTAGE_MAX_MS, a non-retryable error, a handler that threw), with the reason. The batch in
   * progress then stays uncommitted.
   */
  readonly done: Promise<void>;
  /** Graceful: stop fetching, finish and commit the batch in progress, flush writers. */
  stop(): Promise<void>;
  /** True once partitions are assigned and state restore was planned. */
  ready(): boolean;
  featureStats(): { machines: number; stateBytes: number };
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
  /** The latest read of the side topics' end offsets (all partitions) and when it started. */
  let sideEnds: { readAt: number; ends: Record<SideKind, Map<number, string>> } | undefined;
  /** Batches wait for the latest assignment's restore to be planned and seeked. */
  let assignment: Promise<void> = Promise.resolve();
  /** Partition number of each machine's events (kept across rebalances: a machine does not move). */
  const homes = createMachineHomes();

  function newTask(plan: RestorePlan): PartitionTask {
    return {
      features: createFeatureEngine({ ...config.features, resumeAfter: plan.resumeAfter }),
      side: createSideProgress(),
    };
  }

  function onAssigned(assigned: readonly TopicPartition[]): Promise<void> {
    assignment = restore(assigned);
    return assignment;
  }

  /** Co-partitioning is what makes a partition's side inputs complete: refuse to run without it. */
  async function partitionCount(): Promise<number> {
    const counts = await Promise.all(
      ENGINE_INPUTS.map(async (k) => (await source.endOffsets(topics[k])).size),
    );
    if (new Set(counts).size !== 1) {
      throw new ConfigError(
        `topics ${ENGINE_INPUTS.map((k, i) => `${topics[k]}=${counts[i]}`).join(', ')} must have the same partition count (a machine's events must share a partition number)`,
        { code: 'TOPICS_NOT_COPARTITIONED', stage: 'pipeline' },
      );
    }
    return counts[0] ?? 0;
  }

  async function restore(assigned: readonly TopicPartition[]): Promise<void> {
    await partitionCount();
    const plan = await withRetry(
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
          log.warn({ attempt, err: errorMessage(err) }, 'restore planning: ClickHouse unavailable, retrying');
        },
      },
    );
    homes.seed(plan.homePartition);
    for (const t of tasks.values()) t.features.close();
    tasks.clear();
    nextOffset.clear();
    awaitingSeek.clear();
    sideEnds = undefined;
    for (const tp of assigned) {
      const kind = kindOfTopic.get(tp.topic);
      if (kind === undefined) continue;
      let task = tasks.get(tp.partition);
      if (task === undefined) {
        task = newTask(plan);
        tasks.set(tp.partition, task);
      }
      const offset = await source.offsetForTimestamp(
        tp,
        replayStartMs(kind, plan.replayFromMs(tp.partition)),
      );
      source.seek(tp, offset);
      nextOffset.set(`${tp.topic}:${tp.partition}`, BigInt(offset));
      awaitingSeek.add(`${tp.topic}:${tp.partition}`);
      if (kind !== 'telemetry') task.side.position[kind] = BigInt(offset);
    }
    log.info(
      {
        partitions: [...tasks.keys()],
        replayFrom: [...tasks.keys()].map((p) => {
          const from = plan.replayFromMs(p);
          return `${p}:${from === undefined ? 'earliest' : new Date(from).toISOString()}`;
        }),
        machinesWithOutput: plan.resumeAfter.size,
      },
      'state restore: replaying inputs',
    );
    assignedOnce = true;
  }

  /**
   * After a telemetry batch of `partition`, records a side checkpoint for that partition: "side events of
   * each machine m of the batch with ts ≤ (its telemetry max ts − lateness) are before these end offsets".
   * The end offsets must have been read at least the grace period after the batch was fetched; one read
   * (all partitions at once) serves every batch fetched early enough, so a fetch round costs one read, not
   * one per partition. Returns what became complete (machineId → side-complete instant).
   */
  async function checkpointSides(
    partition: number,
    task: PartitionTask,
    fetchedAt: number,
    upTo: ReadonlyMap<number, number>,
  ): Promise<Map<number, number> | undefined> {
    if (upTo.size === 0) return undefined;
    const notBefore = fetchedAt + config.kafka.sideGraceMs;
    if (sideEnds === undefined || sideEnds.readAt < notBefore) {
      const wait = notBefore - Date.now();
      if (wait > 0) await sleep(wait);
      const readAt = Date.now();
      const reads = await Promise.all(
        SIDE_KINDS.map(async (k) => [k, await source.endOffsets(topics[k])] as const),
      );
      sideEnds = { readAt, ends: Object.fromEntries(reads) as Record<SideKind, Map<number, string>> };
    }
    const ends = {} as SideEnds;
    for (const kind of SIDE_KINDS) {
      const end = sideEnds.ends[kind].get(partition);
      // Co-partitioning is checked at assignment; a missing partition means the topics changed under us.
      if (end === undefined)
        throw new Error(`no partition ${partition} in ${topics[kind]} (topics changed?)`);
      ends[kind] = BigInt(end);
    }
    return addCheckpoint(task.side, ends, upTo);
  }

  /** Records a dead letter and counts its reason (one place for every stage's rejections). */
  function reject(deadLetters: DeadLetter[], d: DeadLetter): void {
    metrics.outcomes.inc({ reason: d.reason });
    deadLetters.push(d);
  }

  function decodeBatch(kind: InputKind, batch: SourceBatch, deadLetters: DeadLetter[]) {
    const events: PdmEvent[] = [];
    const messageIndex: number[] = [];
    /** Writer schema id of each event, so the feature stage's dead letters name it too. */
    const schemaIds: (number | undefined)[] = [];
    batch.messages.forEach((m, i) => {
      const r = decoder.decode(kind, m.value, m.key);
      if (!r.ok) {
        reject(deadLetters, {
          message: m,
          reason: r.reason,
          stage: 'decode',
          error: r.message,
          schemaId: r.schemaId,
        });
        return;
      }
      const { machineId } = r.record;
      const schemaId = r.schemaId;
      // The restore seeks by record timestamp: an absurd one is the record's fault, never a reason to stop.
      const badTimestamp = checkEventTime(m.timestampMs, 'Kafka record timestamp');
      if (badTimestamp !== null) {
        reject(deadLetters, {
          message: m,
          reason: 'INVALID_VALUE',
          stage: 'ingest',
          error: badTimestamp,
          schemaId,
          machineId,
        });
        return;
      }
      const home = homes.check(machineId, kind === 'telemetry', batch.partition);
      if (!home.ok) {
        reject(deadLetters, {
          message: m,
          reason: 'WRONG_PARTITION',
          stage: 'pipeline',
          error: `machine ${machineId}: ${kind} record on partition ${batch.partition}, expected partition ${home.expected} (where its ${home.basis} are); all topics must be keyed by machineId and produced with one partitioner`,
          schemaId,
          machineId,
        });
        return;
      }
      if (home.conflictWith !== undefined) {
        metrics.outcomes.inc({ reason: 'WRONG_PARTITION' });
        log.error(
          { machineId, telemetryPartition: batch.partition, sidePartition: home.conflictWith },
          'machine telemetry arrived on another partition than its earlier side events (errors, maintenance or metadata); those side events are missing from its features: fix the producers partitioner and replay them',
        );
      }
      events.push({ kind, record: r.record } as PdmEvent);
      messageIndex.push(i);
      schemaIds.push(schemaId);
    });
    return { events, messageIndex, schemaIds };
  }

  async function onBatch(fetched: SourceBatch, control: BatchControl): Promise<boolean> {
    await assignment;
    const receivedAt = Date.now();
    const kind = kindOfTopic.get(fetched.topic);
    const task = tasks.get(fetched.partition);
    const key = `${fetched.topic}:${fetched.partition}`;
    const expected = nextOffset.get(key);
    if (kind === undefined || task === undefined || expected === undefined) {
      throw new Error(`batch for unassigned ${fetched.topic}[${fetched.partition}] (programmer error)`);
    }
    // A batch fetched from the old position before the seek took effect starts past the seek offset:
    // drop it uncommitted (the seek re-delivers). Compacted `machines` may legitimately start later.
    const first = BigInt(fetched.messages[0]?.offset ?? '0');
    if (awaitingSeek.has(key) && kind !== 'machines' && first > expected) return false;
    awaitingSeek.delete(key);
    const batch =
      fetched.messages.length > 0 && BigInt(fetched.messages[0]?.offset ?? '0') < expected
        ? { ...fetched, messages: fetched.messages.filter((m) => BigInt(m.offset) >= expected) }
        : fetched;
    if (batch.messages.length === 0) return false;
    metrics.recordsIn.inc({ topic: batch.topic }, batch.messages.length);
    metrics.batchSize.observe({ topic: batch.topic }, batch.messages.length);

    // A registry outage is transient: hold this batch (heartbeating) until it answers; never dead-letter.
    await whileHeartbeating(
      control,
      withRetry(() => decoder.prepare(batch.messages.map((m) => m.value)), {
        onRetry: (err, attempt, delayMs) => {
          metrics.registryErrors.inc();
          metrics.paused.set({ cause: 'registry' }, 1);
          log.warn(
            { attempt, delayMs, err: errorMessage(err) },
            'schema registry unavailable; holding batch',
          );
        },
      }),
    );
    metrics.paused.set({ cause: 'registry' }, 0);

    const deadLetters: DeadLetter[] = [];
    const { events, messageIndex, schemaIds } = decodeBatch(kind, batch, deadLetters);
    /** Indexes into `events` of those the feature stage did not use (they change no state). */
    const rejected = new Set<number>();
    for (const o of task.features.ingest(events)) {
      rejected.add(o.index);
      if (!isDeadLetterOutcome(o)) {
        metrics.outcomes.inc({ reason: o.kind });
        metrics.duplicates.inc();
        continue;
      }
      const message = batch.messages[messageIndex[o.index] ?? -1];
      if (message === undefined) throw new Error('feature outcome index out of range (programmer error)');
      reject(deadLetters, {
        message,
        reason: o.kind,
        stage: 'features',
        error: o.message,
        schemaId: schemaIds[o.index],
        machineId: o.machineId,
      });
    }

    const last = batch.messages[batch.messages.length - 1];
    if (last === undefined) return false;
    nextOffset.set(key, BigInt(last.offset) + 1n);
    const complete =
      kind !== 'telemetry'
        ? advancePosition(task.side, kind, BigInt(last.offset) + 1n)
        : await checkpointSides(
            fetched.partition,
            task,
            fetched.fetchedAtMs,
            telemetryBounds(events, rejected, config.features.allowedLatenessMs),
          );
    if (complete !== undefined) {
      for (const [machineId, upTo] of complete) task.features.advanceMachineSideWatermark(machineId, upTo);
    }
    const closed = task.features.closeReady();
    for (const run of closed.silent) metrics.silentMachineBuckets.inc(run.buckets);
    // pdm_consumer_lag_messages is read from the broker periodically (start.ts), not per batch.

    await whileHeartbeating(
      control,
      emit(
        { scorer: deps.scorer, writers: deps.writers, caps: deps.caps, metrics },
        closed.rows,
        deadLetters,
        { topic: batch.topic, partition: batch.partition, offset: last.offset },
        receivedAt,
      ),
    );
    const st = featureStats();
    metrics.machinesTracked.set(st.machines);
    metrics.featureStateBytes.set(st.stateBytes);
    return true;
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

  return {
    start: () => source.start({ onAssigned, onBatch }),
    done: source.done,
    async stop() {
      await source.stop();
      await Promise.all([
        deps.writers.predictions.close(),
        deps.writers.features.close(),
        deps.writers.deadLetters.close(),
      ]);
      for (const t of tasks.values()) t.features.close();
      tasks.clear();
    },
    ready: () => assignedOnce,
    featureStats,
  };
}

/**
 * Per machine of a telemetry batch, the bound of its side-completeness claim: its largest accepted
 * telemetry ts in the batch minus the allowed lateness (events the feature stage did not use change no
 * state, so they make no claim either).
 */
function telemetryBounds(
  events: readonly PdmEvent[],
  rejected: ReadonlySet<number>,
  allowedLatenessMs: number,
): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < events.length; i++) {
    if (rejected.has(i)) continue;
    const e = events[i] as PdmEvent;
    if (e.kind !== 'telemetry') continue;
    const bound = e.record.ts - allowedLatenessMs;
    if (bound > (out.get(e.record.machineId) ?? Number.NEGATIVE_INFINITY)) out.set(e.record.machineId, bound);
  }
  return out;
}
