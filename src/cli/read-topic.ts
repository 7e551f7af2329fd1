/**
 * Reads one topic once, from its earliest record up to the log end offsets taken when the read starts (a
 * snapshot: records produced meanwhile are left out, so the result does not depend on how long the read
 * took), through the engine's {@link RecordSource}. Used by `training-set` for the failures topic.
 *
 * The source must belong to a consumer group of its own, without committed offsets, so that it starts at
 * the earliest record: the source commits after each batch, which is harmless in a group nobody else uses.
 */
import type { BatchOutcome, RecordSource, SourceMessage, TopicPartition } from '../ingest/index.js';
import { TransientError } from '../shared/errors.js';

/**
 * Kafka's ListOffsets sentinel for "earliest offset", which {@link RecordSource.offsetForTimestamp} passes
 * through: a partition whose records all expired has earliest = end and nothing to wait for.
 */
const EARLIEST = -2;

/** @default ms without a batch, while records are still expected, before the read fails */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export interface ReadTopicOptions {
  readonly source: Pick<RecordSource, 'start' | 'stop' | 'done' | 'endOffsets' | 'offsetForTimestamp'>;
  readonly topic: string;
  /** Messages of one batch below the snapshot's end offsets, in offset order per partition; awaited. */
  readonly onMessages: (messages: readonly SourceMessage[]) => Promise<void> | void;
  /** @default {@link DEFAULT_IDLE_TIMEOUT_MS} */
  readonly idleTimeoutMs?: number;
}

export interface ReadTopicSummary {
  readonly partitions: number;
  /** Messages handed to onMessages. */
  readonly messages: number;
}

/** A read batch is handled once `onMessages` resolved: nothing is acknowledged later. */
const TAKEN: BatchOutcome = { taken: true, acked: Promise.resolve() };

export async function readTopicToEnd(options: ReadTopicOptions): Promise<ReadTopicSummary> {
  const { source, topic } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const ends = await source.endOffsets(topic);
  /** Partition → end offset of the snapshot, for partitions that still owe records. */
  const pending = new Map<number, bigint>();
  for (const [partition, end] of ends) {
    const tp: TopicPartition = { topic, partition };
    const earliest = BigInt(await source.offsetForTimestamp(tp, EARLIEST));
    if (BigInt(end) > earliest) pending.set(partition, BigInt(end));
  }
  let messages = 0;
  if (pending.size === 0) return { partitions: ends.size, messages };

  let finish: (() => void) | undefined;
  const complete = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let lastBatchAt = Date.now();
  const positions = new Map<number, bigint>();
  await source.start({
    onAssigned: () => Promise.resolve(),
    onBatch: async (batch) => {
      lastBatchAt = Date.now();
      const end = pending.get(batch.partition);
      if (batch.topic === topic && end !== undefined) {
        const wanted = batch.messages.filter((m) => BigInt(m.offset) < end);
        if (wanted.length > 0) {
          await options.onMessages(wanted);
          messages += wanted.length;
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last !== undefined) positions.set(batch.partition, BigInt(last.offset) + 1n);
        if ((positions.get(batch.partition) ?? 0n) >= end) pending.delete(batch.partition);
        // Never stop() from here: stopping waits for the batch in progress, which is this one.
        if (pending.size === 0) finish?.();
      }
      // Handled in full above: nothing of it waits for a sink.
      return TAKEN;
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_resolve, reject) => {
    timer = setInterval(
      () => {
        if (Date.now() - lastBatchAt < idleTimeoutMs) return;
        const where = [...pending]
          .map(([p, end]) => `partition ${p} at ${positions.get(p) ?? 'start'} of ${end}`)
          .join(', ');
        reject(
          new TransientError(
            `no record of ${topic} for ${Math.round(idleTimeoutMs / 1000)} s while records are still expected (${where})`,
            { code: 'TOPIC_READ_STALLED', stage: 'ingest' },
          ),
        );
      },
      Math.min(1_000, idleTimeoutMs),
    );
  });
  try {
    // `done` settles only on a stop we asked for (not yet) or on a failure: a failure ends the read.
    await Promise.race([complete, idle, source.done]);
  } finally {
    clearInterval(timer);
    await source.stop();
  }
  return { partitions: ends.size, messages };
}
