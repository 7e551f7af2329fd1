/** kafkajs adapter for {@link RecordSource}: consumer group, manual commits, co-partitioned assignment. */
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { TransientError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { createKafkaClient } from './kafka-admin.js';
import type { RecordSource, RecordSourceHandlers, SourceBatch, TopicPartition } from './record-source.js';
import type { SourceMessage } from './types.js';

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
  /** Upper bound of one fetch per partition. @default 1_048_576 */
  readonly maxBytesPerPartition?: number;
}

function toSourceMessage(topic: string, partition: number, m: KafkaMessage): SourceMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    timestampMs: Number(m.timestamp),
  };
}

export function createKafkaSource(options: KafkaSourceOptions): RecordSource {
  const kafka = createKafkaClient(options.kafka, '-engine');
  const consumer: Consumer = kafka.consumer({
    groupId: options.kafka.groupId,
    partitionAssigners: [coPartitionedAssigner],
    sessionTimeout: options.sessionTimeoutMs ?? options.kafka.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
    allowAutoTopicCreation: false,
    // A handler error is ours to judge: transient ones were already retried, anything else must stop
    // the engine (uncommitted offsets make the restart lose nothing) instead of looping.
    retry: { retries: 10, restartOnFailure: () => Promise.resolve(false) },
  });
  let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Time of the latest fetch response: a batch being processed was fetched at or before it.
  let lastFetchAt = 0;
  consumer.on(consumer.events.FETCH, (e) => {
    lastFetchAt = e.timestamp;
  });
  consumer.on(consumer.events.CRASH, (e) => {
    settle?.reject(e.payload.error);
  });
  consumer.on(consumer.events.STOP, () => {
    settle?.resolve();
  });
  const admin = kafka.admin();
  let adminReady: Promise<void> | undefined;
  const withAdmin = async () => {
    adminReady ??= admin.connect();
    await adminReady;
    return admin;
  };
  let running = false;

  return {
    done,
    async start(handlers: RecordSourceHandlers) {
      try {
        await consumer.connect();
        for (const topic of options.topics) {
          await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true });
        }
      } catch (err) {
        throw new TransientError(`Kafka consumer could not start: ${errorMessage(err)}`, {
          code: 'KAFKA_UNAVAILABLE',
          stage: 'ingest',
          cause: err,
        });
      }
      // Seeks must be issued after run(); GROUP_JOIN fires after each rebalance with our new assignment.
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const assigned: TopicPartition[] = [];
        for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
          for (const partition of parts) assigned.push({ topic, partition });
        }
        options.log.info({ assigned: assigned.length, memberId: e.payload.memberId }, 'partitions assigned');
        // Hold fetching while the handler plans the restore and seeks; resume from the seeked offsets.
        const byTopic = groupByTopic(assigned);
        consumer.pause(byTopic);
        handlers
          .onAssigned(assigned)
          .then(() => {
            consumer.resume(byTopic);
          })
          .catch((err: unknown) => {
            options.log.error({ err: errorMessage(err) }, 'partition assignment handling failed; stopping');
            settle?.reject(err);
            void consumer.stop();
          });
      });
      running = true;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (batch.isEmpty()) return;
          const sourceBatch: SourceBatch = {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            fetchedAtMs: lastFetchAt > 0 ? lastFetchAt : Date.now(),
            messages: batch.messages.map((m) => toSourceMessage(batch.topic, batch.partition, m)),
          };
          const commit = await handlers.onBatch(sourceBatch, {
            heartbeat: () => payload.heartbeat(),
            isRunning: () => payload.isRunning() && !payload.isStale(),
          });
          if (!commit) return;
          // Only now is everything this batch produced acknowledged by the sinks: commit after its last offset.
          const last = batch.lastOffset();
          payload.resolveOffset(last);
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
          ]);
        },
      });
    },
    seek(tp, offset) {
      consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
    },
    async offsetForTimestamp(tp, timestampMs) {
      const a = await withAdmin();
      const res = await a.fetchTopicOffsetsByTimestamp(tp.topic, timestampMs);
      const hit = res.find((r) => r.partition === tp.partition);
      if (hit === undefined) throw new Error(`no partition ${tp.partition} in ${tp.topic}`);
      return hit.offset;
    },
    async endOffsets(topic) {
      const a = await withAdmin();
      const res = await a.fetchTopicOffsets(topic);
      return new Map(res.map((r) => [r.partition, r.high]));
    },
    async committedOffsets(topic) {
      const a = await withAdmin();
      const res = await a.fetchOffsets({ groupId: options.kafka.groupId, topics: [topic] });
      const parts = res.find((r) => r.topic === topic)?.partitions ?? [];
      return new Map(parts.map((p) => [p.partition, p.offset]));
    },
    pause(tps) {
      consumer.pause(groupByTopic(tps));
    },
    resume(tps) {
      consumer.resume(groupByTopic(tps));
    },
    async stop() {
      if (running) {
        running = false;
        // stop() waits for the batch in progress (and its commit) before leaving the group.
        await consumer.stop();
      }
      await consumer.disconnect();
      if (adminReady !== undefined) await admin.disconnect();
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
