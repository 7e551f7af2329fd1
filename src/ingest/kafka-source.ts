/**
 * kafkajs adapter for {@link RecordSource}: consumer group, manual commits, co-partitioned assignment, and
 * the outage policy.
 *
 * One kafkajs consumer is a "session" (kafka-session.ts). A session ends when we stop it, when kafkajs
 * crashes (its crash path emits STOP before CRASH, so STOP alone never means "done"), when the batch or
 * assignment handler throws, or when it cannot connect. A failure that a Kafka outage explains starts (or
 * continues) an outage: the next session is opened after a bounded backoff, with a warn line per attempt,
 * until the outage has lasted `outageMaxMs`. Anything else ends the source at once. `done` resolves only after
 * `stop()`; every other end rejects it with an error that says why. Nothing is lost meanwhile: offsets
 * are committed only after the handler resolved (after the sinks acknowledged), and each new session
 * re-joins the group, so the engine re-plans its restore on GROUP_JOIN.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumerConfig } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { PdmError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelayMs } from '../shared/retry.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { createKafkaClient } from './kafka-admin.js';
import { installKafkajsFastPaths } from './kafkajs-long.js';
import { createOffsetReader, type SourceAdmin } from './kafka-offsets.js';
import type { SourceHealth } from './source-health.js';
import { groupByTopic, openSession, type Session, type SourceConsumer } from './kafka-session.js';
import type { RecordSource, RecordSourceHandlers, TopicPartition } from './record-source.js';

export type { SourceConsumer } from './kafka-session.js';
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

export function createKafkaSource(options: KafkaSourceOptions): KafkaRecordSource {
  const { log } = options;
  const fast = installKafkajsFastPaths();
  if (!fast.long || !fast.fetchDecode || !fast.batch)
    log.debug({ ...fast }, 'kafkajs fast paths not all installed (unknown kafkajs layout)');
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

  async function runSessions(handlers: RecordSourceHandlers): Promise<void> {
    for (;;) {
      if (stopRequested) return;
      const s = openSession(
        {
          consumer: client.consumer(consumerConfig),
          topics: options.topics,
          fromBeginning: options.fromBeginning ?? true,
          log,
          isStopping: stopping,
          markHealthy,
        },
        handlers,
      );
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
      if (current === undefined) return;
      for (const tp of tps) current.held.add(`${tp.topic}:${tp.partition}`);
      current.consumer.pause(groupByTopic(tps));
    },
    resume(tps) {
      if (current === undefined) return;
      for (const tp of tps) current.held.delete(`${tp.topic}:${tp.partition}`);
      // stop() paused everything: nothing may start fetching again while it drains.
      if (!stopRequested) current.consumer.resume(groupByTopic(tps));
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
