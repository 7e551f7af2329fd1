/**
 * Failure-risk alerts: transitions of the hysteresis (risk-alert-state.ts) decided in the flow's write
 * stage, stored in ClickHouse (`risk_alerts`) and published as Avro to `<prefix>alerts`.
 *
 * Delivery. The flow (flow.ts) calls {@link RiskAlerts.publish} for each write group, in order, and writes
 * the group's predictions only after the produce (acks from all in-sync replicas, idempotent producer) and
 * then the insert were acknowledged. A crash before that leaves the group's predictions unwritten and
 * its Kafka batches uncommitted: the restart re-scores those buckets (restore.ts) and decides the same
 * transitions again. So an alert is never lost, and may be published more than once: every transition has
 * a deterministic id (`<machine>/<component>/<bucket>/<state>`) for consumers to dedupe on, and the table
 * is a ReplacingMergeTree keyed by the same fields.
 *
 * Restart. The hysteresis state is restored from `risk_alerts` at every restore of the engine (start and
 * rebalance, after the flow drained): the last transition of each (machine, component). A component still
 * firing does not fire again after a restart, and re-scored buckets up to a stored transition are ignored.
 */
import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';
import {
  createCodec,
  encodeFrame,
  loadAlertSchema,
  valueSubject,
  type SchemaRegistryClient,
} from '../decode/index.js';
import { CLASSES } from '../features/index.js';
import type { MessageProducer } from '../ingest/index.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { machineKey } from '../shared/records.js';
import { withRetry } from '../shared/retry.js';
import { ENGINE_VERSION } from '../shared/version.js';
import {
  createBatchWriter,
  formatDateTime,
  formatInstant,
  quoteIdent,
  riskAlertsFormat,
  TABLES,
  type ClickHouseConnection,
  type RiskAlertRow,
  type ServerCapabilities,
} from '../sink/index.js';
import type { ScoredLike, SourceCoordinates } from './outputs.js';
import {
  ALERT_STATES,
  alertId,
  createRiskAlertTracker,
  type AlertState,
  type AlertTransition,
  type ComponentAlertState,
  type RiskAlertTracker,
} from './risk-alert-state.js';

/** The Avro record of `schemas/alerts.avsc`. */
export interface RiskAlertRecord {
  readonly alertId: string;
  readonly machineId: number;
  readonly component: string;
  readonly state: AlertState;
  readonly bucketTs: number;
  readonly firedBucketTs: number;
  readonly probability: number;
  readonly threshold: number;
  readonly clearThreshold: number;
  readonly modelVersion: string;
  readonly emittedAt: number;
}

/** Scored rows of one emission and where they came from. */
export interface ScoredGroup {
  readonly at: SourceCoordinates;
  readonly scored: readonly ScoredLike[];
}

/** What the flow's write stage calls (flow.ts). */
export interface RiskAlertSink {
  /**
   * Decides the transitions of the groups' rows, in order, and updates the state. Resolves when the
   * transitions are stored and published; undefined when there are none (nothing to wait for).
   */
  publish(groups: readonly ScoredGroup[]): Promise<void> | undefined;
}

export interface RiskAlerts extends RiskAlertSink {
  /** Replaces the hysteresis state with the last stored transition of each (machine, component). */
  restore(): Promise<void>;
  readonly tracker: RiskAlertTracker;
  /** Flushes the writer; the producer is the caller's to close. */
  close(): Promise<void>;
}

export interface RiskAlertsOptions {
  readonly ch: ClickHouseConnection;
  readonly database: string;
  readonly caps: Pick<ServerCapabilities, 'modernTypes'>;
  readonly producer: MessageProducer;
  /** `<prefix>alerts`. */
  readonly topic: string;
  /** Confluent-framed Avro of a record ({@link createAlertEncoder}). */
  readonly encode: (record: RiskAlertRecord) => Buffer;
  /** See PDM_ALERT_CLEAR_RATIO. */
  readonly clearRatio: number;
  readonly log: Logger;
  /** Metrics are registered here: pdm_risk_alerts_total{component,state}, pdm_risk_alerts_firing. */
  readonly registry?: Registry;
  /** Observes each acknowledged insert into `risk_alerts` (metrics). */
  readonly onInsert?: (rows: number, ms: number) => void;
  readonly onError?: (err: unknown, attempt: number) => void;
}

/** Registers `schemas/alerts.avsc` under `<topic>-value` (idempotent) and frames records with its id. */
export async function createAlertEncoder(
  registry: Pick<SchemaRegistryClient, 'register'>,
  topic: string,
): Promise<AlertEncoder> {
  const schema = loadAlertSchema();
  const schemaId = await registry.register(valueSubject(topic), schema);
  const codec = createCodec(schema);
  return { schemaId, encode: (record) => encodeFrame(schemaId, codec.encode(record)) };
}

export interface AlertEncoder {
  readonly schemaId: number;
  encode(record: RiskAlertRecord): Buffer;
}

