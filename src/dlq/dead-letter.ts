import type { SourceMessage } from '../ingest/index.js';
import type { DeadLetterReason, Stage } from '../shared/errors.js';
import { formatDateTime, formatInstant, type DeadLetterRow, type ServerCapabilities } from '../sink/index.js';
import { machineIdOfKey } from '../shared/records.js';
import { ENGINE_VERSION } from '../shared/version.js';
import { replayCountOf, replayedFromOf } from './replay-headers.js';

export interface DeadLetter {
  readonly message: SourceMessage;
  readonly reason: DeadLetterReason;
  readonly stage: Stage;
  readonly error: string;
  readonly schemaId?: number | undefined;
  readonly machineId?: number | undefined;
}

/** Credentials in URLs (`scheme://user:pass@host`) never reach the table, whatever an error message held. */
export function scrubSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, '$1[redacted]@');
}

const MAX_ERROR_CHARS = 2_000;

/** `DateTime('UTC')` holds 1970-01-01 … 2106-02-07; a record timestamp outside is stored as 0. */
const DATETIME_MAX_MS = 4_294_967_295_000;

/** The record's Kafka timestamp when a DateTime column can hold it, else null (any producer can send any). */
function storableTimestampMs(ms: number): number | null {
  return Number.isFinite(ms) && ms >= 0 && ms <= DATETIME_MAX_MS ? ms : null;
}

/**
 * The machine a dead letter belongs to: the decoded record's when known, else the key's when it is a
 * machine id (key = machineId as a decimal string), else −1. Ops filter dead letters by machine.
 */
function deadLetterMachineId(d: Pick<DeadLetter, 'machineId' | 'message'>): number {
  return d.machineId ?? machineIdOfKey(d.message.key) ?? -1;
}

/** Columns of migration 5 (src/sink/migrations.ts): what `dlq replay` needs to re-publish exactly. */
export interface DeadLetterReplayColumns {
  /** The key's exact bytes (`key` is its UTF-8 text, lossy for binary keys). */
  readonly key_base64: string | null;
  /** The Kafka timestamp in ms, whatever its value (`message_ts` holds 1970..2106 in whole seconds). */
  readonly message_ts_ms: number;
  readonly replay_count: number;
  readonly replayed_from: string;
}

export function toDeadLetterRow(
  d: DeadLetter,
  caps: Pick<ServerCapabilities, 'modernTypes'>,
  nowMs: number = Date.now(),
): DeadLetterRow & DeadLetterReplayColumns {
  const value = d.message.value;
  const ts = storableTimestampMs(d.message.timestampMs);
  const error =
    ts === null
      ? `${d.error} (Kafka record timestamp ${String(d.message.timestampMs)} is outside 1970..2106; message_ts stored as 0)`
      : d.error;
  return {
    topic: d.message.topic,
    partition: d.message.partition,
    offset: d.message.offset,
    key: d.message.key === null ? null : d.message.key.toString('utf8'),
    payload_base64: value === null ? '' : value.toString('base64'),
    payload_bytes: value === null ? 0 : value.length,
    reason: d.reason,
    stage: d.stage,
    error_message: scrubSecrets(error).slice(0, MAX_ERROR_CHARS),
    schema_id: d.schemaId ?? -1,
    machine_id: deadLetterMachineId(d),
    message_ts: formatDateTime(ts ?? 0),
    dead_lettered_at: formatInstant(nowMs, caps),
    engine_version: ENGINE_VERSION,
    key_base64: d.message.key === null ? null : d.message.key.toString('base64'),
    message_ts_ms: Number.isSafeInteger(d.message.timestampMs) ? d.message.timestampMs : -1,
    replay_count: replayCountOf(d.message.headers),
    replayed_from: replayedFromOf(d.message.headers),
  };
}
