/**
 * Where `dlq replay` sends records: an interface, and its kafkajs implementation on the project's Kafka
 * client (createKafkaClient). Idempotent producer with acks from all in-sync replicas: kafkajs retries a
 * request with the same sequence numbers, so a retry never writes a record twice.
 */
import type { Producer } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { createKafkaClient } from '../ingest/index.js';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';

export interface RepublishMessage {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Epoch ms; undefined lets the broker stamp it (the original had none that Kafka accepts). */
  readonly timestampMs: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where a message landed. */
export interface Landed {
  readonly partition: number;
  readonly offset: string;
}

export interface Republisher {
  /**
   * Sends messages of ONE topic and partition in one request, in order, and resolves with where each
   * landed once the broker acknowledged them all.
   */
  send(messages: readonly RepublishMessage[]): Promise<Landed[]>;
  close(): Promise<void>;
}

export async function createKafkaRepublisher(
  kafka: Pick<KafkaConfig, 'brokers' | 'clientId'>,
): Promise<Republisher> {
  const producer: Producer = createKafkaClient(kafka, '-dlq-replay').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // Replays go back to the topic they came from; a missing topic is an error, not a new topic.
    allowAutoTopicCreation: false,
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new TransientError(`Kafka unreachable at ${kafka.brokers.join(',')}: ${errorMessage(err)}`, {
      code: 'KAFKA_UNAVAILABLE',
      stage: 'dlq',
      cause: err,
    });
  }
  return {
    async send(messages) {
      const first = messages[0];
      if (first === undefined) return [];
      if (messages.some((m) => m.topic !== first.topic || m.partition !== first.partition)) {
        throw new Error('send() takes messages of one topic and partition (programmer error)');
      }
      let meta;
      try {
        meta = await producer.send({
          topic: first.topic,
          acks: -1,
          messages: messages.map((m) => ({
            partition: m.partition,
            key: m.key,
            value: m.value,
            headers: { ...m.headers },
            ...(m.timestampMs === undefined ? {} : { timestamp: String(m.timestampMs) }),
          })),
        });
      } catch (err) {
        throw new PdmError(`replaying to ${first.topic}[${first.partition}] failed: ${errorMessage(err)}`, {
          code: 'DLQ_REPLAY_FAILED',
          stage: 'dlq',
          cause: err,
        });
      }
      // One request to one partition: the records got consecutive offsets from baseOffset, in order.
      const base = meta.find((r) => r.partition === first.partition)?.baseOffset;
      if (base === undefined) {
        throw new PdmError(`no acknowledgement for ${first.topic}[${first.partition}]`, {
          code: 'DLQ_REPLAY_FAILED',
          stage: 'dlq',
        });
      }
      return messages.map((_, i) => ({
        partition: first.partition,
        offset: (BigInt(base) + BigInt(i)).toString(),
      }));
    },
    close: () => producer.disconnect(),
  };
}
