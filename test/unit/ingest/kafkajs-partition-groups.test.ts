/**
 * The producers' grouping by partition of src/ingest/kafkajs-partition-groups.ts against kafkajs's own
 * `groupMessagesPerPartition`, the oracle: the same partitions, each with the same messages (the same
 * objects) in the same order, with kafkajs's default partitioner (keyed messages, some naming their
 * partition) and with one that looks at the message's value. And the preload installs it when the project's modules load kafkajs.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { groupMessagesPerPartition, type GroupArgs } from '../../../src/ingest/kafkajs-partition-groups.js';
import { kafkajsModuleInFreshProcess } from './fresh-process.js';

const require = createRequire(import.meta.url);
interface Message {
  readonly key: string | null;
  readonly value: Buffer;
  readonly partition?: number;
}
type Group = (args: GroupArgs<Message>) => Record<number, Message[]>;
const { Partitioners } = require('kafkajs') as {
  Partitioners: { DefaultPartitioner: () => GroupArgs<Message>['partitioner'] };
};
/** kafkajs's own function, loaded afresh from its file (this process may have the fast path installed). */
function kafkajsOwn(): Group {
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  const cached = require.cache[path];
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a fresh load of that one file
  delete require.cache[path];
  try {
    return require(path) as Group;
  } finally {
    if (cached !== undefined) require.cache[path] = cached;
  }
}

/** A small deterministic generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('kafkajs partition groups: the same groups as kafkajs', () => {
  const own = kafkajsOwn();
  const metadata = (n: number) => Array.from({ length: n }, (_, p) => ({ partitionId: p, leader: 1 }));

  it('random messages, partition counts, keys and explicit partitions, two partitioners', () => {
    const next = random(10);
    const byValue: GroupArgs<Message>['partitioner'] = ({ partitionMetadata, message }) =>
      Number(message.value.toString()) % partitionMetadata.length;
    for (let round = 0; round < 200; round++) {
      const partitions = 1 + Math.floor(next() * 12);
      const messages: Message[] = Array.from({ length: Math.floor(next() * 300) }, (_, i) => ({
        key: String(Math.floor(next() * 50)),
        value: Buffer.from(String(i)),
        // kafkajs's default partitioner keeps a partition the message names.
        ...(next() < 0.2 ? { partition: Math.floor(next() * partitions) } : {}),
      }));
      for (const partitioner of [Partitioners.DefaultPartitioner(), byValue]) {
        const args = { topic: 't', partitionMetadata: metadata(partitions), messages, partitioner };
        const ours = groupMessagesPerPartition(args);
        const theirs = own(args);
        expect(ours).toEqual(theirs);
        // The same message objects, not copies.
        for (const [p, want] of Object.entries(theirs))
          (ours[Number(p)] ?? []).forEach((m, i) => {
            expect(m).toBe(want[i]);
          });
      }
    }
  });

  it('no partition metadata: no groups, as kafkajs', () => {
    const args = {
      topic: 't',
      partitionMetadata: [],
      messages: [{ key: 'a', value: Buffer.from('x') }],
      partitioner: () => 0,
    };
    expect(groupMessagesPerPartition(args)).toEqual(own(args));
    expect(groupMessagesPerPartition(args)).toEqual({});
  });

  it('is installed when the project’s modules load kafkajs (a fresh process)', () => {
    const out = kafkajsModuleInFreshProcess('kafkajs/src/producer/groupMessagesPerPartition.js', 'm.name');
    expect(out).toBe('groupMessagesPerPartition');
  });
});
