import type { SourceMessage } from '../ingest/index.js';
import type { DeadLetterReason, Stage } from '../shared/errors.js';
import { formatDateTime, formatInstant, type DeadLetterRow, type ServerCapabilities } from '../sink/index.js';
import { ENGINE_VERSION } from '../shared/version.js';

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

export function toDeadLetterRow(
  d: DeadLetter,
  caps: Pick<ServerCapabilities, 'modernTypes'>,
  nowMs: number = Date.now(),
): DeadLetterRow {
  const value = d.message.value;
  return {
    topic: d.message.topic,
    partition: d.message.partition,
    offset: d.message.offset,
    key: d.message.key === null ? null : d.message.key.toString('utf8'),
    payload_base64: value === null ? '' : value.toString('base64'),
    payload_bytes: value === null ? 0 : value.length,
    reason: d.reason,
    stage: d.stage,
    error_message: scrubSecrets(d.error).slice(0, MAX_ERROR_CHARS),
    schema_id: d.schemaId ?? -1,
    machine_id: d.machineId ?? -1,
    message_ts: formatDateTime(d.message.timestampMs),
    dead_lettered_at: formatInstant(nowMs, caps),
    engine_version: ENGINE_VERSION,
  };
}
