/**
 * One map of the engine's Prometheus metrics (house style: one place per component's instrumentation).
 * Labels never carry secrets or payloads: topics, partitions, reasons, tables only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface EngineMetrics {
  readonly registry: Registry;
  readonly recordsIn: Counter<'topic'>;
  readonly outcomes: Counter<'reason'>;
  readonly deadLetters: Counter<'reason' | 'topic'>;
  readonly duplicates: Counter;
  readonly batchSize: Histogram<'topic'>;
  readonly inferenceSeconds: Histogram;
  readonly inferenceBatchRows: Histogram;
  readonly predictions: Counter;
  readonly eventToWriteSeconds: Histogram;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly clickhouseWriteSeconds: Histogram<'table'>;
  readonly clickhouseRowsWritten: Counter<'table'>;
  readonly clickhouseWriteErrors: Counter<'table'>;
  readonly registryErrors: Counter;
  readonly silentMachineBuckets: Counter;
  readonly machinesTracked: Gauge;
  readonly featureStateBytes: Gauge;
  /** 1 while waiting on `cause`; `max(pdm_paused)` is 1 while the engine waits on anything. */
  readonly paused: Gauge<'cause'>;
}

/** Dependencies the engine waits for (labels of `pdm_paused`). */
export const PAUSE_CAUSES = ['kafka', 'registry', 'clickhouse'] as const;
export type PauseCause = (typeof PAUSE_CAUSES)[number];

export function createEngineMetrics(options: { defaultMetrics?: boolean } = {}): EngineMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'pdm_process_' });
  const r = [registry];
  const paused = new Gauge({
    name: 'pdm_paused',
    help: '1 while the engine waits on an unavailable dependency (cause: kafka, registry, clickhouse)',
    labelNames: ['cause'],
    registers: r,
  });
  for (const cause of PAUSE_CAUSES) paused.set({ cause }, 0);
  const seconds = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    recordsIn: new Counter({
      name: 'pdm_records_in_total',
      help: 'Kafka records received',
      labelNames: ['topic'],
      registers: r,
    }),
    outcomes: new Counter({
      name: 'pdm_outcomes_total',
      help: 'Records not used for features, by reason (dead letters and duplicates)',
      labelNames: ['reason'],
      registers: r,
    }),
    deadLetters: new Counter({
      name: 'pdm_dead_letters_total',
      help: 'Dead letters acknowledged by ClickHouse',
      labelNames: ['reason', 'topic'],
      registers: r,
    }),
    duplicates: new Counter({
      name: 'pdm_duplicates_total',
      help: 'Duplicate telemetry ignored',
      registers: r,
    }),
    batchSize: new Histogram({
      name: 'pdm_batch_records',
      help: 'Records per Kafka batch',
      labelNames: ['topic'],
      buckets: [1, 10, 100, 1_000, 5_000, 20_000, 100_000],
      registers: r,
    }),
    inferenceSeconds: new Histogram({
      name: 'pdm_inference_seconds',
      help: "Wall time of the live model's score call per group (its ONNX runs of up to PDM_SCORE_MAX_ROWS rows and the worker round trips)",
      buckets: seconds,
      registers: r,
    }),
    inferenceBatchRows: new Histogram({
      name: 'pdm_inference_batch_rows',
      help: 'Rows per scored group (split into ONNX runs of up to PDM_SCORE_MAX_ROWS)',
      buckets: [1, 8, 64, 256, 512, 1_024, 4_096],
      registers: r,
    }),
    predictions: new Counter({ name: 'pdm_predictions_total', help: 'Predictions written', registers: r }),
    eventToWriteSeconds: new Histogram({
      name: 'pdm_event_to_write_seconds',
      help: 'Wall time from receiving the record that closed a bucket to its prediction being acknowledged',
      buckets: seconds,
      registers: r,
    }),
    consumerLag: new Gauge({
      name: 'pdm_consumer_lag_messages',
      help: 'Log end offset minus committed offset, read from the broker every PDM_LAG_POLL_MS',
      labelNames: ['topic', 'partition'],
      registers: r,
    }),
    clickhouseWriteSeconds: new Histogram({
      name: 'pdm_clickhouse_write_seconds',
      help: 'ClickHouse insert latency (acknowledged)',
      labelNames: ['table'],
      buckets: seconds,
      registers: r,
    }),
    clickhouseRowsWritten: new Counter({
      name: 'pdm_clickhouse_rows_written_total',
      help: 'Rows acknowledged by ClickHouse',
      labelNames: ['table'],
      registers: r,
    }),
    clickhouseWriteErrors: new Counter({
      name: 'pdm_clickhouse_write_errors_total',
      help: 'Failed ClickHouse insert attempts (retried)',
      labelNames: ['table'],
      registers: r,
    }),
    registryErrors: new Counter({
      name: 'pdm_registry_errors_total',
      help: 'Failed schema registry lookups (retried)',
      registers: r,
    }),
    silentMachineBuckets: new Counter({
      name: 'pdm_silent_machine_buckets_total',
      help: 'Closed buckets not scored because the machine had no telemetry in the last 12 h',
      registers: r,
    }),
    machinesTracked: new Gauge({
      name: 'pdm_machines_tracked',
      help: 'Machines with feature state',
      registers: r,
    }),
    featureStateBytes: new Gauge({
      name: 'pdm_feature_state_bytes',
      help: 'Approximate feature state bytes',
      registers: r,
    }),
    paused,
  };
}

/**
 * `pdm_paused{cause}` for a dependency several parts wait on (e.g. one ClickHouse writer per table): 1 while
 * any key is waiting, 0 once all recovered.
 */
export function pauseTracker(
  gauge: Gauge<'cause'>,
  cause: PauseCause,
): { set(key: string, waiting: boolean): void } {
  const waiting = new Set<string>();
  return {
    set(key, isWaiting) {
      if (isWaiting) waiting.add(key);
      else waiting.delete(key);
      gauge.set({ cause }, waiting.size > 0 ? 1 : 0);
    },
  };
}
