/** Composition root of `pdm-stream run`: builds every stage from settings and wires them. */
import type { Config } from '../config/index.js';
import {
  createRecordDecoder,
  createSchemaRegistryClient,
  loadProjectSchemas,
  valueSubject,
} from '../decode/index.js';
import { createDeadLetterSink, registerDeadLetterDepthGauge } from '../dlq/index.js';
import {
  createKafkaProducer,
  createKafkaSource,
  createLagPoller,
  createTopicAdmin,
  healthProblem,
} from '../ingest/index.js';
import {
  createHotSwapScorer,
  createPackageBatcher,
  loadModelPackage,
  resolveFollowedPackage,
  type HotSwapScorer,
} from '../score/index.js';
import { errorMessage } from '../shared/errors.js';
import { withRetry } from '../shared/retry.js';
import type { Logger } from '../shared/logger.js';
import { createEngineMetrics, pauseTracker, type EngineMetrics } from '../shared/metrics.js';
import { limitHeapGrowing } from '../shared/heap-growing.js';
import {
  createBatchWriter,
  createClickHouse,
  featureVectorsFormat,
  migrate,
  predictionsFormat,
  quoteIdent,
  shadowPredictionsFormat,
  TABLES,
  type FeatureVectorRow,
  type PredictionRow,
  type ShadowPredictionRow,
} from '../sink/index.js';
import { createEngine, ENGINE_INPUTS, type Engine } from './engine.js';
import type { RowScorer } from './outputs.js';
import { sighting } from './log-arrival.js';
import { composeReadiness, startOpsServer, type OpsServer } from './ops-server.js';
import { createShadow } from './shadow.js';
import {
  createAlertEncoder,
  createRiskAlerts,
  type RiskAlertRecord,
  type RiskAlerts,
} from './risk-alerts.js';

export interface RunningEngine {
  readonly engine: Engine;
  readonly ops: OpsServer;
  readonly metrics: EngineMetrics;
  readonly modelVersion: string;
  /** Stops fetching, drains, writes, commits, closes everything. */
  stop(): Promise<void>;
}

/**
 * Builds and starts the engine. Resolves once every stage is built and the Kafka source is joining its
 * group; the source retries an unreachable Kafka in the background (bounded by PDM_KAFKA_OUTAGE_MAX_MS),
 * so callers watch `engine.done` and can stop at any time. On a failure while building, everything built
 * so far is closed before the error is rethrown.
 */