export function createRiskAlerts(options: RiskAlertsOptions): RiskAlerts {
  const { ch, database, caps, producer, topic, encode, log } = options;
  const tracker = createRiskAlertTracker({ clearRatio: options.clearRatio });
  const table = `${quoteIdent(database)}.${TABLES.riskAlerts}`;
  const writer = createBatchWriter<RiskAlertRow>({
    ch,
    table,
    format: riskAlertsFormat(caps),
    flushMs: 0,
    log,
    ...(options.onInsert === undefined ? {} : { onInsert: options.onInsert }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  const registers = options.registry === undefined ? [] : [options.registry];
  const total = new Counter({
    name: 'pdm_risk_alerts_total',
    help: 'Failure-risk alert transitions published, by component and state (firing, resolved)',
    labelNames: ['component', 'state'] as const,
    registers,
  });
  new Gauge({
    name: 'pdm_risk_alerts_firing',
    help: '(machine, component) pairs whose failure-risk alert is firing',
    registers,
    collect() {
      this.set(tracker.firingCount());
    },
  });
  // Every series exists from the start (at 0), so that rate() and alert rules see the first transition.
  for (const component of CLASSES.slice(1))
    for (const state of ALERT_STATES) total.inc({ component, state }, 0);

  async function deliver(transitions: readonly { t: AlertTransition; at: SourceCoordinates }[]) {
    const emittedAtMs = Date.now();
    const emittedAt = formatInstant(emittedAtMs, caps);
    const rows: RiskAlertRow[] = [];
    const messages = transitions.map(({ t, at }) => {
      const id = alertId(t.machineId, t.component, t.bucketMs, t.state);
      rows.push({
        alert_id: id,
        machine_id: t.machineId,
        component: t.component,
        state: t.state,
        bucket_ts: formatDateTime(t.bucketMs),
        fired_bucket_ts: formatDateTime(t.firedBucketMs),
        probability: t.probability,
        threshold: t.threshold,
        clear_threshold: t.clearThreshold,
        model_version: t.modelVersion,
        source_topic: at.topic,
        source_partition: at.partition,
        source_offset: at.offset,
        emitted_at: emittedAt,
        engine_version: ENGINE_VERSION,
      });
      return {
        key: machineKey(t.machineId),
        value: encode({
          alertId: id,
          machineId: t.machineId,
          component: t.component,
          state: t.state,
          bucketTs: t.bucketMs,
          firedBucketTs: t.firedBucketMs,
          probability: t.probability,
          threshold: t.threshold,
          clearThreshold: t.clearThreshold,
          modelVersion: t.modelVersion,
          emittedAt: emittedAtMs,
        }),
        // The bucket instant, like the inputs' event time: consumers can seek alerts by time.
        timestampMs: t.bucketMs,
      };
    });
    // The topic first, then risk_alerts, never both at once: the restore rebuilds the hysteresis from
    // risk_alerts and does not decide a stored transition again, so one stored but not yet published when
    // the engine died never reached the topic (seen once in test/e2e/risk-alerts.test.ts: the 54 stored
    // transitions, fewer on the topic). Published first, a crash before the insert makes the restart
    // decide and publish it again, which the deterministic ids let consumers drop.
    // Kafka outages are retried here (the batch writer retries ClickHouse itself): a resend may duplicate
    // messages the broker had already stored, which the same ids take care of.
    await withRetry(() => producer.send(topic, messages), {
      onRetry: (err, attempt, delayMs) => {
        log.warn({ attempt, delayMs, topic, err: errorMessage(err) }, 'publishing risk alerts: retrying');
      },
    });
    await writer.write(rows);
    for (const { t } of transitions) total.inc({ component: t.component, state: t.state });
    // One info line per delivered group: a backfill publishes thousands of transitions, each already
    // stored in risk_alerts and on the topic; the single transitions are debug lines.
    if (log.isLevelEnabled('info')) {
      let firing = 0;
      for (const { t } of transitions) if (t.state === 'firing') firing++;
      log.info(
        { firing, resolved: transitions.length - firing, firingNow: tracker.firingCount() },
        'risk alerts published',
      );
    }
    if (log.isLevelEnabled('debug')) {
      for (const { t } of transitions) {
        log.debug(
          {
            machine: t.machineId,
            component: t.component,
            state: t.state,
            bucket: new Date(t.bucketMs).toISOString(),
            p: t.probability,
          },
          'risk alert',
        );
      }
    }
  }

  return {
    tracker,
    publish(groups) {
      let out: { t: AlertTransition; at: SourceCoordinates }[] | undefined;
      for (const g of groups) {
        if (g.scored.length === 0) continue;
        for (const t of tracker.evaluate(g.scored)) (out ??= []).push({ t, at: g.at });
      }
      return out === undefined ? undefined : deliver(out);
    },
    async restore() {
      const rows = await ch.query<{
        machine_id: number | string;
        component: string;
        state: string;
        last: number | string;
        fired: number | string;
      }>(
        // The last transition per (machine, component): there is at most one per bucket (the tracker ignores
        // rows at or before a component's last transition), so argMax by bucket_ts is unambiguous; copies of
        // a re-published transition are identical in these fields.
        `SELECT machine_id, component, argMax(state, bucket_ts) AS state, toUInt32(max(bucket_ts)) AS last,
  toUInt32(argMax(fired_bucket_ts, bucket_ts)) AS fired
FROM ${table}
GROUP BY machine_id, component`,
      );
      const states: ComponentAlertState[] = rows.map((r) => ({
        machineId: Number(r.machine_id),
        component: r.component,
        state: r.state === 'firing' ? 'firing' : 'resolved',
        bucketMs: Number(r.last) * 1000,
        firedBucketMs: Number(r.fired) * 1000,
      }));
      tracker.restore(states);
      log.info({ restored: states.length, firing: tracker.firingCount() }, 'risk alerts: state restored');
    },
    close: () => writer.close(),
  };
}
