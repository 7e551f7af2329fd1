import { RECORD_KINDS, type RecordByKind, type RecordKind, type TopicNames } from '../shared/records.js';
import { createCodec, type AvroCodec } from './avro.js';
import { loadProjectSchemas, valueSubject, type ProjectSchemas } from './project-schemas.js';
import type { SchemaRegistryClient } from './registry-client.js';
import { encodeFrame } from './wire-format.js';

export interface RecordEncoder {
  readonly schemaIds: { readonly [K in RecordKind]: number };
  /** Confluent-framed Avro of `record`; throws when the record does not fit the schema. */
  encode<K extends RecordKind>(kind: K, record: RecordByKind[K]): Buffer;
}

/**
 * Producer-side encoder: registers (idempotently) the project schema of every topic under `<topic>-value`
 * and frames records with the returned ids.
 */
export async function createRecordEncoder(
  registry: SchemaRegistryClient,
  topics: TopicNames,
  schemas: ProjectSchemas = loadProjectSchemas(),
): Promise<RecordEncoder> {
  const ids: Partial<Record<RecordKind, number>> = {};
  const codecs: Partial<Record<RecordKind, AvroCodec>> = {};
  for (const kind of RECORD_KINDS) {
    ids[kind] = await registry.register(valueSubject(topics[kind]), schemas[kind]);
    codecs[kind] = createCodec(schemas[kind]);
  }
  const schemaIds = ids as { [K in RecordKind]: number };
  const byKind = codecs as { [K in RecordKind]: AvroCodec };
  return {
    schemaIds,
    encode(kind, record) {
      return encodeFrame(schemaIds[kind], byKind[kind].encode(record));
    },
  };
}
