/**
 * The decode step of a batch: Confluent frame → typed record, then the checks that need the Kafka record
 * rather than the event (record timestamp, partition). Every message either becomes an event or a dead
 * letter with its reason; none is dropped.
 */
import { FRAME_HEADER_BYTES, MAGIC_BYTE, type RecordDecoder } from '../decode/index.js';
import type { DeadLetter } from '../dlq/index.js';
import { checkEventTime } from '../features/index.js';
import { locateMessage, type BatchControl, type SourceBatch, type SourceMessage } from '../ingest/index.js';
import { errorMessage } from '../shared/errors.js';
import { withRetry } from '../shared/retry.js';
import type { Logger } from '../shared/logger.js';
import type { EngineMetrics } from '../shared/metrics.js';
import type { MessageBytes } from '../shared/message-bytes.js';
import {
  resetTelemetryColumns,
  type PdmEvent,
  type RecordKind,
  type TelemetryColumns,
} from '../shared/records.js';
import { whileHeartbeating } from './heartbeat.js';
import type { MachineHomes } from './machine-homes.js';

export type InputKind = Exclude<RecordKind, 'failures'>;

export interface DecodedBatch {
  /** The events of a side topic's batch; empty for telemetry, which is in `telemetry`. */
  readonly events: PdmEvent[];
  /**
   * A telemetry batch's records as columns (the step's own, refilled by its next telemetry batch: use them
   * before that). Undefined for a side topic's batch.
   */
  readonly telemetry: TelemetryColumns | undefined;
  /** Index in the batch of each event's message. */
  readonly messageIndex: ArrayLike<number>;
  /** Writer schema id of each event, so the feature stage's dead letters name it too. */
  readonly schemaIds: ArrayLike<number | undefined>;
}

export interface DecodeStepDeps {
  readonly decoder: RecordDecoder;
  readonly homes: MachineHomes;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
  /** Where telemetry is decoded to: one set per engine, reused by every batch. */
  readonly columns: TelemetryColumns;
  /** The message index and schema id of each row of `columns` (grown with them). */
  readonly rowSources: { messageIndex: Int32Array; schemaIds: Int32Array };
  /** Scratch: where the message at hand has its bytes. */
  readonly bytes: MessageBytes;
  /** Where {@link prepareSchemas} found the bytes of its batch's messages (reused by every batch). */
  readonly located: LocatedMessages;
}

/**
 * Where the key and value of each message of one batch are, as {@link prepareSchemas} found them, so that
 * the decode of the same batch does not parse every record's header a second time. The batch is the
 * consumer's one batch at a time (one partition consumed at a time); for any other batch the decode
 * locates the messages itself.
 */
export interface LocatedMessages {
  /** The batch located; undefined once its decode has read it. */
  batch: SourceBatch | undefined;
  /** Message i's key is `keys[i][at[4i], at[4i+1])` and its value `values[i][at[4i+2], at[4i+3])`. */
  keys: (Buffer | null)[];
  values: (Buffer | null)[];
  at: Int32Array;
}

export function emptyLocatedMessages(): LocatedMessages {
  return { batch: undefined, keys: [], values: [], at: new Int32Array(0) };
}

/** Drops the references {@link prepareSchemas} kept for a batch: after its decode, or when it will not be decoded. */
export function forgetLocated(located: LocatedMessages): void {
  located.batch = undefined;
  // Not holding on to fetch responses until the next batch. The arrays keep their size (no new arrays for
  // every batch): the next batch of that size or less fits.
  located.keys.fill(null);
  located.values.fill(null);
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
  const { decoder, metrics, log, bytes, located } = deps;
  // The frame ids read in place: no view of a value is made.
  const ids = new Set<number>();
  const { messages } = batch;
  // A batch whose decode never came (the session ended while it waited): its bytes go now.
  if (located.batch !== undefined) forgetLocated(located);
  if (located.at.length < 4 * messages.length) located.at = new Int32Array(4 * messages.length);
  const { keys, values, at } = located;
  for (let i = 0; i < messages.length; i++) {
    locateMessage(messages[i] as SourceMessage, bytes);
    const v = bytes.value;
    keys[i] = bytes.key;
    values[i] = v;
    at[4 * i] = bytes.keyAt;
    at[4 * i + 1] = bytes.keyEnd;
    at[4 * i + 2] = bytes.valueAt;
    at[4 * i + 3] = bytes.valueEnd;
    if (v !== null && bytes.valueEnd - bytes.valueAt >= FRAME_HEADER_BYTES && v[bytes.valueAt] === MAGIC_BYTE)
      ids.add(v.readUInt32BE(bytes.valueAt + 1));
  }
  located.batch = batch;
  bytes.key = null;
  bytes.value = null;
  try {
    await whileHeartbeating(
      control,
      withRetry(() => decoder.prepareIds(ids), {
        onRetry: (err, attempt, delayMs) => {
          metrics.registryErrors.inc();
          metrics.paused.set({ cause: 'registry' }, 1);
          log.warn(
            { attempt, delayMs, err: errorMessage(err) },
            'schema registry unavailable; holding batch',
          );
        },
      }),
    );
  } catch (err) {
    // The batch will not be decoded: its bytes are not kept until the next batch comes (if one does).
    forgetLocated(located);
    throw err;
  }
  metrics.paused.set({ cause: 'registry' }, 0);
}

