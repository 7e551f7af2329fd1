/**
 * kafkajs adapter of {@link MessageProducer}: the engine's own output to Kafka (the failure-risk alerts).
 *
 * Delivery: idempotent producer (the broker drops the duplicates of kafkajs's own retries), acks from all
 * in-sync replicas, one request in flight (kafkajs requires it for idempotence; it also keeps a key's
 * messages in order across retries). `send` resolves only once the broker acknowledged every message, so a
 * caller that acknowledges its input after `send` loses nothing in a crash.
 */
// Before kafkajs: its consumer takes the batch class when it loads (kafkajs-preload.ts).
import './kafkajs-preload.js';
import { Partitioners, type Producer } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';
import { createKafkaClient } from './kafka-admin.js';

export interface ProducedMessage {
  readonly key: string;
  readonly value: Buffer;
  /** Kafka timestamp, epoch ms. */
  readonly timestampMs: number;
}

/** What the engine needs to publish to Kafka (house style rule 1: kafkajs stays in this folder). */
export interface MessageProducer {
  /**
   * Connects ahead of the first `send` (which otherwise connects itself), so that the first messages do
   * not wait for it; rejects like `send` when the broker cannot be reached.
   */
  connect(): Promise<void>;
  /** Resolves when every message is acknowledged by all in-sync replicas. */
  send(topic: string, messages: readonly ProducedMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaProducerOptions {
  readonly kafka: Pick<KafkaConfig, 'brokers' | 'clientId' | 'sasl' | 'tls'>;
  /** Broker acknowledgement timeout of one request. @default 30_000 */
  readonly ackTimeoutMs?: number;
  /** Retries of one request inside kafkajs (same sequence numbers, so no duplicates). @default 10 */
  readonly retries?: number;
}

/**
 * A kafkajs produce failure as one of ours: broker trouble is transient, a refused message is not. Shared
 * by every producer of the project (the engine's alerts, the simulator's publisher).
 */
export function producerError(
  err: unknown,
  brokers: readonly string[],
  stage: 'ingest' | 'simulate' = 'ingest',
): PdmError {
  const name = err instanceof Error ? err.name : '';
  const transient =
    (err as { retriable?: unknown } | null)?.retriable === true ||
    name === 'KafkaJSNumberOfRetriesExceeded' ||
    name === 'KafkaJSConnectionError' ||
    name === 'KafkaJSRequestTimeoutError';
  const message = `Kafka produce to ${brokers.join(',')} failed: ${errorMessage(err)}`;
  return transient
    ? new TransientError(message, { code: 'KAFKA_PRODUCE_FAILED', stage, cause: err })
    : new PdmError(message, { code: 'KAFKA_PRODUCE_REJECTED', stage, cause: err });
}

/** Creates the producer; it connects on the first `send` (and reconnects after an outage). */
export function createKafkaProducer(options: KafkaProducerOptions): MessageProducer {
  const { brokers } = options.kafka;
  const producer: Producer = createKafkaClient(options.kafka, '-producer').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: options.retries ?? 10, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  let connected: Promise<void> | undefined;
  let closed = false;
  const connect = () => {
    // A connect after close (an alerts setup still in flight when the engine stopped) would leave a
    // connection nobody closes, and the process would not exit.
    if (closed)
      return Promise.reject(
        new PdmError('Kafka producer is closed', { code: 'PRODUCER_CLOSED', stage: 'ingest' }),
      );
    connected ??= producer.connect().catch((err: unknown) => {
      connected = undefined;
      throw producerError(err, brokers);
    });
    return connected;
  };
  return {
    connect,
    async send(topic, messages) {
      if (messages.length === 0) return;
      await connect();
      try {
        await producer.send({
          topic,
          acks: -1,
          timeout: options.ackTimeoutMs ?? 30_000,
          messages: messages.map((m) => ({ key: m.key, value: m.value, timestamp: String(m.timestampMs) })),
        });
      } catch (err) {
        throw producerError(err, brokers);
      }
    },
    async close() {
      closed = true;
      if (connected === undefined) return;
      // A connect that failed left nothing open: only a connected producer is disconnected.
      const open = await connected.then(
        () => true,
        () => false,
      );
      if (open) await producer.disconnect();
    },
  };
}