export async function startEngine(config: Config, log: Logger): Promise<RunningEngine> {
  // Before anything is allocated: a backfill's peak memory is mostly garbage V8 lets pile up.
  limitHeapGrowing(config.pipeline.heapGrowingPercent);
  const metrics = createEngineMetrics();
  // The ops server first: a port in use fails before anything else is opened, and /healthz answers
  // during a long start.
  let readiness: () => Promise<string[]> = () => Promise.resolve(['engine starting']);
  const ops = await startOpsServer({
    host: config.ops.httpHost,
    port: config.ops.httpPort,
    registry: metrics.registry,
    readiness: () => readiness(),
  });
  const closers: (() => Promise<void>)[] = [() => ops.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => {
        log.warn({ err: errorMessage(err) }, 'closing after a failed start');
      });
    }
  };
  try {
    return await build();
  } catch (err) {
    await closeAll();
    throw err;
  }

  async function build(): Promise<RunningEngine> {
    const { modelWatchDir } = config.score;
    const pkg = await loadModelPackage(
      modelWatchDir === undefined ? config.score.modelDir : await resolveFollowedPackage(modelWatchDir),
    );
    // maxWaitMs 0: the flow's score stage already submits everything that closed while the previous run
    // was busy as one group (flow.ts), so waiting for more rows would only add latency; a group is split
    // into runs of up to PDM_SCORE_MAX_ROWS. (PDM_SCORE_MAX_WAIT_MS applies to `score`, not to `run`.)
    // Switches to a new package in PDM_MODEL_WATCH_DIR between two score calls (src/score/hot-swap.ts).
    const ch = createClickHouse(config.clickhouse);
    closers.push(() => ch.close());
    const { database } = config.clickhouse;
    // The ONNX worker starts while migrate talks to ClickHouse: both take a few hundred milliseconds.
    const scorerStarted = createHotSwapScorer({
      initial: pkg,
      // Every run of a group goes to the worker at once: a result is handled only when the main thread
      // is between two Kafka batches, so runs sent one after the other each waited for a batch (measured:
      // 430 ms for 1,589 rows in 4 runs during a backlog, against 10 ms of ONNX time).
      createBatcher: runBatcher(config),
      watchDir: modelWatchDir,
      pollMs: config.score.modelPollMs,
      reloadSignal: 'SIGHUP',
      log,
      registry: metrics.registry,
    });
    // Closed on a failed start whichever of the two failed (a scorer that did not start closes nothing).
    closers.push(() => scorerStarted.then((b) => b.close()).catch(() => undefined));
    // The shadow (shadow.ts, startShadowScorer below): started with the live scorer and migrate; a shadow
    // package that cannot be used never fails the start.
    const shadowStarted = startShadowScorer(config, log, metrics.registry);
    closers.push(() => shadowStarted.then((b) => b?.close()).catch(() => undefined));
    const migrated = migrate(ch, database);
    // Awaited below; observed here as well, so that a failure of the code in between (a Kafka TLS file that
    // cannot be read) leaves none of the three unhandled.
    for (const started of [scorerStarted, migrated, shadowStarted]) started.catch(() => undefined);
    // Everything below up to the await needs neither the scorer nor the server's capabilities: it is
    // built, and Kafka and the registry are asked what the first batches need, while the scorer starts.
    const registry = createSchemaRegistryClient(config.registry);
    const decoder = createRecordDecoder(registry, loadProjectSchemas());
    // The writer schemas of the inputs' latest versions, fetched and compiled now, all at once: otherwise
    // the first batch of each topic waits for a registry round trip, one after the other, before the first
    // prediction.
    for (const kind of ENGINE_INPUTS) {
      decoder.warm(kind, valueSubject(config.kafka.topics[kind])).catch((err: unknown) => {
        log.debug({ topic: config.kafka.topics[kind], err: errorMessage(err) }, 'schema warm-up skipped');
      });
    }
    const source = createKafkaSource({
      kafka: config.kafka,
      topics: ENGINE_INPUTS.map((k) => config.kafka.topics[k]),
      log,
      onHealth: (h) => {
        metrics.paused.set({ cause: 'kafka' }, h.state === 'unavailable' ? 1 : 0);
        // A fresh reading right after (re)joining, instead of up to PDM_LAG_POLL_MS later.
        if (h.state === 'running') {
          lagPoller.poll().catch(() => undefined);
          // Observed here; a failure reaches the first alert that waits for the setup.
          startAlertSetup().catch(() => undefined);
        }
      },
    });
    const lagPoller = createLagPoller({
      source,
      assigned: () => source.assigned(),
      intervalMs: config.kafka.lagPollMs,
      log,
      onLag: (lags) => {
        metrics.consumerLag.reset();
        for (const l of lags) {
          metrics.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
        }
      },
    });
    closers.push(() => {
      lagPoller.close();
      return Promise.resolve();
    });
    closers.push(() => source.stop());
    // Telemetry in the log now is in it well before the first assignment: its side checkpoints may count
    // their grace period from here (engine.ts). Also connects the source's admin client ahead of the restore.
    const earlyTelemetryEnds = sighting(source.endOffsets(config.kafka.topics.telemetry));
    // The live scorer is not waited for here: the engine joins the group, restores and decodes while the
    // ONNX worker starts (the longest step of a start, ~400 ms against ~130 ms for migrate, measured
    // 2026-12-02), and its first score call waits for it. The start still fails if it does (awaited below).
    const [report, shadowScorer] = await Promise.all([migrated, shadowStarted]);
    const scorer = scorerOnceStarted(pkg.modelVersion, scorerStarted);
    const caps = report.server;
    registerDeadLetterDepthGauge({ registry: metrics.registry, ch, database, caps, log });
    const db = quoteIdent(database);
    // pdm_paused{cause="clickhouse"} is 1 while any writer retries a failed insert.
    const chPaused = pauseTracker(metrics.paused, 'clickhouse');
    const observe = (table: string) => ({
      onInsert: (rows: number, ms: number) => {
        metrics.clickhouseRowsWritten.inc({ table }, rows);
        metrics.clickhouseWriteSeconds.observe({ table }, ms / 1000);
        chPaused.set(table, false);
      },
      onError: () => {
        metrics.clickhouseWriteErrors.inc({ table });
        chPaused.set(table, true);
      },
    });
    // flushMs 0: the flow's write stage hands each writer one group at a time (everything that closed while
    // the previous insert was in flight), so a group goes out as one insert without waiting for more.
    const sinkOpts = { ch, maxRows: config.sink.maxRows, flushMs: 0, log };
    const writers = {
      predictions: createBatchWriter<PredictionRow>({
        ...sinkOpts,
        format: predictionsFormat(caps),
        table: `${db}.${TABLES.predictions}`,
        ...observe(TABLES.predictions),
      }),
      features: createBatchWriter<FeatureVectorRow>({
        ...sinkOpts,
        format: featureVectorsFormat(caps),
        table: `${db}.${TABLES.featureVectors}`,
        ...observe(TABLES.featureVectors),
      }),
      deadLetters: createDeadLetterSink({
        ...sinkOpts,
        database,
        caps,
        ...observe(TABLES.deadLetters),
      }),
    };
    // Failure-risk alerts (risk-alerts.ts): stored in ClickHouse and published to `<prefix>alerts`.
    const producer = createKafkaProducer({ kafka: config.kafka });
    closers.push(() => producer.close());
    const setupAbort = new AbortController();
    let startAlertSetup: () => Promise<void> = () => Promise.resolve();
    closers.push(() => {
      setupAbort.abort();
      return Promise.resolve();
    });
    const buildRiskAlerts = (registry: ReturnType<typeof createSchemaRegistryClient>): RiskAlerts => {
      const topic = config.alerts.topic;
      // The topic (created when missing; listed first, so nothing is created when `schemas register` did
      // it) and the schema id are set up in the background: Kafka or the registry being unreachable at
      // start must not fail the start (the source rides a Kafka outage out, bounded by
      // PDM_KAFKA_OUTAGE_MAX_MS). The first alert waits for them; while it does, its group is not
      // acknowledged and nothing after it is committed.
      let encoder: { encode(record: RiskAlertRecord): Buffer } | undefined;
      let ready: Promise<void> | undefined;
      // Started once Kafka is reachable (or by the first alert): a setup attempt against a Kafka that is
      // down would outlive a stop (the admin client retries for about 30 s by itself).
      startAlertSetup = () =>
        (ready ??= withRetry(
          async () => {
            const admin = createTopicAdmin(config.kafka);
            try {
              await admin.ensureTopics([{ topic, partitions: config.kafka.partitions, compacted: false }]);
            } finally {
              await admin.close();
            }
            encoder = await createAlertEncoder(registry, topic);
            // Connected now rather than by the first alert, which the first predictions wait for.
            await producer.connect();
          },
          {
            signal: setupAbort.signal,
            onRetry: (err, attempt, delayMs) => {
              log.warn({ attempt, delayMs, err: errorMessage(err) }, 'alerts topic and schema: retrying');
            },
          },
        ));
      const inner = createRiskAlerts({
        ch,
        database,
        caps,
        producer,
        topic,
        encode: (record) => {
          if (encoder === undefined)
            throw new Error('alerts encoder used before it was ready (programmer error)');
          return encoder.encode(record);
        },
        clearRatio: config.alerts.clearRatio,
        log,
        registry: metrics.registry,
        ...observe(TABLES.riskAlerts),
      });
      return {
        ...inner,
        restore: () => inner.restore(),
        close: () => inner.close(),
        publish(groups) {
          if (encoder !== undefined) return inner.publish(groups);
          return startAlertSetup().then(() => inner.publish(groups));
        },
      };
    };
    const alerts = buildRiskAlerts(registry);
    const shadow =
      shadowScorer === undefined
        ? undefined
        : createShadow({
            scorer: shadowScorer,
            writer: createBatchWriter<ShadowPredictionRow>({
              ...sinkOpts,
              format: shadowPredictionsFormat(caps),
              table: `${db}.${TABLES.shadowPredictions}`,
              ...observe(TABLES.shadowPredictions),
            }),
            log,
            registry: metrics.registry,
          });
    const engine = createEngine({
      config,
      log,
      metrics,
      source,
      decoder,
      earlyTelemetryEnds,
      scorer,
      ch,
      caps,
      writers,
      alerts,
      ...(shadow === undefined ? {} : { shadow }),
    });
    readiness = composeReadiness([
      { name: 'engine', check: () => (engine.ready() ? undefined : 'no partitions assigned yet') },
      { name: 'kafka', check: () => healthProblem(source.health()) },
      {
        name: 'clickhouse',
        check: async () => ((await ch.ping()) ? undefined : 'ClickHouse does not answer'),
      },
      {
        name: 'registry',
        check: async () => {
          await registry.ping();
          return undefined;
        },
      },
    ]);
    const details = {
      model: pkg.modelVersion,
      ...(shadowScorer === undefined ? {} : { shadow: shadowScorer.modelVersion }),
      metrics: `${ops.url}/metrics`,
      clickhouse: caps.version,
      topics: config.kafka.topics,
    };
    log.info(details, 'engine starting: joining the consumer group');
    // Not awaited: Kafka may be unreachable for a while; `engine.done` reports how the source ends (a
    // handled branch here, so that a failure before the caller attaches its handler is not "unhandled").
    engine.done.catch(() => undefined);
    engine.start().then(
      () => {
        if (source.health().state === 'running') log.info(details, 'engine started');
      },
      () => undefined,
    );
    // Fails the start (closing the engine with everything else) when the model cannot be used.
    closers.push(() => engine.stop());
    const batcher = await scorerStarted;
    let stopping: Promise<void> | undefined;
    return {
      engine,
      ops,
      metrics,
      get modelVersion() {
        return batcher.modelVersion;
      },
      stop() {
        stopping ??= (async () => {
          lagPoller.close();
          setupAbort.abort();
          await engine.stop();
          await producer.close();
          await batcher.close();
          await shadow?.close();
          await shadowScorer?.close();
          await ch.close();
          await ops.close();
        })();
        return stopping;
      },
    };
  }
}

