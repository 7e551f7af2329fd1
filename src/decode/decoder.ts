import { BadRecordError, errorMessage, type DeadLetterReason } from '../shared/errors.js';
import { machineIdOfKey, machineTombstone, type RecordByKind, type RecordKind } from '../shared/records.js';
import { createResolvingCodec, type AvroCodec } from './avro.js';
import type { ProjectSchemas } from './project-schemas.js';
import type { SchemaRegistryClient } from './registry-client.js';
import { validateRecord } from './validate.js';
import { FRAME_HEADER_BYTES, frameSchemaId } from './wire-format.js';

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

export interface RecordDecoder {
  /**
   * Fetches the writer schemas of these values that are not cached yet: at most one registry round trip
   * per unknown id, once per batch rather than per message. A registry outage rejects with a retryable
   * error (the caller pauses and retries the batch); an id the registry does not know is remembered for
   * `unknownSchemaRetryMs` and its messages decode to `UNKNOWN_SCHEMA`; after that the registry is asked
   * again (a schema registered late, then `dlq replay`, must not need an engine restart).
   */
  prepare(values: Iterable<Buffer | null>): Promise<void>;
  /** Synchronous; call after {@link prepare} for the same values. */
  decode<K extends RecordKind>(kind: K, value: Buffer | null, key: Buffer | null): DecodeResult<K>;
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

  return {
    async prepare(values) {
      const missing = new Set<number>();
      const t = now();
      for (const v of values) {
        if (v !== null && v.length >= 5 && v[0] === 0) {
          const id = v.readUInt32BE(1);
          const w = writers.get(id);
          if (w === undefined || ('unknown' in w && t - w.atMs >= retryUnknownMs)) missing.add(id);
        }
      }
      // Sequential on purpose: ids are few (one per schema version), and a failing registry should fail once.
      for (const id of missing) {
        try {
          writers.set(id, { schema: await registry.schemaById(id) });
        } catch (err) {
          if (err instanceof BadRecordError) writers.set(id, { unknown: err.message, atMs: t });
          else throw err;
        }
      }
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
  };
}
