/** Composition root of `pdm-stream run`: builds every stage from settings and wires them. */
import type { Config } from '../config/index.js';
import { createRecordDecoder, createSchemaRegistryClient, loadProjectSchemas } from '../decode/index.js';
import { createDeadLetterSink } from '../dlq/index.js';
import type { FeatureRow } from '../features/index.js';
import { createKafkaSource } from '../ingest/index.js';
import { createPackageScorer, createMicroBatcher, loadModelPackage } from '../score/index.js';
import type { Logger } from '../shared/logger.js';
import { createEngineMetrics, type EngineMetrics } from '../shared/metrics.js';
import {
  createBatchWriter,
  createClickHouse,
  migrate,
  quoteIdent,
  TABLES,
  type FeatureVectorRow,
  type PredictionRow,
} from '../sink/index.js';
import { createEngine, ENGINE_INPUTS, type Engine } from './engine.js';
import { startOpsServer, type OpsServer } from './ops-server.js';

export interface RunningEngine {
  readonly engine: Engine;
  readonly ops: OpsServer;
  readonly metrics: EngineMetrics;
  readonly modelVersion: string;
  /** Stops fetching, drains, writes, commits, closes everything. */
  stop(): Promise<void>;
}

export async function startEngine(config: Config, log: Logger): Promise<RunningEngine> {
  const metrics = createEngineMetrics();
  const pkg = await loadModelPackage(config.score.modelDir);
  const scorer = await createPackageScorer(pkg);
  const batcher = createMicroBatcher({
    scorer,
    maxRows: config.score.maxRows,
    maxWaitMs: config.score.maxWaitMs,
    nFeatures: pkg.nFeatures,
    classes: pkg.classes,
    modelVersion: pkg.modelVersion,
  });
  const ch = createClickHouse(config.clickhouse);
  const report = await migrate(ch, config.clickhouse.database);
  const caps = report.server;
  const db = quoteIdent(config.clickhouse.database);
  const observe = (table: string) => ({
    onInsert: (rows: number, ms: number) => {
      metrics.clickhouseRowsWritten.inc({ table }, rows);
      metrics.clickhouseWriteSeconds.observe({ table }, ms / 1000);
    },
    onError: () => {
      metrics.clickhouseWriteErrors.inc({ table });
    },
  });
  // flushMs 0: a Kafka batch waits for its rows' acknowledgement before the next batch is taken, so no
  // later rows could join an insert; the rows one batch queues (synchronously) still go out as one insert.
  const sinkOpts = { ch, maxRows: config.sink.maxRows, flushMs: 0, log };
  const writers = {
    predictions: createBatchWriter<PredictionRow>({
      ...sinkOpts,
      table: `${db}.${TABLES.predictions}`,
      ...observe(TABLES.predictions),
    }),
    features: createBatchWriter<FeatureVectorRow>({
      ...sinkOpts,
      table: `${db}.${TABLES.featureVectors}`,
      ...observe(TABLES.featureVectors),
    }),
    deadLetters: createDeadLetterSink({
      ...sinkOpts,
      database: config.clickhouse.database,
      caps,
      ...observe(TABLES.deadLetters),
    }),
  };
  const source = createKafkaSource({
    kafka: config.kafka,
    topics: ENGINE_INPUTS.map((k) => config.kafka.topics[k]),
    log,
  });
  const engine = createEngine({
    config,
    log,
    metrics,
    source,
    decoder: createRecordDecoder(createSchemaRegistryClient(config.registry), loadProjectSchemas()),
    scorer: {
      modelVersion: pkg.modelVersion,
      // Everything closed by one Kafka batch is submitted at once; flushing right away means the batch
      // does not also wait maxWaitMs for rows that no other caller will add.
      async score(rows: readonly FeatureRow[]) {
        const pending = batcher.submit(rows);
        void batcher.flush();
        return pending;
      },
    },
    ch,
    caps,
    writers,
  });
  const ops = await startOpsServer({
    host: config.ops.httpHost,
    port: config.ops.httpPort,
    registry: metrics.registry,
    readiness: async () => {
      const problems: string[] = [];
      if (!engine.ready()) problems.push('no partitions assigned yet');
      if (!(await ch.ping().catch(() => false))) problems.push('ClickHouse does not answer');
      return problems;
    },
  });
  await engine.start();
  log.info(
    {
      model: pkg.modelVersion,
      metrics: `${ops.url}/metrics`,
      clickhouse: caps.version,
      topics: config.kafka.topics,
    },
    'engine started',
  );
  let stopping: Promise<void> | undefined;
  return {
    engine,
    ops,
    metrics,
    modelVersion: pkg.modelVersion,
    stop() {
      stopping ??= (async () => {
        await engine.stop();
        await batcher.close();
        await ch.close();
        await ops.close();
      })();
      return stopping;
    },
  };
}