/**
 * The live scorer as the engine sees it while its worker starts: the package's version (what the restore
 * plans with), and score calls that wait for the worker (that wait counts in the first group's
 * pdm_inference_seconds). A start that failed makes them reject with its error, which fails the flow;
 * startEngine reports the same error first.
 */
function scorerOnceStarted(initialVersion: string, started: Promise<HotSwapScorer>): RowScorer {
  let live: HotSwapScorer | undefined;
  started.then(
    (s) => {
      live = s;
    },
    () => undefined,
  );
  return {
    get modelVersion() {
      return live?.modelVersion ?? initialVersion;
    },
    score: (rows) => started.then((s) => s.score(rows)),
  };
}

/** Micro-batcher settings of `run` (see the comment where the live scorer is built). */
function runBatcher(config: Config) {
  return (p: Parameters<typeof createPackageBatcher>[0]) =>
    createPackageBatcher(p, { maxRows: config.score.maxRows, maxWaitMs: 0, maxRunsInFlight: 64 });
}

/** The shadow model's scorer (PDM_SHADOW_MODEL_DIR, followed like PDM_MODEL_WATCH_DIR); undefined when unset. */
export async function startShadowScorer(
  config: Config,
  log: Logger,
  registry: EngineMetrics['registry'],
): Promise<HotSwapScorer | undefined> {
  const dir = config.score.shadowModelDir;
  if (dir === undefined) return undefined;
  const options = {
    createBatcher: runBatcher(config),
    watchDir: dir,
    pollMs: config.score.modelPollMs,
    reloadSignal: 'SIGHUP' as const,
    log,
    registry,
    role: 'shadow' as const,
  };
  // A shadow that cannot be used must not keep the live model from starting (a deleted candidate, a broken
  // file): the engine starts without a shadow, the refusal is logged and counted like a refused reload
  // (pdm_shadow_model_reload_failures_total{reason}), and the directory is followed until it holds a
  // valid package.
  try {
    return await createHotSwapScorer({
      ...options,
      initial: await loadModelPackage(await resolveFollowedPackage(dir)),
    });
  } catch {
    const scorer = await createHotSwapScorer({ ...options, initial: undefined });
    await scorer.check(); // logs and counts the refusal with its reason
    return scorer;
  }
}
