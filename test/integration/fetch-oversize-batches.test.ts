/**
 * Record batches larger than the consumer's bytes per partition, on the real broker. Users may set
 * PDM_KAFKA_FETCH_MAX_BYTES_PER_PARTITION (default 512 KiB, used here) below the batches their producers make
 * (librdkafka's go up to 1,000,000 bytes by default), and a broker returns a batch above the limit only
 * as the first data of a response (KIP-74): every record must still arrive, in order, and neither
 * partition may wait until the other is drained.
 */
import { describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/ingest/index.js';
import { testConfig } from '../support/stack-env.js';

// The topic carries the test's token: the integration run's global teardown deletes it.
const config = testConfig();
const topic = `${config.kafka.topics.telemetry}-oversize`;
const kafka = createKafkaClient(config.kafka, '-oversize-test');
/** The engine's bytes per partition, from its configuration (the default unless the environment sets it). */
const LIMIT = config.kafka.fetchMaxBytesPerPartition;
/** Records of 1000 bytes per batch: one above the limit, then many below it. */
const BIG = 700;
const SMALL = 300;
const SMALL_BATCHES = 12;
const PER_PARTITION = BIG + SMALL * SMALL_BATCHES;

describe('a record batch larger than the fetch limit', () => {
  it('all arrive, in order, and neither partition waits until the other is drained', async () => {
    // The claim needs the big batch above the limit and the small ones below it (a broker refuses record
    // batches above 1,048,588 bytes by default, so this runs at limits from 300 KB to 700 KB).
    const range = 'this test needs PDM_KAFKA_FETCH_MAX_BYTES_PER_PARTITION between 300000 and 700000';
    expect(BIG * 1000, range).toBeGreaterThan(LIMIT);
    expect(SMALL * 1000, range).toBeLessThan(LIMIT);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    const value = Buffer.alloc(1000, 7);
    // Each partition: one batch of 700 KB (above the limit), then twelve of 300 KB (one fetch's worth at
    // the limit). The partition kafkajs asks for second gets its big batch only when nothing comes before
    // it in a response.
    for (const partition of [0, 1]) {
      const send = (n: number, tag: string) =>
        producer.send({
          topic,
          messages: Array.from({ length: n }, (_, i) => ({ partition, key: `${tag}-${i}`, value })),
        });
      await send(BIG, 'big');
      for (let b = 0; b < SMALL_BATCHES; b++) await send(SMALL, `${b}`);
    }
    await producer.disconnect();

    const consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      maxBytesPerPartition: LIMIT,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    /** Per partition: records delivered, and the other partition's records delivered before its first. */
    const seen = [0, 0];
    const otherBeforeFirst: Array<number | undefined> = [undefined, undefined];
    const gaps: string[] = [];
    const all = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const p = batch.partition;
          // Offsets start at 0, one per record: a batch starts where the last one ended.
          if (batch.messages.length > 0 && batch.firstOffset() !== String(seen[p]))
            gaps.push(`partition ${p}: batch at ${String(batch.firstOffset())} after ${seen[p]} records`);
          otherBeforeFirst[p] ??= seen[1 - p];
          seen[p] = (seen[p] ?? 0) + batch.messages.length;
          if (seen[0] === PER_PARTITION && seen[1] === PER_PARTITION) resolve();
          await Promise.resolve();
        },
      });
    });
    try {
      await all;
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toEqual([PER_PARTITION, PER_PARTITION]);
    expect(gaps).toEqual([]);
    // Measured 2026-12-01 (Kafka 3.9.1, kafkajs 2.2.4): 0 to 1,300 records of the other partition came
    // before a partition's first batch.
    for (const before of otherBeforeFirst) expect(before).toBeLessThan(PER_PARTITION);
  });
});
