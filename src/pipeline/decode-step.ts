/**
 * The decode step of a batch: Confluent frame → typed record, then the checks that need the Kafka record
 * rather than the event (record timestamp, partition). Every message either becomes an event or a dead
 * letter with its reason; none is dropped.
 */
import type { RecordDecoder } from '../decode/index.js';
import type { DeadLetter } from '../dlq/index.js';
import { checkEventTime } from '../features/index.js';
import type { BatchControl, SourceBatch } from '../ingest/index.js';
import { errorMessage } from '../shared/errors.js';
import { withRetry } from '../shared/retry.js';
import type { Logger } from '../shared/logger.js';
import type { EngineMetrics } from '../shared/metrics.js';
import type { PdmEvent, RecordKind } from '../shared/records.js';
import { whileHeartbeating } from './heartbeat.js';
import type { MachineHomes } from './machine-homes.js';

export type InputKind = Exclude<RecordKind, 'failures'>;

export interface DecodedBatch {
  readonly events: PdmEvent[];
  /** Index in the batch of each event's message. */
  readonly messageIndex: number[];
  /** Writer schema id of each event, so the feature stage's dead letters name it too. */
  readonly schemaIds: (number | undefined)[];
}

export interface DecodeStepDeps {
  readonly decoder: RecordDecoder;
  readonly homes: MachineHomes;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
}

/** Records a dead letter and counts its reason (one place for every stage's rejections). */
export function reject(metrics: EngineMetrics, deadLetters: DeadLetter[], d: DeadLetter): void {
  metrics.outcomes.inc({ reason: d.reason });
  deadLetters.push(d);
}

/**
 * The registry step before {@link decodeBatch}: fetches the writer schemas of the batch that are not cached.
 * A registry outage is transient: the batch is held (heartbeating) until it answers, never dead-lettered.
 * Only the values are captured by the retried call (and only while it runs).
 */
export async function prepareSchemas(
  deps: DecodeStepDeps,
  control: BatchControl,
  batch: SourceBatch,
): Promise<void> {
  const { decoder, metrics, log } = deps;
  // One value at a time, not an array of them: a message's value may be a view made on access
  // (src/ingest/kafkajs-fetch-decode.ts), and none needs to outlive the schema id read from it.
  const values = {
    *[Symbol.iterator](): Iterator<Buffer | null> {
      for (const m of batch.messages) yield m.value;
    },
  };
  await whileHeartbeating(
    control,
    withRetry(() => decoder.prepare(values), {
      onRetry: (err, attempt, delayMs) => {
        metrics.registryErrors.inc();
        metrics.paused.set({ cause: 'registry' }, 1);
        log.warn({ attempt, delayMs, err: errorMessage(err) }, 'schema registry unavailable; holding batch');
      },
    }),
  );
  metrics.paused.set({ cause: 'registry' }, 0);
}

export function decodeBatch(
  deps: DecodeStepDeps,
  kind: InputKind,
  batch: SourceBatch,
  deadLetters: DeadLetter[],
): DecodedBatch {
  const { decoder, homes, metrics, log } = deps;
  const events: PdmEvent[] = [];
  const messageIndex: number[] = [];
  const schemaIds: (number | undefined)[] = [];
  const { messages } = batch;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as (typeof messages)[number];
    const r = decoder.decode(kind, m.value, m.key);
    if (!r.ok) {
      reject(metrics, deadLetters, {
        message: m,
        reason: r.reason,
        stage: 'decode',
        error: r.message,
        schemaId: r.schemaId,
      });
      continue;
    }
    const { machineId } = r.record;
    const schemaId = r.schemaId;
    // The restore seeks by record timestamp: an absurd one is the record's fault, never a reason to stop.
    const badTimestamp = checkEventTime(m.timestampMs, 'Kafka record timestamp');
    if (badTimestamp !== null) {
      reject(metrics, deadLetters, {
        message: m,
        reason: 'INVALID_VALUE',
        stage: 'ingest',
        error: badTimestamp,
        schemaId,
        machineId,
      });
      continue;
    }
    const home = homes.check(machineId, kind === 'telemetry', batch.partition);
    if (!home.ok) {
      reject(metrics, deadLetters, {
        message: m,
        reason: 'WRONG_PARTITION',
        stage: 'pipeline',
        error: `machine ${machineId}: ${kind} record on partition ${batch.partition}, expected partition ${home.expected} (where its ${home.basis} are); all topics must be keyed by machineId and produced with one partitioner`,
        schemaId,
        machineId,
      });
      continue;
    }
    if (home.conflictWith !== undefined) {
      metrics.outcomes.inc({ reason: 'WRONG_PARTITION' });
      log.error(
        { machineId, telemetryPartition: batch.partition, sidePartition: home.conflictWith },
        'machine telemetry arrived on another partition than its earlier side events (errors, maintenance or metadata); those side events are missing from its features: fix the producers partitioner and replay them',
      );
    }
    events.push({ kind, record: r.record } as PdmEvent);
    messageIndex.push(i);
    schemaIds.push(schemaId);
  }
  return { events, messageIndex, schemaIds };
}
