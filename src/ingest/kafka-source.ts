/**
 * kafkajs adapter for {@link RecordSource}: consumer group, manual commits, co-partitioned assignment, and
 * the outage policy.
 *
 * One kafkajs consumer is a "session". A session ends when we stop it, when kafkajs crashes (its crash
 * path emits STOP before CRASH, so STOP alone never means "done"), when the batch or assignment handler
 * throws, or when it cannot connect. A failure that a Kafka outage explains starts (or continues) an
 * outage: the next session is opened after a bounded backoff, with a warn line per attempt, until the
 * outage has lasted `outageMaxMs`. Anything else ends the source at once. `done` resolves only after
 * `stop()`; every other end rejects it with an error that says why. Nothing is lost meanwhile: offsets
 * are committed only after the handler resolved (after the sinks acknowledged), and each new session
 * re-joins the group, so the engine re-plans its restore on GROUP_JOIN.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, ConsumerConfig, KafkaMessage } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelayMs } from '../shared/retry.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { createKafkaClient } from './kafka-admin.js';
import { kafkaError } from './kafka-errors.js';
import { installLongFastPaths } from './kafkajs-long.js';
import { createOffsetReader, type SourceAdmin } from './kafka-offsets.js';
import type { SourceHealth } from './source-health.js';
import type {
  BatchOutcome,
  RecordSource,
  RecordSourceHandlers,
  SourceBatch,
  TopicPartition,
} from './record-source.js';
import type { SourceMessage } from './types.js';

/** The parts of a kafkajs consumer and admin the source uses (tests substitute fakes). */
export type SourceConsumer = Pick<
  Consumer,
  | 'connect'
  | 'disconnect'
  | 'subscribe'
  | 'run'
  | 'seek'
  | 'pause'
  | 'resume'
  | 'commitOffsets'
  | 'on'
  | 'events'
>;
export interface SourceClient {
  consumer(config: ConsumerConfig): SourceConsumer;
  admin(): SourceAdmin;
}
export type { SourceHealth } from './source-health.js';
export type { SourceAdmin } from './kafka-offsets.js';

export interface KafkaSourceOptions {
  readonly kafka: KafkaConfig;
  readonly topics: readonly string[];
  readonly log: Logger;
  /** Where a group without committed offsets starts. @default true (earliest) */
  readonly fromBeginning?: boolean;
  /** @default kafka.sessionTimeoutMs (PDM_KAFKA_SESSION_TIMEOUT_MS) */
  readonly sessionTimeoutMs?: number;
  /** @default 3_000 */
  readonly heartbeatIntervalMs?: number;
  /** Upper bound of one fetch per partition. @default kafka.fetchMaxBytesPerPartition */
  readonly maxBytesPerPartition?: number;
  /** Longest wait of a fetch without data. @default kafka.fetchMaxWaitMs */
  readonly maxWaitTimeInMs?: number;
  /** Longest Kafka outage ridden out, at start or later. @default kafka.outageMaxMs (PDM_KAFKA_OUTAGE_MAX_MS) */
  readonly outageMaxMs?: number;
  /** First wait before a new session during an outage. @default 1_000 */
  readonly retryInitialMs?: number;
  /** Longest wait between sessions during an outage. @default 15_000 */
  readonly retryMaxMs?: number;
  /** Called on every health change (metrics). */
  readonly onHealth?: (health: SourceHealth) => void;
  /** @default the kafkajs client of `kafka` */
  readonly client?: SourceClient;
}

export interface KafkaRecordSource extends RecordSource {
  health(): SourceHealth;
  /** Partitions of the current session's assignment (empty between sessions). */
  assigned(): readonly TopicPartition[];
}

interface BatchCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string | null;
  readonly lastOffset: string;
}

type SessionEnd = { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: PdmError };

interface Session {
  readonly consumer: SourceConsumer;
  /**
   * Last sign of a working broker: when the session started connecting, then every fetch response. An
   * outage is timed from the failed session's last sign of life.
   */
  aliveAtMs: number;
  assigned: TopicPartition[];
  /** The batch handler in progress (settled when none). */
  handling: Promise<void>;
  /** Commits of taken batches, chained in the order the batches were taken. */
  commits: Promise<void>;
  end: SessionEnd | undefined;
  readonly ended: Promise<SessionEnd>;
  finish(end: SessionEnd): void;
}

