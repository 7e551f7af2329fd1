/** kafkajs adapter for topic administration (the consumer and producer have their own adapter files). */
// Before kafkajs: its consumer takes the batch class when it loads (kafkajs-preload.ts).
import './kafkajs-preload.js';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig as KafkaJsConfig } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { ConfigError, TransientError, errorMessage } from '../shared/errors.js';
import { RECORD_KINDS, type RecordKind } from '../shared/records.js';
import { withRetry } from '../shared/retry.js';
import { isKafkaOutage, kafkaError } from './kafka-errors.js';
import { installCompressionCodecs } from './kafkajs-codecs.js';
import { installKafkajsFastPaths } from './kafkajs-long.js';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted: boolean;
}

export interface TopicAdmin {
  /** Creates missing topics; returns the names it created (existing ones are left as they are). */
  ensureTopics(specs: readonly TopicSpec[]): Promise<string[]>;
  /** Partition count of each existing topic. */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/**
 * The spec's topics. Telemetry, errors, maintenance and failures share one partition count so that a
 * machine's events (keyed by machineId, default partitioner) land in the same partition number on every
 * topic: the engine pairs partition p of the side topics with telemetry partition p. machines is compacted
 * (latest metadata wins) and partitioned the same way.
 */
export function projectTopicSpecs(config: KafkaConfig): TopicSpec[] {
  return RECORD_KINDS.map((kind: RecordKind) => ({
    topic: config.topics[kind],
    partitions: config.partitions,
    compacted: kind === 'machines',
  }));
}

export function createKafkaClient(
  config: Pick<KafkaConfig, 'brokers' | 'clientId' | 'sasl' | 'tls'>,
  clientSuffix = '',
): Kafka {
  // Before the client's first fetch: the decoder is chosen when kafkajs loads its Fetch response modules.
  installKafkajsFastPaths();
  // snappy, lz4 and zstd batches from librdkafka producers (kafkajs ships only gzip).
  installCompressionCodecs();
  return new Kafka({
    clientId: `${config.clientId}${clientSuffix}`,
    brokers: [...config.brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 200 },
    ...kafkaSecurityOptions(config),
  });
}

/**
 * kafkajs `ssl` and `sasl` options from KAFKA_TLS* and KAFKA_SASL_*. Certificates are read here, once per
 * client; an unreadable file is a ConfigError naming the setting (never the contents).
 */
export function kafkaSecurityOptions(
  config: Pick<KafkaConfig, 'sasl' | 'tls'>,
): Pick<KafkaJsConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaJsConfig, 'ssl' | 'sasl'> = {};
  const { tls, sasl } = config;
  if (tls !== undefined) {
    out.ssl = {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.caFile !== undefined ? { ca: [readPem('KAFKA_TLS_CA_FILE', tls.caFile)] } : {}),
      ...(tls.certFile !== undefined ? { cert: readPem('KAFKA_TLS_CERT_FILE', tls.certFile) } : {}),
      ...(tls.keyFile !== undefined ? { key: readPem('KAFKA_TLS_KEY_FILE', tls.keyFile) } : {}),
    };
  }
  if (sasl !== undefined) {
    const { username, password } = sasl;
    // One branch per mechanism: kafkajs's SASLOptions (intersections per mechanism) refuses the union.
    out.sasl =
      sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

function readPem(setting: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${errorMessage(err)}`, {
      stage: 'ingest',
      cause: err,
    });
  }
}

export function createTopicAdmin(config: KafkaConfig): TopicAdmin {
  const admin = createKafkaClient(config, '-admin').admin();
  let connected: Promise<void> | undefined;
  const connect = () => {
    connected ??= admin.connect().catch((err: unknown) => {
      connected = undefined;
      throw new TransientError(`Kafka unreachable at ${config.brokers.join(',')}: ${errorMessage(err)}`, {
        code: 'KAFKA_UNAVAILABLE',
        stage: 'ingest',
        cause: err,
      });
    });
    return connected;
  };
  /**
   * A broker that has just (re)started answers metadata requests with "does not host this topic-partition"
   * or "leader not available" until it has loaded its partitions: retry those for about half a minute,
   * then fail with one clear line (no stack trace).
   */
  const settled = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withRetry(fn, { initialMs: 250, maxMs: 5_000, maxAttempts: 10, retryOn: isKafkaOutage }).catch(
      (err: unknown) => {
        throw kafkaError(err, what);
      },
    );
  return {
    ensureTopics: (specs) => settled('creating topics', () => ensureTopics(specs)),
    partitionCounts: (topics) => settled('reading topic metadata', () => partitionCounts(topics)),
    async close() {
      if (connected !== undefined) await admin.disconnect();
    },
  };

  async function ensureTopics(specs: readonly TopicSpec[]): Promise<string[]> {
    await connect();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: config.replicationFactor,
        configEntries: s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
    return missing.map((s) => s.topic);
  }

  async function partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    await connect();
    const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
    return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  }
}
