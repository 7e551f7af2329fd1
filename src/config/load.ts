import { ConfigError } from '../shared/errors.js';
// The file, not features/index.js: the feature stage imports the config's types, and madge counts type
// imports, so going through the stage's index would make a cycle. window-math.ts imports no config.
import { windowGeometry } from '../features/window-math.js';
import { topicNames, type TopicNames } from '../shared/records.js';
import { ENV_SCHEMA, type Env } from './schema.js';

export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topics: TopicNames;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** See PDM_SIDE_GRACE_MS. */
  readonly sideGraceMs: number;
  readonly sessionTimeoutMs: number;
  /** See PDM_KAFKA_OUTAGE_MAX_MS. */
  readonly outageMaxMs: number;
  /** See PDM_LAG_POLL_MS. */
  readonly lagPollMs: number;
  /** See PDM_KAFKA_FETCH_MAX_WAIT_MS. */
  readonly fetchMaxWaitMs: number;
  /** See PDM_KAFKA_FETCH_MAX_BYTES_PER_PARTITION. */
  readonly fetchMaxBytesPerPartition: number;
  /** See KAFKA_SASL_*. The password is never logged (see describeConfig). */
  readonly sasl?: KafkaSaslConfig;
  /** See KAFKA_TLS*. Files are read when a client is created. */
  readonly tls?: KafkaTlsConfig;
}

export interface KafkaSaslConfig {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

export interface KafkaTlsConfig {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** @default true */
  readonly rejectUnauthorized: boolean;
}

export interface RegistryConfig {
  readonly url: string;
  readonly auth?: { readonly username: string; readonly password: string };
}

export interface ClickHouseConfig {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
}

export interface StackConfig {
  readonly cacheDir: string;
  readonly host: string;
  readonly kafkaPort: number;
  readonly kafkaControllerPort: number;
  readonly registryPort: number;
  /** The `java` for Apicurio (PDM_STACK_APICURIO_JAVA); unset = found (see src/stack/java.ts). */
  readonly apicurioJava?: string;
  readonly clickhouseHttpPort: number;
  readonly clickhouseTcpPort: number;
  /** The local ClickHouse's data directory (PDM_STACK_CLICKHOUSE_DATA_DIR); unset = `<cache>/clickhouse/data`. */
  readonly clickhouseDataDir?: string;
  readonly kafkaVersion: string;
  readonly kafkaHeapOpts: string;
  /** True when all three service URLs came from the environment: use them, start nothing. */
  readonly external: boolean;
}

export interface FeatureConfig {
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /** See PDM_FUTURE_SKEW_MS. @default 3_600_000 */
  readonly futureSkewMs?: number;
  readonly ranges: {
    readonly volt: Range;
    readonly rotate: Range;
    readonly pressure: Range;
    readonly vibration: Range;
  };
}

export interface ScoreConfig {
  readonly modelDir: string;
  readonly maxRows: number;
  /** `score` only; see PDM_SCORE_MAX_WAIT_MS. */
  readonly maxWaitMs: number;
  /** See PDM_MODEL_WATCH_DIR; unset: no hot-swap. */
  readonly modelWatchDir?: string | undefined;
  /** See PDM_MODEL_POLL_MS. @default 10_000 */
  readonly modelPollMs?: number;
  /** See PDM_SHADOW_MODEL_DIR; unset: no shadow scoring. */
  readonly shadowModelDir?: string | undefined;
}

/** How much work the engine holds between fetching and the ClickHouse acknowledgement. */
export interface PipelineConfig {
  /** See PDM_PIPELINE_MAX_IN_FLIGHT_BATCHES. */
  readonly maxInFlightBatches: number;
  /** See PDM_PIPELINE_MAX_IN_FLIGHT_ROWS. */
  readonly maxInFlightRows: number;
  /** See PDM_BACKLOG_WRITE_INTERVAL_MS; 0: no spacing. */
  readonly backlogWriteIntervalMs: number;
  /** See PDM_HEAP_GROWING_PERCENT; 0: V8's own choice. */
  readonly heapGrowingPercent: number;
}

export interface SinkConfig {
  readonly maxRows: number;
}

/** Failure-risk alerts (src/pipeline/risk-alerts.ts). */
export interface AlertsConfig {
  /** `<prefix>alerts`. */
  readonly topic: string;
  /** See PDM_ALERT_CLEAR_RATIO. */
  readonly clearRatio: number;
}

export interface OpsConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: string;
}

