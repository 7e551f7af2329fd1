/**
 * kafkajs's grouping of a produce request's messages by partition (`producer/groupMessagesPerPartition.js`)
 * in linear time.
 *
 * kafkajs 2.2.4 copies the partition's array for every message (`[...current, message]` in a reduce), so a
 * request costs time quadratic in its messages per partition: on 4 partitions 1,000 messages took 2.5 ms of
 * the main thread, 10,000 took 101 ms and 30,000 took 434 ms (measured 2026-12-02). One write group of a
 * backlog can decide thousands of alert transitions, all published in one request (risk-alerts.ts).
 *
 * Same result: an object from partition to that partition's messages, in the order given, each partition
 * chosen by the producer's partitioner (unit-tested against kafkajs's own function). kafkajs's
 * `sendMessages.js` takes the function when it loads, so this is installed before kafkajs is:
 * kafkajs-preload.ts does it, imported ahead of kafkajs by every module that loads kafkajs.
 */
import type { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-version.js';

type Require = ReturnType<typeof createRequire>;

export interface GroupArgs<M> {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly M[];
  readonly partitioner: (args: {
    topic: string;
    partitionMetadata: readonly unknown[];
    message: M;
  }) => number;
}

const PATCHED = Symbol.for('pdm-stream.kafkajs.groupMessagesPerPartition');

export function groupMessagesPerPartition<M>(args: GroupArgs<M>): Record<number, M[]> {
  const { topic, partitionMetadata, messages, partitioner } = args;
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

/** Installs the function over kafkajs's module; false when kafkajs's producer has loaded it already. */
export function installPartitionGroups(require: Require): boolean {
  return replaceKafkajsModule(
    require,
    {
      path: 'kafkajs/src/producer/groupMessagesPerPartition.js',
      takenBy: 'kafkajs/src/producer/sendMessages.js',
    },
    PATCHED,
    () => groupMessagesPerPartition,
  );
}
