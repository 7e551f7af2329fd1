import { BadRecordError, errorMessage, type DeadLetterReason } from '../shared/errors.js';
import type { MessageBytes } from '../shared/message-bytes.js';
import {
  machineIdOfKey,
  machineTombstone,
  TELEMETRY_FIELDS,
  type RecordByKind,
  type RecordKind,
  type TelemetryColumns,
} from '../shared/records.js';
import { createColumnReader, createResolvingCodec, type AvroCodec, type ColumnReader } from './avro.js';
import type { ProjectSchemas } from './project-schemas.js';
import type { SchemaRegistryClient } from './registry-client.js';
import { keyBytesAreDecimal, validateRecord } from './validate.js';
import { FRAME_HEADER_BYTES, MAGIC_BYTE, frameSchemaId } from './wire-format.js';

export type DecodeResult<K extends RecordKind = RecordKind> =
  | {
      readonly ok: true;
      readonly record: RecordByKind[K];
      /** Writer schema id; undefined for a tombstone of the machines topic (no value, no schema). */
      readonly schemaId: number | undefined;
    }
  | {
      readonly ok: false;
      readonly reason: DeadLetterReason;
      readonly message: string;
      readonly schemaId: number | undefined;
    };

export type DecodeFailure = Extract<DecodeResult, { ok: false }>;

export interface RecordDecoder {
  /**
   * Fetches the writer schemas of these values that are not cached yet: at most one registry round trip
   * per unknown id, once per batch rather than per message. A registry outage rejects with a retryable
   * error (the caller pauses and retries the batch); an id the registry does not know is remembered for
   * `unknownSchemaRetryMs` and its messages decode to `UNKNOWN_SCHEMA`; after that the registry is asked
   * again (a schema registered late, then `dlq replay`, must not need an engine restart).
   */
  prepare(values: Iterable<Buffer | null>): Promise<void>;
  /** {@link prepare} given the values' frame schema ids rather than the values. */
  prepareIds(ids: Iterable<number>): Promise<void>;
  /**
   * Fetches the writer schema of `subject`'s latest version and builds its reader for `kind`, ahead of the
   * first batch (at start, while the engine waits for its scorer). Only a head start: a batch prepares
   * whatever this did not, and one that needs an id still being fetched here waits for that fetch instead of
   * asking again. Rejects when the registry cannot say; the caller only logs it.
   */
  warm(kind: RecordKind, subject: string): Promise<void>;
  /** Synchronous; call after {@link prepare} for the same values. */
  decode<K extends RecordKind>(kind: K, value: Buffer | null, key: Buffer | null): DecodeResult<K>;
  /**
   * {@link decode} of one telemetry message into the next row of `into`: on success the row is filled,
   * `into.length` grows by one and the writer schema id is returned; otherwise the failure {@link decode}
   * gives, and no row. Values written with the project's own schema are read from `m`'s bytes straight
   * into the columns (no Buffer view, no object per record); every other value, and every one that fails
   * or is not plainly valid, goes through {@link decode}, so outcomes and messages are the same.
   */
  decodeTelemetry(m: MessageBytes, into: TelemetryColumns): number | DecodeFailure;
}

/** A column reader for one writer schema, with the columns it last wrote to in its field order. */
interface ColumnEntry {
  readonly reader: ColumnReader;
  /** `ts` column of the columns `targets` was built for: columns are replaced together when they grow. */
  for: Float64Array | undefined;
  targets: Float64Array[];
}

type WriterEntry = { readonly schema: string } | { readonly unknown: string; readonly atMs: number };

export interface RecordDecoderOptions {
  /** How long an id the registry did not know is believed unknown. @default 30_000 */
  readonly unknownSchemaRetryMs?: number;
  /** @default Date.now */
  readonly nowMs?: () => number;
}

/**
 * A record without a value. On the compacted machines topic that is a tombstone: the machine's metadata is
 * deleted (spec revision 2), which needs a valid key since the key is all it has. Elsewhere it is no event.
 */
