/**
 * Avro schema compatibility as the Confluent registry defines it, decided by avsc's schema resolution:
 * "reader can read writer" ⇔ `reader.createResolver(writer)` does not throw. Pure: no I/O.
 */
import avsc from 'avsc';
import type { Type } from 'avsc';

// The levels are the registry API's; the client side (decode) owns the list.
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from '../../decode/index.js';

export { COMPATIBILITY_LEVELS, type CompatibilityLevel };

/** Confluent's default level. */
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  /** One line per failed check, empty when compatible. */
  readonly messages: readonly string[];
}

/** Parses schema text into an avsc type; throws with avsc's message when the text is not a valid Avro schema. */
export function parseAvroSchema(text: string): Type {
  const json: unknown = JSON.parse(text);
  // avsc validates the JSON shape itself (names, defaults, symbols); its typings only accept the schema union.
  return avsc.Type.forSchema(json as avsc.Schema);
}

/** Why `reader` cannot read data written with `writer`, or `undefined` when it can. */
export function readError(reader: Type, writer: Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    // An incompatibility is the expected outcome here, returned as a value (the registry answers 409).
    return err instanceof Error ? err.message : String(err);
  }
}

export interface VersionedType {
  readonly version: number;
  readonly type: Type;
}

/**
 * Checks `candidate` against the existing versions of a subject (oldest first), under `level`.
 * BACKWARD: the new schema reads data written with the old; FORWARD: the old schema reads data written
 * with the new; FULL: both. Non-transitive levels compare with the latest version only.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: Type,
  existing: readonly VersionedType[],
): CompatibilityResult {
  if (level === 'NONE' || existing.length === 0) return { compatible: true, messages: [] };
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? existing : existing.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const messages: string[] = [];
  for (const { version, type: old } of against) {
    if (backward) {
      const why = readError(candidate, old);
      if (why !== undefined)
        messages.push(`new schema cannot read data written with version ${version}: ${why}`);
    }
    if (forward) {
      const why = readError(old, candidate);
      if (why !== undefined)
        messages.push(`version ${version} cannot read data written with the new schema: ${why}`);
    }
  }
  return { compatible: messages.length === 0, messages };
}

/**
 * Key under which two schema texts count as the same schema: JSON with whitespace removed and object keys
 * sorted (key order carries no meaning in Avro JSON; field and symbol order do and are kept).
 */
export function canonicalSchemaKey(text: string): string {
  return JSON.stringify(sortKeys(JSON.parse(text)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}