export interface Config {
  readonly kafka: KafkaConfig;
  readonly registry: RegistryConfig;
  readonly clickhouse: ClickHouseConfig;
  readonly stack: StackConfig;
  readonly features: FeatureConfig;
  readonly score: ScoreConfig;
  readonly pipeline: PipelineConfig;
  readonly sink: SinkConfig;
  readonly alerts: AlertsConfig;
  readonly ops: OpsConfig;
}

function parseRange(name: string, value: string): Range {
  const m = /^\s*(-?[\d.eE+-]+)\s*:\s*(-?[\d.eE+-]+)\s*$/.exec(value);
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || !Number.isFinite(min) || !Number.isFinite(max) || min >= max) {
    throw new ConfigError(`${name} must be "min:max" with min < max, got "${value}"`);
  }
  return { min, max };
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v as object);
  return Object.freeze(o);
}

/** SASL and TLS of the Kafka clients; either is absent when not configured. */
function kafkaSecurity(e: Env): { sasl?: KafkaSaslConfig; tls?: KafkaTlsConfig } {
  const out: { sasl?: KafkaSaslConfig; tls?: KafkaTlsConfig } = {};
  if (e.KAFKA_SASL_MECHANISM !== undefined) {
    if (e.KAFKA_SASL_USERNAME === undefined || e.KAFKA_SASL_PASSWORD === undefined) {
      throw new ConfigError(
        'invalid settings: KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
      );
    }
    out.sasl = {
      mechanism: e.KAFKA_SASL_MECHANISM,
      username: e.KAFKA_SASL_USERNAME,
      password: e.KAFKA_SASL_PASSWORD,
    };
  } else if (e.KAFKA_SASL_USERNAME !== undefined || e.KAFKA_SASL_PASSWORD !== undefined) {
    throw new ConfigError('invalid settings: KAFKA_SASL_USERNAME/PASSWORD need KAFKA_SASL_MECHANISM');
  }
  if ((e.KAFKA_TLS_CERT_FILE === undefined) !== (e.KAFKA_TLS_KEY_FILE === undefined)) {
    throw new ConfigError('invalid settings: KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together');
  }
  const files = {
    ...(e.KAFKA_TLS_CA_FILE !== undefined ? { caFile: e.KAFKA_TLS_CA_FILE } : {}),
    ...(e.KAFKA_TLS_CERT_FILE !== undefined ? { certFile: e.KAFKA_TLS_CERT_FILE } : {}),
    ...(e.KAFKA_TLS_KEY_FILE !== undefined ? { keyFile: e.KAFKA_TLS_KEY_FILE } : {}),
  };
  if (e.KAFKA_TLS === 'true' || Object.keys(files).length > 0) {
    out.tls = { ...files, rejectUnauthorized: e.KAFKA_TLS_REJECT_UNAUTHORIZED === 'true' };
  }
  return out;
}

