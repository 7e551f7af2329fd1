/**
 * Everything the engine depends on, as fakes behind the project's interfaces: the record source and the
 * ClickHouse connection (see their files), a decoder reading JSON instead of Confluent Avro, and a scorer
 * whose probabilities are derived from the bucket. The writers are the real batch writers and dead-letter
 * sink, configured as `run` configures them, so the commit path under test is the production one.
 */
import { afterEach } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/index.js';
import { decodeTelemetryByRecord, type DecodeResult, type RecordDecoder } from '../../../src/decode/index.js';
import { createDeadLetterSink } from '../../../src/dlq/index.js';
import { CLASSES, type FeatureRow } from '../../../src/features/index.js';
import type { TopicPartition } from '../../../src/ingest/index.js';
import {
  createEngine,
  type Engine,
  type EngineDeps,
  type OutputWriters,
  type RowScorer,
} from '../../../src/pipeline/index.js';
import { TransientError, type DeadLetterReason } from '../../../src/shared/errors.js';
import { silentLogger, type Logger } from '../../../src/shared/logger.js';
import { createEngineMetrics, type EngineMetrics } from '../../../src/shared/metrics.js';
import type { MessageBytes } from '../../../src/shared/message-bytes.js';
import type { RecordByKind, RecordKind, TelemetryColumns } from '../../../src/shared/records.js';
import {
  createBatchWriter,
  quoteIdent,
  TABLES,
  type FeatureVectorRow,
  type PredictionRow,
} from '../../../src/sink/index.js';
import { createFakeClickHouse, MODERN_CAPS, type FakeClickHouse } from './fake-clickhouse.js';
import { createFakeSource, type FakeSource } from './fake-source.js';

export const H = 3_600_000;
/** 2015-01-01T00:00:00Z, a multiple of the 12 h bucket. */
export const T0 = Date.UTC(2015, 0, 1);
export const DATABASE = 'pdm_unit';
export const MODEL_VERSION = 'unit-model@1';

/**
 * Settings as `run` would read them, with a side-topic grace period of 2 ms and the default 12 h buckets and
 * 2 h allowed lateness. The fake source's end offsets are exact at once, but timestamps are whole
 * milliseconds: with no grace, side end offsets the assignment read (side-ends.ts `offer`) would count as
 * read after a batch fetched within the same millisecond, so whether that batch's checkpoint needs a read
 * of its own would depend on the clock. From 1 ms on it always does, unless a test sets an older sighting.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    PDM_TOPIC_PREFIX: 'u.',
    CLICKHOUSE_DATABASE: DATABASE,
    PDM_SIDE_GRACE_MS: '2',
    ...overrides,
  });
}

/** Real batch writers (flushMs 0, as in `run`) over the fake connection. */
export function createTestWriters(ch: FakeClickHouse): OutputWriters {
  const db = quoteIdent(DATABASE);
  return {
    predictions: createBatchWriter<PredictionRow>({ ch, table: `${db}.${TABLES.predictions}`, flushMs: 0 }),
    features: createBatchWriter<FeatureVectorRow>({
      ch,
      table: `${db}.${TABLES.featureVectors}`,
      flushMs: 0,
    }),
    deadLetters: createDeadLetterSink({ ch, database: DATABASE, caps: MODERN_CAPS, flushMs: 0 }),
  };
}

/** Probabilities that identify the row they were computed for: p_comp1 = machineId, p_comp2 = bucket (h). */
export function createTestScorer(): RowScorer & { readonly calls: (readonly FeatureRow[])[] } {
  const calls: (readonly FeatureRow[])[] = [];
  return {
    calls,
    modelVersion: MODEL_VERSION,
    score(rows) {
      calls.push(rows);
      return Promise.resolve(
        rows.map((r) => ({
          machineId: r.machineId,
          bucketMs: r.bucketMs,
          probabilities: [0.5, r.machineId, r.bucketMs / H, 0, 0],
          predictedIndex: 0,
          predictedClass: CLASSES[0],
          alertMask: 0,
          alertClass: CLASSES[0],
          warmingUp: false,
          modelVersion: MODEL_VERSION,
        })),
      );
    },
  };
}

/** What a test puts on a topic in place of Avro: the record as JSON, or an instruction to fail decoding. */
export type FakePayload =
  | { readonly record: Record<string, unknown> }
  | {
      readonly fail: DeadLetterReason;
      readonly message: string;
      readonly schemaId?: number;
    };

export function payload(p: FakePayload): Buffer {
  return Buffer.from(JSON.stringify(p));
}

/**
 * Decodes {@link payload} buffers; anything else (including null) is BAD_FRAME. `registryDown(n)` makes the
 * next n `prepare` calls fail as a registry outage does (a retryable error).
 */
