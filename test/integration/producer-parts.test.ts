/**
 * The engine's producer (src/ingest/kafka-producer.ts) on the real broker, with kafkajs's grouping by
 * partition replaced (src/ingest/kafkajs-partition-groups.ts, installed by kafkajs-preload.ts): a send of
 * thousands of messages arrives whole, each key on one partition, in send order.
 */
import { describe, expect, it } from 'vitest';
import { createKafkaClient, createKafkaProducer } from '../../src/ingest/index.js';
import { installKafkajsFastPaths } from '../../src/ingest/kafkajs-long.js';
import { testConfig } from '../support/stack-env.js';

// The topic carries the test's token: the integration run's global teardown deletes it.
const config = testConfig();
const topic = `${config.kafka.topics.telemetry}-producer-parts`;
const kafka = createKafkaClient(config.kafka, '-producer-parts-test');
const COUNT = 2_500;
const KEYS = 37;

describe('createKafkaProducer: a send of thousands of messages', () => {
  it('arrives whole, each key on one partition, in send order', async () => {
    expect(installKafkajsFastPaths().partitionGroups).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const producer = createKafkaProducer({ kafka: config.kafka });
    try {
      await producer.send(
        topic,
        Array.from({ length: COUNT }, (_, i) => ({
          key: String(i % KEYS),
          value: Buffer.from(String(i)),
          timestampMs: 1_700_000_000_000 + i,
        })),
      );
    } finally {
      await producer.close();
    }
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    expect(ends.reduce((n, p) => n + Number(p.high), 0)).toBe(COUNT);

    const consumer = kafka.consumer({
      groupId: `${config.kafka.groupId}-producer-parts`,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    /** Per key: the partition it was found on and the sequence numbers, in log order. */
    const byKey = new Map<string, { partitions: Set<number>; seq: number[] }>();
    let seen = 0;
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const k = m.key?.toString() ?? '';
            const e = byKey.get(k) ?? { partitions: new Set<number>(), seq: [] };
            e.partitions.add(batch.partition);
            e.seq.push(Number(m.value?.toString()));
            byKey.set(k, e);
            seen++;
          }
          if (seen >= COUNT) resolve();
          await Promise.resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(seen).toBe(COUNT);
    expect(byKey.size).toBe(KEYS);
    for (const [key, { partitions, seq }] of byKey) {
      expect(partitions.size, `key ${key} on one partition`).toBe(1);
      expect(seq, `key ${key} in send order`).toEqual([...seq].sort((a, b) => a - b));
      expect(seq).toHaveLength(Math.ceil((COUNT - Number(key)) / KEYS));
    }
  });
});