function toSourceMessage(topic: string, partition: number, m: KafkaMessage): SourceMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    timestampMs: Number(m.timestamp),
    headers: m.headers,
  };
}

/** kafkajs emits STOP before CRASH; a STOP without CRASH after this long is an unexplained end. */
const CRASH_AFTER_STOP_MS = 10_000;

export function createKafkaSource(options: KafkaSourceOptions): KafkaRecordSource {
  const { log } = options;
  if (!installLongFastPaths()) log.debug('kafkajs Long fast paths not installed (unknown kafkajs layout)');
  const client: SourceClient = options.client ?? createKafkaClient(options.kafka, '-engine');
  const outageMaxMs = options.outageMaxMs ?? options.kafka.outageMaxMs;
  const retryInitialMs = options.retryInitialMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 15_000;
  const consumerConfig: ConsumerConfig = {
    groupId: options.kafka.groupId,
    partitionAssigners: [coPartitionedAssigner],
    sessionTimeout: options.sessionTimeoutMs ?? options.kafka.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
    maxBytesPerPartition: options.maxBytesPerPartition ?? options.kafka.fetchMaxBytesPerPartition,
    // kafkajs sleeps this long whenever every assigned partition is paused (during each restore), and a
    // disconnect waits for the fetch in flight: short, so neither a start nor a stop idles for seconds.
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? options.kafka.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    // kafkajs retries a failing fetch or commit a few times (≈ 9 s), then crashes; the outage policy
    // above takes over from there with a new session, so kafkajs must never restart by itself.
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  };

  let health: SourceHealth = { state: 'starting' };
  const setHealth = (h: SourceHealth) => {
    health = h;
    options.onHealth?.(h);
  };
  let started = false;
  let stopRequested = false;
  // A function, not the variable: stop() flips it while the session loop awaits.
  const stopping = () => stopRequested;
  const stopAbort = new AbortController();
  let current: Session | undefined;
  let outageSinceMs: number | undefined;
  let outageAttempt = 0;
  let firstHealthy: { resolve: () => void } | undefined;
  const firstHealthyPromise = new Promise<void>((resolve) => {
    firstHealthy = { resolve };
  });
  let settleDone: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settleDone = { resolve, reject };
  });
  let loop: Promise<void> | undefined;

  const offsets = createOffsetReader(() => client.admin(), options.kafka.groupId, log);

  function markHealthy(): void {
    if (outageSinceMs !== undefined) {
      log.info({ outageMs: Date.now() - outageSinceMs }, 'Kafka available again; consuming');
    }
    outageSinceMs = undefined;
    outageAttempt = 0;
    setHealth({ state: 'running' });
    firstHealthy?.resolve();
  }

  function openSession(handlers: RecordSourceHandlers): Session {
    const consumer = client.consumer(consumerConfig);
    let finishEnded: ((end: SessionEnd) => void) | undefined;
    const ended = new Promise<SessionEnd>((resolve) => {
      finishEnded = resolve;
    });
    const s: Session = {
      consumer,
      aliveAtMs: Date.now(),
      assigned: [],
      handling: Promise.resolve(),
      commits: Promise.resolve(),
      end: undefined,
      ended,
      finish(end) {
        if (s.end !== undefined) return;
        s.end = end;
        finishEnded?.(end);
      },
    };
    const fail = (err: unknown, what: string) => {
      if (s.end === undefined && !stopRequested) s.finish({ kind: 'failed', error: kafkaError(err, what) });
    };
    // Time of the latest fetch response: a batch being processed was fetched at or before it.
    let lastFetchAt = 0;
    consumer.on(consumer.events.FETCH, (e) => {
      lastFetchAt = e.timestamp;
      s.aliveAtMs = e.timestamp;
    });
    // While a batch is held (a sink or the registry down) nothing is fetched, but heartbeats continue.
    consumer.on(consumer.events.HEARTBEAT, (e) => {
      s.aliveAtMs = e.timestamp;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      fail(e.payload.error, 'Kafka consumer crashed');
    });
    consumer.on(consumer.events.STOP, () => {
      if (s.end !== undefined || stopRequested) return;
      // Not ours: kafkajs's crash path, whose CRASH event (with the reason) follows.
      setTimeout(() => {
        fail(
          new TransientError('Kafka consumer stopped without reporting a crash', {
            code: 'KAFKA_UNAVAILABLE',
            stage: 'ingest',
          }),
          'Kafka consumer stopped',
        );
      }, CRASH_AFTER_STOP_MS).unref();
    });
    // Seeks must be issued after run(); GROUP_JOIN fires after each rebalance with our new assignment.
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned: TopicPartition[] = [];
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of parts) assigned.push({ topic, partition });
      }
      s.assigned = assigned;
      log.info({ assigned: assigned.length, memberId: e.payload.memberId }, 'partitions assigned');
      // Hold fetching while the handler plans the restore and seeks; resume from the seeked offsets.
      const byTopic = groupByTopic(assigned);
      consumer.pause(byTopic);
      handlers.onAssigned(assigned).then(
        () => {
          if (s.end !== undefined) return;
          consumer.resume(byTopic);
          markHealthy();
        },
        (err: unknown) => {
          if (s.end !== undefined) return;
          const e2 = kafkaError(err, 'partition assignment handling failed');
          logHandlerFailure(e2, err, {});
          s.finish({ kind: 'failed', error: e2 });
        },
      );
    });
    const failBatch = (at: BatchCoordinates, err: unknown) => {
      // Not rethrown: kafkajs would retry the handler on the same batch. The session ends instead; nothing
      // of this batch is committed, and the next session (if any) restores from scratch.
      const e = kafkaError(err, `batch handler failed on ${at.topic}[${at.partition}]`);
      logHandlerFailure(e, err, { ...at });
      s.finish({ kind: 'failed', error: e });
    };
    /**
     * Commits after the batch's last offset once everything it produced is acknowledged, after the commits
     * of the batches taken before it. Declared outside eachBatch and given plain values: it outlives the
     * batch, whose messages must not stay reachable through its closure until the commit.
     */
    const commitWhenAcked = (at: BatchCoordinates, acked: Promise<void>) => {
      const offset = (BigInt(at.lastOffset) + 1n).toString();
      s.commits = s.commits.then(async () => {
        try {
          await acked;
        } catch (err) {
          failBatch(at, err);
          return;
        }
        if (s.end?.kind === 'failed') return;
        await consumer
          .commitOffsets([{ topic: at.topic, partition: at.partition, offset }])
          .catch((err: unknown) => {
            // A rebalance or a broker gone: kafkajs re-joins or the session ends; the batch is read again
            // by whoever owns the partition then, and its outputs are idempotent.
            log.warn({ ...at, err: errorMessage(err) }, 'offset commit failed; the batch will be read again');
          });
      });
    };
    (async () => {
      await consumer.connect();
      for (const topic of options.topics) {
        await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true });
      }
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          // After a failure the session is being torn down, and after stop() nothing new is taken: leave
          // batches already fetched unprocessed (not resolved, so never committed).
          if (s.end !== undefined || stopRequested || batch.isEmpty()) return;
          const sourceBatch: SourceBatch = {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            fetchedAtMs: lastFetchAt > 0 ? lastFetchAt : Date.now(),
            messages: batch.messages.map((m) => toSourceMessage(batch.topic, batch.partition, m)),
          };
          const at: BatchCoordinates = {
            topic: batch.topic,
            partition: batch.partition,
            firstOffset: batch.firstOffset(),
            lastOffset: batch.lastOffset(),
          };
          const handled = handlers.onBatch(sourceBatch, { heartbeat: () => payload.heartbeat() });
          s.handling = handled.then(
            () => undefined,
            () => undefined,
          );
          let outcome: BatchOutcome;
          try {
            outcome = await handled;
          } catch (err) {
            failBatch(at, err);
            return;
          }
          if (!outcome.taken) return;
          // Taken: kafkajs fetches on from after this batch.
          payload.resolveOffset(at.lastOffset);
          commitWhenAcked(at, outcome.acked);
        },
      });
    })().catch((err: unknown) => {
      fail(err, 'Kafka consumer could not start');
    });
    return s;
  }

  function logHandlerFailure(e: PdmError, original: unknown, where: Record<string, unknown>): void {
    if (e.retryable) {
      log.warn({ ...where, code: e.code, err: e.message }, 'transient failure while handling Kafka input');
      return;
    }
    const stack = original instanceof Error && !(original instanceof PdmError) ? original.stack : undefined;
    log.error(
      { ...where, code: e.code, err: e.message, ...(stack === undefined ? {} : { stack }) },
      'handler failed; stopping the consumer without committing the batch',
    );
  }

  async function runSessions(handlers: RecordSourceHandlers): Promise<void> {
    for (;;) {
      if (stopRequested) return;
      const s = openSession(handlers);
      current = s;
      const end = await s.ended;
      current = undefined;
      s.assigned = [];
      if (end.kind === 'stopped') return;
      // A failure that no outage explains (a write rejected for good) is reported even during a stop.
      if (stopping() && end.error.retryable) return;
      // Tear down before anything else: no batch of this session may run alongside the next one.
      await s.consumer.disconnect().catch((err: unknown) => {
        log.debug({ err: errorMessage(err) }, 'Kafka consumer disconnect after failure');
      });
      const err = end.error;
      if (!err.retryable) throw err;
      if (stopping()) return;
      const now = Date.now();
      outageSinceMs ??= s.aliveAtMs;
      const outageMs = now - outageSinceMs;
      if (outageMs >= outageMaxMs) {
        throw new PdmError(
          `Kafka unavailable for ${Math.round(outageMs / 1000)} s, longer than PDM_KAFKA_OUTAGE_MAX_MS=${outageMaxMs}; last error: ${err.message}`,
          { code: 'KAFKA_OUTAGE_TOO_LONG', stage: 'ingest', cause: err },
        );
      }
      outageAttempt++;
      const delayMs = Math.min(
        backoffDelayMs(outageAttempt - 1, retryInitialMs, retryMaxMs),
        outageMaxMs - outageMs,
      );
      setHealth({
        state: 'unavailable',
        sinceMs: outageSinceMs,
        attempt: outageAttempt,
        reason: err.message,
      });
      log.warn(
        {
          attempt: outageAttempt,
          delayMs,
          outageMs,
          outageMaxMs,
          brokers: options.kafka.brokers,
          err: err.message,
        },
        'Kafka unavailable; consumer paused, retrying',
      );
      try {
        await sleep(delayMs, undefined, { signal: stopAbort.signal });
      } catch {
        return; // stop() during the wait
      }
    }
  }

  return {
    done,
    health: () => health,
    assigned: () => current?.assigned ?? [],
    start(handlers: RecordSourceHandlers) {
      if (started) return Promise.reject(new Error('Kafka source started twice (programmer error)'));
      started = true;
      loop = runSessions(handlers).then(
        () => {
          setHealth({ state: 'stopped' });
          settleDone?.resolve();
        },
        (err: unknown) => {
          setHealth({ state: 'failed', reason: errorMessage(err) });
          settleDone?.reject(err);
        },
      );
      // Resolves once the first session is consuming, or when the source ended before (done says how).
      return Promise.race([firstHealthyPromise, done.catch(() => undefined)]);
    },
    seek(tp, offset) {
      current?.consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
    },
    pause(tps) {
      current?.consumer.pause(groupByTopic(tps));
    },
    resume(tps) {
      // stop() paused everything: nothing may start fetching again while it drains.
      if (!stopRequested) current?.consumer.resume(groupByTopic(tps));
    },
    offsetForTimestamp: (tp, timestampMs) => offsets.offsetForTimestamp(tp, timestampMs),
    endOffsets: (topic) => offsets.endOffsets(topic),
    committedOffsets: (topic) => offsets.committedOffsets(topic),
    async stop() {
      stopRequested = true;
      stopAbort.abort();
      const s = current;
      if (s !== undefined) {
        // Nothing new is taken from here on; what was taken is acknowledged and committed while the
        // session is still a group member, then disconnect() leaves the group.
        if (s.assigned.length > 0) s.consumer.pause(groupByTopic(s.assigned));
        await s.handling;
        await s.commits;
        await s.consumer.disconnect().catch((err: unknown) => {
          log.warn({ err: errorMessage(err) }, 'Kafka consumer did not disconnect cleanly');
        });
        s.finish({ kind: 'stopped' });
      }
      await loop;
      await offsets.close();
      if (!started) {
        setHealth({ state: 'stopped' });
        settleDone?.resolve();
      }
    },
  };
}

function groupByTopic(tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of tps) {
    const list = m.get(tp.topic) ?? [];
    list.push(tp.partition);
    m.set(tp.topic, list);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}