export function createTestDecoder(): RecordDecoder & { prepared: number; registryDown(times: number): void } {
  let failures = 0;
  const decoder = {
    prepared: 0,
    registryDown(times: number) {
      failures = times;
    },
    prepare(): Promise<void> {
      decoder.prepared++;
      if (failures > 0) {
        failures--;
        return Promise.reject(
          new TransientError('schema registry unreachable: ECONNREFUSED (fake)', {
            code: 'REGISTRY_UNAVAILABLE',
            stage: 'decode',
          }),
        );
      }
      return Promise.resolve();
    },
    prepareIds(): Promise<void> {
      return decoder.prepare();
    },
    warm(): Promise<void> {
      return Promise.resolve();
    },
    decode<K extends RecordKind>(_kind: K, value: Buffer | null): DecodeResult<K> {
      let p: FakePayload | undefined;
      try {
        p = value === null ? undefined : (JSON.parse(value.toString('utf8')) as FakePayload);
      } catch {
        p = undefined;
      }
      if (p === undefined)
        return { ok: false, reason: 'BAD_FRAME', message: 'not a fake payload', schemaId: undefined };
      if ('fail' in p) return { ok: false, reason: p.fail, message: p.message, schemaId: p.schemaId };
      // The record shape is the test's responsibility, as the Avro reader schema's would be the decoder's.
      return { ok: true, record: p.record as unknown as RecordByKind[K], schemaId: 1 };
    },
    decodeTelemetry(m: MessageBytes, into: TelemetryColumns) {
      return decodeTelemetryByRecord(decoder, m, into);
    },
  };
  return decoder;
}

export interface TestEngine {
  readonly engine: Engine;
  readonly source: FakeSource;
  readonly ch: FakeClickHouse;
  readonly metrics: EngineMetrics;
  readonly config: Config;
  readonly scorer: ReturnType<typeof createTestScorer>;
  readonly decoder: ReturnType<typeof createTestDecoder>;
  readonly writers: OutputWriters;
}

/**
 * An engine over `source` and `ch` (fresh ones unless given: pass the same ones to model a restart that
 * finds the topics and the tables of the previous run).
 */
export function createTestEngine(
  options: {
    source?: FakeSource;
    ch?: FakeClickHouse;
    config?: Config;
    partitions?: number;
    earlyTelemetryEnds?: EngineDeps['earlyTelemetryEnds'];
    log?: Logger;
  } = {},
): TestEngine {
  const config = options.config ?? testConfig();
  const topics = config.kafka.topics;
  const source =
    options.source ??
    createFakeSource(
      [topics.telemetry, topics.errors, topics.maintenance, topics.machines],
      options.partitions ?? 2,
    );
  const ch = options.ch ?? createFakeClickHouse();
  const metrics = createEngineMetrics({ defaultMetrics: false });
  const scorer = createTestScorer();
  const writers = createTestWriters(ch);
  const decoder = createTestDecoder();
  const engine = createEngine({
    config,
    log: options.log ?? silentLogger,
    metrics,
    source,
    decoder,
    scorer,
    ch,
    caps: MODERN_CAPS,
    writers,
    ...(options.earlyTelemetryEnds === undefined ? {} : { earlyTelemetryEnds: options.earlyTelemetryEnds }),
  });
  return { engine, source, ch, metrics, config, scorer, decoder, writers };
}

/**
 * Call at a test file's top level: the returned function gives a fresh started engine with partitions 0
 * and 1 of the four input topics assigned; every engine it gave is stopped after each test.
 */
export function useRunningEngines(): () => Promise<TestEngine> {
  const engines: TestEngine[] = [];
  afterEach(async () => {
    for (const t of engines.splice(0)) await t.engine.stop();
  });
  return async () => {
    const t = createTestEngine();
    engines.push(t);
    await t.engine.start();
    await t.source.assign(allPartitions(t));
    return t;
  };
}

/** Partitions 0 and 1 of the engine's four input topics (what the test engines are assigned). */
export function allPartitions(t: Pick<TestEngine, 'config'>): TopicPartition[] {
  const { topics } = t.config.kafka;
  const out: TopicPartition[] = [];
  for (const topic of [topics.telemetry, topics.errors, topics.maintenance, topics.machines])
    for (let partition = 0; partition < 2; partition++) out.push({ topic, partition });
  return out;
}

/** Telemetry of one machine as stored on the topic (key = machineId, Kafka timestamp = event time). */
export function telemetry(
  machineId: number,
  ts: number,
  values: Partial<Record<'volt' | 'rotate' | 'pressure' | 'vibration', number>> = {},
) {
  return {
    key: String(machineId),
    value: payload({
      record: { machineId, ts, volt: 170, rotate: 450, pressure: 100, vibration: 40, ...values },
    }),
    timestampMs: ts,
  };
}

/** Hourly telemetry of `machineId` for `hours` hours from `fromMs`. */
export function hourly(machineId: number, fromMs: number, hours: number) {
  return Array.from({ length: hours }, (_, i) => telemetry(machineId, fromMs + i * H));
}