export function decodeBatch(
  deps: DecodeStepDeps,
  kind: InputKind,
  batch: SourceBatch,
  deadLetters: DeadLetter[],
): DecodedBatch {
  try {
    return kind === 'telemetry'
      ? decodeTelemetryBatch(deps, batch, deadLetters)
      : decodeSideBatch(deps, kind, batch, deadLetters);
  } finally {
    forgetLocated(deps.located);
  }
}

function decodeSideBatch(
  deps: DecodeStepDeps,
  kind: Exclude<InputKind, 'telemetry'>,
  batch: SourceBatch,
  deadLetters: DeadLetter[],
): DecodedBatch {
  const { decoder, metrics } = deps;
  const events: PdmEvent[] = [];
  const messageIndex: number[] = [];
  const schemaIds: (number | undefined)[] = [];
  const { messages } = batch;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as SourceMessage;
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
    if (!admitted(deps, kind, batch, m, r.record.machineId, r.schemaId, deadLetters)) continue;
    events.push({ kind, record: r.record } as PdmEvent);
    messageIndex.push(i);
    schemaIds.push(r.schemaId);
  }
  return { events, telemetry: undefined, messageIndex, schemaIds };
}

/** Telemetry straight into the step's columns: no event object, no Buffer view per message. */
function decodeTelemetryBatch(
  deps: DecodeStepDeps,
  batch: SourceBatch,
  deadLetters: DeadLetter[],
): DecodedBatch {
  const { decoder, metrics, columns, bytes, rowSources, located } = deps;
  const { messages } = batch;
  const { keys, values, at } = located;
  const wasLocated = located.batch === batch;
  resetTelemetryColumns(columns, messages.length);
  if (rowSources.messageIndex.length < messages.length) {
    rowSources.messageIndex = new Int32Array(columns.ts.length);
    rowSources.schemaIds = new Int32Array(columns.ts.length);
  }
  const { messageIndex, schemaIds } = rowSources;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as SourceMessage;
    if (wasLocated) {
      bytes.key = keys[i] as Buffer | null;
      bytes.keyAt = at[4 * i] as number;
      bytes.keyEnd = at[4 * i + 1] as number;
      bytes.value = values[i] as Buffer | null;
      bytes.valueAt = at[4 * i + 2] as number;
      bytes.valueEnd = at[4 * i + 3] as number;
    } else locateMessage(m, bytes);
    const r = decoder.decodeTelemetry(bytes, columns);
    if (typeof r !== 'number') {
      reject(metrics, deadLetters, {
        message: m,
        reason: r.reason,
        stage: 'decode',
        error: r.message,
        schemaId: r.schemaId,
      });
      continue;
    }
    const row = columns.length - 1;
    if (!admitted(deps, 'telemetry', batch, m, columns.machineId[row] as number, r, deadLetters)) {
      columns.length = row;
      continue;
    }
    messageIndex[row] = i;
    schemaIds[row] = r;
  }
  // Not holding on to the last message's bytes until the next batch.
  bytes.key = null;
  bytes.value = null;
  return { events: [], telemetry: columns, messageIndex, schemaIds };
}

/**
 * The checks of a decoded record that need its Kafka message (record timestamp, partition); false when it
 * was dead-lettered.
 */
function admitted(
  deps: DecodeStepDeps,
  kind: InputKind,
  batch: SourceBatch,
  m: SourceMessage,
  machineId: number,
  schemaId: number | undefined,
  deadLetters: DeadLetter[],
): boolean {
  const { homes, metrics, log } = deps;
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
    return false;
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
    return false;
  }
  if (home.conflictWith !== undefined) {
    metrics.outcomes.inc({ reason: 'WRONG_PARTITION' });
    log.error(
      { machineId, telemetryPartition: batch.partition, sidePartition: home.conflictWith },
      'machine telemetry arrived on another partition than its earlier side events (errors, maintenance or metadata); those side events are missing from its features: fix the producers partitioner and replay them',
    );
  }
  return true;
}
