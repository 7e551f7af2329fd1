/**
 * A dead letter's payload decoded as far as it goes: frame header → schema id → writer schema from the
 * registry → Avro body (with the writer schema alone, so a record the engine could not read as its kind
 * still shows what it holds). Every step that fails says why; nothing here throws for a bad payload.
 */
import { createCodec, FRAME_HEADER_BYTES, MAGIC_BYTE } from '../decode/index.js';
import { errorMessage } from '../shared/errors.js';

export interface PayloadInspection {
  readonly bytes: number;
  /** First bytes in hex, for payloads that are not a frame at all. */
  readonly headHex: string;
  readonly frame: 'ok' | 'empty' | 'short' | 'bad-magic';
  readonly schemaId?: number;
  /** `namespace.name` of the writer schema, when the registry knows the id. */
  readonly schemaName?: string;
  readonly decoded?: unknown;
  /** Why decoding stopped (registry, schema or body), when it did. */
  readonly problem?: string;
}

/** Writer schema JSON text of a schema id (the registry client's `schemaById`). */
export type SchemaLookup = (id: number) => Promise<string>;

export async function inspectPayload(payload: Buffer, lookup?: SchemaLookup): Promise<PayloadInspection> {
  const base = { bytes: payload.length, headHex: payload.subarray(0, 16).toString('hex') };
  if (payload.length === 0) return { ...base, frame: 'empty', problem: 'no value (a tombstone)' };
  if (payload.length < FRAME_HEADER_BYTES) {
    return {
      ...base,
      frame: 'short',
      problem: `${payload.length} bytes, shorter than the 5-byte frame header`,
    };
  }
  if (payload[0] !== MAGIC_BYTE) {
    return { ...base, frame: 'bad-magic', problem: `magic byte ${payload[0]}, expected ${MAGIC_BYTE}` };
  }
  const schemaId = payload.readUInt32BE(1);
  if (lookup === undefined) return { ...base, frame: 'ok', schemaId, problem: 'no schema registry given' };
  let schema: string;
  try {
    schema = await lookup(schemaId);
  } catch (err) {
    return { ...base, frame: 'ok', schemaId, problem: `registry: ${errorMessage(err)}` };
  }
  let schemaName: string | undefined;
  try {
    const parsed = JSON.parse(schema) as { name?: unknown; namespace?: unknown };
    if (typeof parsed.name === 'string') {
      schemaName = typeof parsed.namespace === 'string' ? `${parsed.namespace}.${parsed.name}` : parsed.name;
    }
  } catch {
    // Not JSON: createCodec below reports the schema as unusable.
  }
  const named = schemaName === undefined ? {} : { schemaName };
  try {
    const decoded = createCodec(schema).decode(payload.subarray(FRAME_HEADER_BYTES));
    return { ...base, frame: 'ok', schemaId, ...named, decoded };
  } catch (err) {
    return { ...base, frame: 'ok', schemaId, ...named, problem: `Avro body: ${errorMessage(err)}` };
  }
}

/** JSON for decoded Avro values: bytes as hex, longs that avsc gives as bigint as strings. */
export function decodedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer') {
      const data = (v as { data?: unknown }).data;
      return Array.isArray(data) ? `0x${Buffer.from(data as number[]).toString('hex')}` : v;
    }
    return v;
  });
}

/** A lookup that asks the registry once per id for the life of one command. */
export function cachedLookup(lookup: SchemaLookup): SchemaLookup {
  const cache = new Map<number, Promise<string>>();
  return (id) => {
    let p = cache.get(id);
    if (p === undefined) {
      p = lookup(id);
      cache.set(id, p);
    }
    return p;
  };
}
