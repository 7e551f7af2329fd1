import { z } from 'zod';

/**
 * Every setting of pdm-stream, its environment variable and its default. This file and `load.ts` are the
 * only code that knows about `process.env`. The README's settings table mirrors this list.
 */
const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  )
  .pipe(z.array(z.string()).min(1));

export const ENV_SCHEMA = z.object({
  /** Kafka bootstrap servers. When set together with SCHEMA_REGISTRY_URL and CLICKHOUSE_URL, `stack up` starts nothing. */
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().default('pdm-stream'),
  /** SASL mechanism for Kafka (unset: no SASL). Needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD. */
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  /** Never logged, never in metrics or dead-letter rows. */
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** TLS to the brokers; on by itself when a KAFKA_TLS_* file is set. SASL PLAIN without TLS sends the password in clear. */
  KAFKA_TLS: z.enum(['true', 'false']).default('false'),
  /** PEM file of the CA that signed the brokers' certificates (unset: the system's CAs). */
  KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and key for mutual TLS (both or neither). */
  KAFKA_TLS_CERT_FILE: z.string().min(1).optional(),
  KAFKA_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Verify the brokers' certificates. `false` only for a test cluster: it allows a man in the middle. */
  KAFKA_TLS_REJECT_UNAUTHORIZED: z.enum(['true', 'false']).default('true'),
  /**
   * Kafka consumer session timeout: how long a crashed engine keeps its partitions before the group
   * rebalances them to a live member.
   */
  PDM_KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).default(30_000),
  /**
   * Longest Kafka outage `run` rides out (broker unreachable at start or later): the consumer stays
   * paused, reconnects with bounded backoff and /readyz answers 503; after this long it exits non-zero.
   */
  PDM_KAFKA_OUTAGE_MAX_MS: positiveInt.default(300_000),
  /**
   * Longest time a Kafka fetch waits for data when there is none. It bounds how long the consumer idles
   * after an assignment (all partitions are paused while the restore is planned) and how long a shutdown
   * waits for the fetch in flight; new records are returned at once whatever this is.
   */
  PDM_KAFKA_FETCH_MAX_WAIT_MS: z.coerce.number().int().min(10).max(30_000).default(100),
  /**
   * Most bytes one fetch returns per partition (a batch is at most this big). 512 KiB since 2026-12-01
   * (was 1 MiB): a year's backfill peaked about 45 MB lower at a few per cent fewer events/s (README,
   * Benchmarks: memory of a backfill).
   */
  PDM_KAFKA_FETCH_MAX_BYTES_PER_PARTITION: z.coerce.number().int().min(65_536).default(524_288),
  /**
   * Batches taken from Kafka and not yet acknowledged by ClickHouse: fetching pauses at this many (or at
   * PDM_PIPELINE_MAX_IN_FLIGHT_ROWS), so slow writes hold memory bounded.
   */
  PDM_PIPELINE_MAX_IN_FLIGHT_BATCHES: positiveInt.default(128),
  /** Closed rows plus dead letters handed to scoring and writing and not yet acknowledged. */
  PDM_PIPELINE_MAX_IN_FLIGHT_ROWS: positiveInt.default(200_000),
  /**
   * While the engine reads at least 10,000 records behind the log, the least time between the starts of
   * two writes, so that what closes meanwhile goes out in one insert per table: ClickHouse pays for every
   * insert. Live it does not apply. 0: every group is written as soon as the previous write is done.
   */
  PDM_BACKLOG_WRITE_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(750),
  /**
   * How far V8 lets the heap grow past what the last full collection kept before it collects again, in
   * percent (V8's `--heap-growing-percent`, set by the engine at start: src/shared/heap-growing.ts). Left
   * to itself V8 lets it grow up to 4× while it collects fast, so a backfill's garbage, its fetch responses
   * above all, kept about 150 MB of heap and 90 MB of buffers around for a live heap of about 50 MB. 0:
   * V8's own choice.
   */
  PDM_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(1_000).default(100),
  /** How often `run` reads committed and log end offsets of its partitions for pdm_consumer_lag_messages. */
  PDM_LAG_POLL_MS: z.coerce.number().int().min(100).default(10_000),
  /** Consumer group of the engine. */
  PDM_GROUP_ID: z.string().min(1).default('pdm-stream'),
  /** Topic prefix: topics are `<prefix>telemetry`, `<prefix>errors`, … */
  PDM_TOPIC_PREFIX: z.string().default('pdm.'),
  /** Partitions of telemetry, errors and maintenance (`schemas register` creates the topics). */
  PDM_PARTITIONS: positiveInt.default(4),
  PDM_REPLICATION_FACTOR: positiveInt.default(1),
  /**
   * Base URL of the Confluent-compatible registry API. Default: the local stack's Apicurio,
   * `http://<PDM_STACK_HOST>:<PDM_STACK_REGISTRY_PORT>/apis/ccompat/v7` (http://127.0.0.1:8081/apis/ccompat/v7).
   */
  SCHEMA_REGISTRY_URL: z.url().optional(),
  /** Basic-auth user/password for the registry (optional; never logged). */
  SCHEMA_REGISTRY_USER: z.string().optional(),
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(),
  CLICKHOUSE_URL: z.url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_USER: z.string().default('default'),
  /** Never logged, never in metrics or dead-letter rows. */
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier')
    .default('pdm'),
  /** Where the local stack keeps jars, data, logs and pid files (git-ignored). */
  PDM_CACHE_DIR: z.string().default('.cache'),
  PDM_STACK_HOST: z.string().default('127.0.0.1'),
  PDM_STACK_KAFKA_PORT: port.default(9092),
  PDM_STACK_KAFKA_CONTROLLER_PORT: port.default(9093),
  PDM_STACK_REGISTRY_PORT: port.default(8081),
  /**
   * The `java` that runs the stack's Apicurio Registry 3 (Java 21+). Unset: `java` on the PATH when it is 21+,
   * else the newest JDK under /usr/lib/jvm.
   */
  PDM_STACK_APICURIO_JAVA: z.string().min(1).optional(),
  PDM_STACK_CLICKHOUSE_HTTP_PORT: port.default(8123),
  PDM_STACK_CLICKHOUSE_TCP_PORT: port.default(9000),
  /**
   * Where the local ClickHouse keeps its tables; unset: `<cache>/clickhouse/data`. A memory filesystem
   * (`/dev/shm/...`) for benchmarks and throwaway stacks on a disk that is slow to create files: ClickHouse
   * 18.16 writes two files per column for every insert. Its contents are lost at reboot.
   */
  PDM_STACK_CLICKHOUSE_DATA_DIR: z.string().min(1).optional(),
  /** Kafka version of the local stack (Maven Central, org.apache.kafka:kafka_2.13). */
  PDM_STACK_KAFKA_VERSION: z.string().default('3.9.1'),
  PDM_STACK_KAFKA_HEAP: z.string().default('-Xms256m -Xmx512m'),
  /** Scoring bucket length (feature windows are fixed by the spec). */
  PDM_BUCKET_MS: positiveInt.default(43_200_000),
  PDM_ALLOWED_LATENESS_MS: nonNegativeInt.default(7_200_000),
  /**
   * Allowed future skew: an event whose ts is later than the processing clock plus this is FUTURE_EVENT
   * (dead-lettered, not used), so a device with a wrong clock cannot move its machine's watermark.
   */
  PDM_FUTURE_SKEW_MS: nonNegativeInt.default(3_600_000),
  /** Physical ranges outside which a sensor value is INVALID_VALUE: `min:max`. */
  PDM_RANGE_VOLT: z.string().default('0:1000'),
  PDM_RANGE_ROTATE: z.string().default('0:5000'),
  PDM_RANGE_PRESSURE: z.string().default('0:1000'),
  PDM_RANGE_VIBRATION: z.string().default('0:500'),
  /** Model package directory (`models/<name>/<version>`). */
  PDM_MODEL_DIR: z.string().default('models/pdm-default/1'),
  /**
   * `run` only: a directory the engine follows for new model packages without a restart (a package, or a
   * directory of versions whose `current` entry or else highest version is used). When set, `run` starts
   * with the package it names instead of PDM_MODEL_DIR. Unset: the model never changes while running.
   */
  PDM_MODEL_WATCH_DIR: z.string().min(1).optional(),
  /** How often `run` checks PDM_MODEL_WATCH_DIR (SIGHUP checks at once); 0: only on SIGHUP. */
  PDM_MODEL_POLL_MS: nonNegativeInt.default(10_000),
  /**
   * `run` only: a second model package that scores every row as well (shadow scoring). Its predictions go to
   * `shadow_predictions` next to the live model's answer, never to `predictions`; the `shadow_agreement`
   * view and `report --shadow` compare the two. Same forms as PDM_MODEL_WATCH_DIR (a package, or a directory
   * of versions), followed the same way (PDM_MODEL_POLL_MS, SIGHUP). Unset: no shadow.
   */
  PDM_SHADOW_MODEL_DIR: z.string().min(1).optional(),
  /**
   * Before a telemetry batch may close buckets, the side topics' end offsets are read at least this long
   * after the batch was known to be in the log (its fetch, or an earlier fetch or end-offset read whose
   * high watermark was past it: src/pipeline/log-arrival.ts), so that side events produced together with
   * it (same produce request, producer batches, a retry) are seen as pending rather than missed.
   */
  PDM_SIDE_GRACE_MS: nonNegativeInt.default(250),
  PDM_SCORE_MAX_ROWS: positiveInt.default(512),
  /**
   * `score` only (default of `--max-wait-ms`). `run` never waits: rows that closed while the previous ONNX
   * run was busy form the next run (src/pipeline/flow.ts).
   */
  PDM_SCORE_MAX_WAIT_MS: nonNegativeInt.default(200),
  PDM_SINK_MAX_ROWS: positiveInt.default(10_000),
  /**
   * Failure-risk alerts (src/pipeline/risk-alerts.ts): a firing alert of a component resolves when its
   * probability falls below this fraction of the package's alert threshold (hysteresis), 0 < ratio ≤ 1.
   */
  PDM_ALERT_CLEAR_RATIO: z.coerce.number().gt(0).lte(1).default(0.8),
  PDM_HTTP_HOST: z.string().default('127.0.0.1'),
  PDM_HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
  PDM_SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof ENV_SCHEMA>;