function decodeNullValue<K extends RecordKind>(kind: K, key: Buffer | null): DecodeResult<K> {
  if (kind !== 'machines') {
    return {
      ok: false,
      reason: 'BAD_FRAME',
      message: `message has no value (a tombstone); only the compacted machines topic accepts tombstones, not ${kind}`,
      schemaId: undefined,
    };
  }
  const machineId = machineIdOfKey(key);
  if (machineId === undefined) {
    const text = key?.toString('utf8');
    return {
      ok: false,
      reason: 'INVALID_KEY',
      message: `tombstone key ${text === undefined ? 'is missing' : JSON.stringify(text)}, expected a machineId as a decimal string`,
      schemaId: undefined,
    };
  }
  // kind is 'machines' here, so this is RecordByKind[K]; TypeScript does not narrow K from `kind`.
  return { ok: true, record: machineTombstone(machineId) as RecordByKind[K], schemaId: undefined };
}
type CodecEntry = AvroCodec | { readonly incompatible: string };

/** Decodes Confluent-framed Avro with the project's schemas as reader schemas. */
export function createRecordDecoder(
  registry: SchemaRegistryClient,
  readerSchemas: ProjectSchemas,
  options: RecordDecoderOptions = {},
): RecordDecoder {
  const retryUnknownMs = options.unknownSchemaRetryMs ?? 30_000;
  const now = options.nowMs ?? Date.now;
  const writers = new Map<number, WriterEntry>();
  // One resolver per (kind, writer id): a kind's reader schema is fixed for the life of the engine. Keyed
  // by kind, then by the numeric id: no key string built per message.
  const codecs = new Map<RecordKind, Map<number, CodecEntry>>();

  function codecFor(kind: RecordKind, schemaId: number, writer: string): CodecEntry {
    let ofKind = codecs.get(kind);
    if (ofKind === undefined) {
      ofKind = new Map();
      codecs.set(kind, ofKind);
    }
    let entry = ofKind.get(schemaId);
    if (entry === undefined) {
      try {
        entry = createResolvingCodec(readerSchemas[kind], writer);
      } catch (err) {
        entry = { incompatible: errorMessage(err) };
      }
      ofKind.set(schemaId, entry);
    }
    return entry;
  }

  // Per telemetry writer id: its column reader, null where there is none (another schema than the project's).
  const columnReaders = new Map<number, ColumnEntry | null>();
  function columnReaderFor(schemaId: number, writer: string): ColumnEntry | null {
    let entry = columnReaders.get(schemaId);
    if (entry === undefined) {
      let reader: ColumnReader | undefined;
      try {
        reader = createColumnReader(readerSchemas.telemetry, writer, TELEMETRY_FIELDS);
      } catch {
        reader = undefined;
      }
      entry =
        reader === undefined || reader.fields.length !== TELEMETRY_FIELDS.length
          ? null
          : { reader, for: undefined, targets: [] };
      columnReaders.set(schemaId, entry);
    }
    return entry;
  }

  /** Registry fetches in progress by id: a batch that needs one waits for it rather than asking again. */
  const fetching = new Map<number, Promise<void>>();
  function fetchWriter(id: number, atMs: number): Promise<void> {
    let f = fetching.get(id);
    if (f === undefined) {
      f = registry
        .schemaById(id)
        .then(
          (schema) => {
            writers.set(id, { schema });
          },
          (err: unknown) => {
            if (err instanceof BadRecordError) writers.set(id, { unknown: err.message, atMs });
            else throw err;
          },
        )
        .finally(() => fetching.delete(id));
      fetching.set(id, f);
    }
    return f;
  }

  const decoder: RecordDecoder = {
    prepare(values) {
      const ids = new Set<number>();
      for (const v of values) {
        if (v !== null && v.length >= FRAME_HEADER_BYTES && v[0] === MAGIC_BYTE) ids.add(v.readUInt32BE(1));
      }
      return decoder.prepareIds(ids);
    },
    async prepareIds(ids) {
      const missing = new Set<number>();
      const t = now();
      for (const id of ids) {
        const w = writers.get(id);
        if (w === undefined || ('unknown' in w && t - w.atMs >= retryUnknownMs)) missing.add(id);
      }
      // Sequential on purpose: ids are few (one per schema version), and a failing registry should fail once.
      for (const id of missing) await fetchWriter(id, t);
    },
    async warm(kind, subject) {
      const id = await registry.latestId(subject);
      if (id === undefined) return;
      await decoder.prepareIds([id]);
      const writer = writers.get(id);
      if (writer === undefined || !('schema' in writer)) return;
      codecFor(kind, id, writer.schema);
      if (kind === 'telemetry') columnReaderFor(id, writer.schema);
    },
    decode(kind, value, key) {
      if (value === null) return decodeNullValue(kind, key);
      let schemaId: number | undefined;
      try {
        schemaId = frameSchemaId(value);
        const writer = writers.get(schemaId);
        if (writer === undefined) {
          throw new Error(`schema id ${schemaId} was not prepared (programmer error: call prepare first)`);
        }
        if ('unknown' in writer)
          return { ok: false, reason: 'UNKNOWN_SCHEMA', message: writer.unknown, schemaId };
        const codec = codecFor(kind, schemaId, writer.schema);
        if ('incompatible' in codec) {
          return {
            ok: false,
            reason: 'INCOMPATIBLE_SCHEMA',
            message: `writer schema ${schemaId} cannot be read as ${kind}: ${codec.incompatible}`,
            schemaId,
          };
        }
        let record: unknown;
        try {
          record = codec.decode(value, FRAME_HEADER_BYTES);
        } catch (err) {
          return { ok: false, reason: 'DECODE_ERROR', message: errorMessage(err), schemaId };
        }
        validateRecord(kind, record as Record<string, unknown>, key);
        return { ok: true, record: record as RecordByKind[typeof kind], schemaId };
      } catch (err) {
        if (err instanceof BadRecordError)
          return { ok: false, reason: err.reason, message: err.message, schemaId };
        throw err;
      }
    },
    decodeTelemetry(m, into) {
      const { value, valueAt, valueEnd, key } = m;
      const row = into.length;
      if (value !== null && valueEnd - valueAt >= FRAME_HEADER_BYTES && value[valueAt] === MAGIC_BYTE) {
        const schemaId = value.readUInt32BE(valueAt + 1);
        const writer = writers.get(schemaId);
        const entry =
          writer !== undefined && 'schema' in writer ? columnReaderFor(schemaId, writer.schema) : null;
        if (entry !== null) {
          if (entry.for !== into.ts) {
            entry.targets = entry.reader.fields.map((f) => into[f as (typeof TELEMETRY_FIELDS)[number]]);
            entry.for = into.ts;
          }
          if (entry.reader.read(value, valueAt + FRAME_HEADER_BYTES, valueEnd, entry.targets, row)) {
            // What validateRecord checks of telemetry; anything it would reject takes the path below. The
            // reader's varints are below 2^49, so ts is a safe integer; an id is taken here only as a
            // non-negative int32 (a small integer to V8: nothing boxed per record).
            const machineId = into.machineId[row] as number;
            if (
              machineId >= 0 &&
              machineId === (machineId | 0) &&
              key !== null &&
              keyBytesAreDecimal(key, m.keyAt, m.keyEnd, machineId | 0)
            ) {
              into.length = row + 1;
              return schemaId;
            }
          }
        }
      }
      return decodeTelemetryByRecord(decoder, m, into);
    },
  };
  return decoder;
}

/**
 * {@link RecordDecoder.decodeTelemetry} through `decoder.decode`: a record object per message, copied into
 * the next row. What any decoder can do; the project's decoder does it for what it cannot read in place.
 */
export function decodeTelemetryByRecord(
  decoder: Pick<RecordDecoder, 'decode'>,
  m: MessageBytes,
  into: TelemetryColumns,
): number | DecodeFailure {
  const { value, key } = m;
  const r = decoder.decode(
    'telemetry',
    value === null ? null : value.subarray(m.valueAt, m.valueEnd),
    key === null ? null : key.subarray(m.keyAt, m.keyEnd),
  );
  if (!r.ok) return r;
  const row = into.length;
  const record = r.record;
  for (const f of TELEMETRY_FIELDS) into[f][row] = record[f];
  into.length = row + 1;
  // A telemetry value has a frame, so a schema id.
  return r.schemaId as number;
}
