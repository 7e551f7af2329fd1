/**
 * Domain records of the five input topics (../shared/FEATURES.md, feature set pdm-v1).
 * Field names are exactly the Avro field names. `ts` is event time in epoch milliseconds, UTC.
 */
export interface TelemetryRecord {
  readonly machineId: number;
  readonly ts: number;
  readonly volt: number;
  readonly rotate: number;
  readonly pressure: number;
  readonly vibration: number;
}

/** The fields of telemetry, each a number: what {@link TelemetryColumns} holds a column of. */
export const TELEMETRY_FIELDS = ['machineId', 'ts', 'volt', 'rotate', 'pressure', 'vibration'] as const;

/**
 * Decoded telemetry of one batch as columns: row j is one record (`TelemetryRecord` without an object per
 * record). Reused from batch to batch by its owner, so rows beyond `length` are stale and nothing may keep
 * a reference to it past the synchronous step that filled it.
 */
export type TelemetryColumns = { length: number } & {
  [F in (typeof TELEMETRY_FIELDS)[number]]: Float64Array;
};

/** Columns with room for `capacity` rows, none filled. */
export function createTelemetryColumns(capacity = 1024): TelemetryColumns {
  const cols = { length: 0 } as TelemetryColumns;
  for (const f of TELEMETRY_FIELDS) cols[f] = new Float64Array(capacity);
  return cols;
}

/** Makes room for `rows` rows (contents are not kept: call before filling), length 0. */
export function resetTelemetryColumns(cols: TelemetryColumns, rows: number): void {
  cols.length = 0;
  if (cols.ts.length >= rows) return;
  const capacity = Math.max(rows, 2 * cols.ts.length);
  for (const f of TELEMETRY_FIELDS) cols[f] = new Float64Array(capacity);
}

export interface ErrorRecord {
  readonly machineId: number;
  readonly ts: number;
  readonly errorId: string;
}

export interface MaintenanceRecord {
  readonly machineId: number;
  readonly ts: number;
  readonly comp: string;
}

export interface MachineRecord {
  readonly machineId: number;
  readonly model: string;
  readonly age: number;
  /**
   * A tombstone (null value on the compacted machines topic, key = machineId): the machine's metadata is
   * deleted, so from then on its age is −1 and its model unknown. Only the decoder makes these
   * ({@link machineTombstone}); `model` and `age` of a tombstone carry no data.
   */
  readonly tombstone?: true;
}

/** The record of a tombstone on the machines topic: deletes the metadata of `machineId`. */
export function machineTombstone(machineId: number): MachineRecord {
  return { machineId, model: '', age: -1, tombstone: true };
}

export interface FailureRecord {
  readonly machineId: number;
  readonly ts: number;
  readonly failure: string;
}

export const RECORD_KINDS = ['telemetry', 'errors', 'maintenance', 'machines', 'failures'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export interface RecordByKind {
  readonly telemetry: TelemetryRecord;
  readonly errors: ErrorRecord;
  readonly maintenance: MaintenanceRecord;
  readonly machines: MachineRecord;
  readonly failures: FailureRecord;
}

/** A decoded event tagged with its kind: what flows from decode into features. */
export type PdmEvent = {
  [K in RecordKind]: { readonly kind: K; readonly record: RecordByKind[K] };
}[RecordKind];

/** Topic name of each record kind, `<prefix><kind>`; the default prefix `pdm.` gives the spec's names. */
export type TopicNames = { readonly [K in RecordKind]: string };

export function topicNames(prefix = 'pdm.'): TopicNames {
  return {
    telemetry: `${prefix}telemetry`,
    errors: `${prefix}errors`,
    maintenance: `${prefix}maintenance`,
    machines: `${prefix}machines`,
    failures: `${prefix}failures`,
  };
}

/** Kafka message key of every topic: machineId as a decimal string. */
export function machineKey(machineId: number): string {
  return String(machineId);
}

/** machineId of a key that is its canonical decimal string (what producers must send), else undefined. */
export function machineIdOfKey(key: Buffer | null): number | undefined {
  if (key === null || key.length === 0 || key.length > 16) return undefined;
  const text = key.toString('latin1');
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : undefined;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