/** Parses and validates settings once; the result is frozen. Throws {@link ConfigError} listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ENV_SCHEMA.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid settings: ${problems}`);
  }
  const e = parsed.data;
  // The feature geometry is checked here, not when the engine first joins the Kafka group, so that every
  // command refuses a bad bucket length at once (exit 2) instead of after connecting.
  try {
    windowGeometry(e.PDM_BUCKET_MS, e.PDM_ALLOWED_LATENESS_MS);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(`invalid settings: PDM_BUCKET_MS: ${err.message}`, { cause: err });
  }
  const kafkaAuth = kafkaSecurity(e);
  const registryAuth =
    e.SCHEMA_REGISTRY_USER !== undefined
      ? { auth: { username: e.SCHEMA_REGISTRY_USER, password: e.SCHEMA_REGISTRY_PASSWORD ?? '' } }
      : {};
  // The stack's registry (Apicurio) serves the Confluent API under a path: unset, the URL follows the stack.
  const registryUrl =
    e.SCHEMA_REGISTRY_URL ?? `http://${e.PDM_STACK_HOST}:${e.PDM_STACK_REGISTRY_PORT}/apis/ccompat/v7`;
  return deepFreeze({
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.PDM_GROUP_ID,
      topics: topicNames(e.PDM_TOPIC_PREFIX),
      partitions: e.PDM_PARTITIONS,
      replicationFactor: e.PDM_REPLICATION_FACTOR,
      sideGraceMs: e.PDM_SIDE_GRACE_MS,
      sessionTimeoutMs: e.PDM_KAFKA_SESSION_TIMEOUT_MS,
      outageMaxMs: e.PDM_KAFKA_OUTAGE_MAX_MS,
      lagPollMs: e.PDM_LAG_POLL_MS,
      fetchMaxWaitMs: e.PDM_KAFKA_FETCH_MAX_WAIT_MS,
      fetchMaxBytesPerPartition: e.PDM_KAFKA_FETCH_MAX_BYTES_PER_PARTITION,
      ...kafkaAuth,
    },
    registry: { url: registryUrl, ...registryAuth },
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
    },
    stack: {
      cacheDir: e.PDM_CACHE_DIR,
      host: e.PDM_STACK_HOST,
      kafkaPort: e.PDM_STACK_KAFKA_PORT,
      kafkaControllerPort: e.PDM_STACK_KAFKA_CONTROLLER_PORT,
      registryPort: e.PDM_STACK_REGISTRY_PORT,
      ...(e.PDM_STACK_APICURIO_JAVA === undefined ? {} : { apicurioJava: e.PDM_STACK_APICURIO_JAVA }),
      clickhouseHttpPort: e.PDM_STACK_CLICKHOUSE_HTTP_PORT,
      clickhouseTcpPort: e.PDM_STACK_CLICKHOUSE_TCP_PORT,
      ...(e.PDM_STACK_CLICKHOUSE_DATA_DIR === undefined
        ? {}
        : { clickhouseDataDir: e.PDM_STACK_CLICKHOUSE_DATA_DIR }),
      kafkaVersion: e.PDM_STACK_KAFKA_VERSION,
      kafkaHeapOpts: e.PDM_STACK_KAFKA_HEAP,
      external:
        env['KAFKA_BROKERS'] !== undefined &&
        env['SCHEMA_REGISTRY_URL'] !== undefined &&
        env['CLICKHOUSE_URL'] !== undefined,
    },
    features: {
      bucketMs: e.PDM_BUCKET_MS,
      allowedLatenessMs: e.PDM_ALLOWED_LATENESS_MS,
      futureSkewMs: e.PDM_FUTURE_SKEW_MS,
      ranges: {
        volt: parseRange('PDM_RANGE_VOLT', e.PDM_RANGE_VOLT),
        rotate: parseRange('PDM_RANGE_ROTATE', e.PDM_RANGE_ROTATE),
        pressure: parseRange('PDM_RANGE_PRESSURE', e.PDM_RANGE_PRESSURE),
        vibration: parseRange('PDM_RANGE_VIBRATION', e.PDM_RANGE_VIBRATION),
      },
    },
    score: {
      modelDir: e.PDM_MODEL_DIR,
      maxRows: e.PDM_SCORE_MAX_ROWS,
      maxWaitMs: e.PDM_SCORE_MAX_WAIT_MS,
      modelWatchDir: e.PDM_MODEL_WATCH_DIR,
      modelPollMs: e.PDM_MODEL_POLL_MS,
      shadowModelDir: e.PDM_SHADOW_MODEL_DIR,
    },
    pipeline: {
      maxInFlightBatches: e.PDM_PIPELINE_MAX_IN_FLIGHT_BATCHES,
      maxInFlightRows: e.PDM_PIPELINE_MAX_IN_FLIGHT_ROWS,
      backlogWriteIntervalMs: e.PDM_BACKLOG_WRITE_INTERVAL_MS,
      heapGrowingPercent: e.PDM_HEAP_GROWING_PERCENT,
    },
    sink: { maxRows: e.PDM_SINK_MAX_ROWS },
    alerts: { topic: `${e.PDM_TOPIC_PREFIX}alerts`, clearRatio: e.PDM_ALERT_CLEAR_RATIO },
    ops: {
      httpHost: e.PDM_HTTP_HOST,
      httpPort: e.PDM_HTTP_PORT,
      shutdownTimeoutMs: e.PDM_SHUTDOWN_TIMEOUT_MS,
      logLevel: e.LOG_LEVEL,
    },
  });
}
