/**
 * kafkajs adapter of {@link RecordPublisher}: the only file of the producers that knows kafkajs.
 *
 * Delivery: idempotent producer (the broker drops retried duplicates), acks from all in-sync replicas, one
 * request in flight per broker (kafkajs requires it for idempotence, and it keeps a machine's records in
 * order across retries). kafkajs retries a failed request itself with the same sequence numbers; we never
 * resend a batch ourselves, because a resend would get new sequence numbers and could duplicate records.
 */
// Before kafkajs: its consumer takes the batch class when it loads (kafkajs-preload.ts).
import '../ingest/kafkajs-preload.js';
import { Kafka, Partitioners, logLevel, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import type { RecordEncoder } from '../decode/index.js';
import { kafkaSecurityOptions, producerError } from '../ingest/index.js';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { RECORD_KINDS, machineKey, type PdmEvent, type RecordKind } from '../shared/records.js';
import type { RecordPublisher } from './record-publisher.js';
import { emptyCounts, type RecordCounts } from './reference-csv-writer.js';

export interface KafkaPublisherOptions {
  readonly kafka: Pick<KafkaConfig, 'brokers' | 'clientId' | 'topics'> &
    Partial<Pick<KafkaConfig, 'sasl' | 'tls'>>;
  /** Confluent-framed Avro encoder (registers the project schemas). */
  readonly encoder: Pick<RecordEncoder, 'encode'>;
  /** Records per produce request. @default 2000 */
  readonly maxBatchRecords?: number;
  /** Longest a queued record waits for its batch to fill. @default 50 */
  readonly lingerMs?: number;
  /** Broker acknowledgement timeout of one request. @default 30_000 */
  readonly ackTimeoutMs?: number;
  /** Retries of one request inside kafkajs (same sequence numbers, so no duplicates). @default 10 */
  readonly retries?: number;
  /** kafkajs errors are logged here. @default silentLogger */
  readonly logger?: Logger;
}

interface QueuedBatch {
  readonly messages: Map<RecordKind, Message[]>;
  readonly counts: RecordCounts;
  size: number;
}

function newBatch(): QueuedBatch {
  return { messages: new Map(), counts: emptyCounts(), size: 0 };
}

/** The switch narrows each kind to its record type, which a generic call on the union cannot. */
function encodeEvent(encoder: Pick<RecordEncoder, 'encode'>, e: PdmEvent): Buffer {
  switch (e.kind) {
    case 'telemetry':
      return encoder.encode(e.kind, e.record);
    case 'errors':
      return encoder.encode(e.kind, e.record);
    case 'maintenance':
      return encoder.encode(e.kind, e.record);
    case 'machines':
      return encoder.encode(e.kind, e.record);
    case 'failures':
      return encoder.encode(e.kind, e.record);
  }
}

/** Connects an idempotent producer; rejects with a {@link TransientError} when Kafka is unreachable. */
export async function createKafkaPublisher(options: KafkaPublisherOptions): Promise<RecordPublisher> {
  const maxBatchRecords = options.maxBatchRecords ?? 2000;
  const lingerMs = options.lingerMs ?? 50;
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const logger = options.logger ?? silentLogger;
  const { brokers, topics } = options.kafka;

  const kafka = new Kafka({
    clientId: `${options.kafka.clientId}-producer`,
    brokers: [...brokers],
    // The devices' side of the same cluster: SASL/TLS exactly as the engine connects.
    ...kafkaSecurityOptions(options.kafka),
    // Only errors: kafkajs warns on every bounded-retry idempotent producer, which is what we want here.
    logLevel: logLevel.ERROR,
    logCreator: () => (entry) => {
      logger.error({ kafkajs: entry.namespace, ...entry.log }, entry.log.message);
    },
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: options.retries ?? 10, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new TransientError(`Kafka unreachable at ${brokers.join(',')}: ${errorMessage(err)}`, {
      code: 'KAFKA_UNAVAILABLE',
      stage: 'simulate',
      cause: err,
    });
  }

  const acked = emptyCounts();
  let queued = newBatch();
  let inFlight: Promise<void> | null = null;
  let inFlightSize = 0;
  let failure: PdmError | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  function throwIfFailed(): void {
    if (failure) throw failure;
    if (closed) throw new PdmError('publisher is closed', { code: 'PUBLISHER_CLOSED', stage: 'simulate' });
  }

  async function send(batch: QueuedBatch): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    for (const [kind, messages] of batch.messages) topicMessages.push({ topic: topics[kind], messages });
    try {
      await producer.sendBatch({ topicMessages, acks: -1, timeout: ackTimeoutMs });
      for (const kind of RECORD_KINDS) acked[kind] += batch.counts[kind];
    } catch (err) {
      failure ??= producerError(err, brokers, 'simulate');
    }
  }

  /** Waits for the batch in flight, then puts the queued one in flight (without waiting for it). */
  async function dispatch(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    // A loop, not an if: the linger timer and publish() may both be waiting here for the same send.
    while (inFlight) await inFlight;
    if (failure || queued.size === 0) return;
    const batch = queued;
    queued = newBatch();
    inFlightSize = batch.size;
    // send() never rejects (it records the failure), so this promise cannot go unhandled.
    inFlight = send(batch).finally(() => {
      inFlight = null;
      inFlightSize = 0;
    });
  }

  function armLinger(): void {
    if (timer || lingerMs <= 0) return;
    timer = setTimeout(() => {
      timer = null;
      // A linger send that fails records `failure`; the next publish/flush reports it.
      void dispatch();
    }, lingerMs);
    timer.unref();
  }

  return {
    async publish(events) {
      throwIfFailed();
      for (const e of events) {
        const value = encodeEvent(options.encoder, e);
        let list = queued.messages.get(e.kind);
        if (!list) {
          list = [];
          queued.messages.set(e.kind, list);
        }
        // The Kafka timestamp is the event time: the engine restores its windows by seeking by timestamp.
        const timestamp = 'ts' in e.record ? String(e.record.ts) : undefined;
        list.push(
          timestamp === undefined
            ? { key: machineKey(e.record.machineId), value }
            : { key: machineKey(e.record.machineId), value, timestamp },
        );
        queued.counts[e.kind]++;
        queued.size++;
        if (queued.size >= maxBatchRecords) {
          await dispatch();
          throwIfFailed();
        }
      }
      if (queued.size > 0) armLinger();
    },
    async flush() {
      throwIfFailed();
      await dispatch();
      if (inFlight) await inFlight;
      throwIfFailed();
    },
    counts: () => ({ ...acked }),
    pendingCount: () => queued.size + inFlightSize,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (inFlight) await inFlight;
      await producer.disconnect();
    },
  };
}
