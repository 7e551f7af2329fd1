/**
 * The data model and rules of the registry stand-in: global, increasing schema ids shared across subjects,
 * per-subject versions, compatibility levels. No I/O: every mutation hands a snapshot to `persist` before it
 * counts (a failed persist rolls the change back), so ids stay stable across restarts — messages in Kafka
 * carry them.
 */
import type { Type } from 'avsc';
import { z } from 'zod';
import {
  COMPATIBILITY_LEVELS,
  DEFAULT_COMPATIBILITY,
  canonicalSchemaKey,
  checkCompatibility,
  isCompatibilityLevel,
  parseAvroSchema,
  type CompatibilityLevel,
  type CompatibilityResult,
} from './compatibility.js';
import { RegistryApiError, ERROR_CODES } from './api-error.js';

const SNAPSHOT_FORMAT = 'pdm-registry-standin/1';

const levelSchema = z.enum(COMPATIBILITY_LEVELS);
const snapshotSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  nextId: z.number().int().positive(),
  compatibility: levelSchema,
  schemas: z.array(z.object({ id: z.number().int().positive(), schema: z.string() })),
  subjects: z.array(
    z.object({
      name: z.string().min(1),
      compatibility: levelSchema.optional(),
      versions: z.array(z.object({ version: z.number().int().positive(), id: z.number().int().positive() })),
    }),
  ),
});
export type StoreSnapshot = z.infer<typeof snapshotSchema>;

/** Validates a snapshot read from disk; throws with zod's explanation when it is not one of ours. */
export function parseSnapshot(value: unknown): StoreSnapshot {
  return snapshotSchema.parse(value);
}

/** Body of register / lookup / compatibility requests, as Confluent clients send it. */
export interface SchemaRequest {
  readonly schema?: unknown;
  readonly schemaType?: unknown;
  readonly references?: unknown;
}

export interface SubjectVersion {
  readonly subject: string;
  readonly id: number;
  readonly version: number;
  readonly schema: string;
}

export interface RegistryStore {
  listSubjects(): string[];
  listVersions(subject: string): number[];
  getVersion(subject: string, version: string): SubjectVersion;
  register(subject: string, body: SchemaRequest): { id: number };
  lookup(subject: string, body: SchemaRequest): SubjectVersion;
  schemaById(id: string): { schema: string };
  subjectsOfSchema(id: string): { subject: string; version: number }[];
  deleteSubject(subject: string): number[];
  getCompatibility(subject: string | undefined, defaultToGlobal: boolean): CompatibilityLevel;
  setCompatibility(subject: string | undefined, body: unknown): CompatibilityLevel;
  deleteCompatibility(subject: string): CompatibilityLevel;
  testCompatibility(subject: string, version: string | undefined, body: SchemaRequest): CompatibilityResult;
  snapshot(): StoreSnapshot;
}

interface SchemaEntry {
  readonly id: number;
  readonly schema: string;
  readonly key: string;
  type?: Type;
}

interface SubjectEntry {
  compatibility?: CompatibilityLevel;
  versions: { version: number; id: number }[];
}

interface State {
  nextId: number;
  compatibility: CompatibilityLevel;
  byId: Map<number, SchemaEntry>;
  byKey: Map<string, SchemaEntry>;
  subjects: Map<string, SubjectEntry>;
}

const MAX_VERSION = 2 ** 31 - 1;

export function createRegistryStore(
  options: { initial?: StoreSnapshot | undefined; persist?: (snapshot: StoreSnapshot) => void } = {},
): RegistryStore {
  let state = fromSnapshot(options.initial);
  const persist = options.persist ?? (() => undefined);

  function mutate<T>(change: () => T): T {
    const before = toSnapshot(state);
    try {
      const result = change();
      persist(toSnapshot(state));
      return result;
    } catch (err) {
      state = fromSnapshot(before);
      throw err;
    }
  }

  function subjectOrThrow(subject: string): SubjectEntry {
    const entry = state.subjects.get(subject);
    if (entry === undefined || entry.versions.length === 0) {
      throw new RegistryApiError(ERROR_CODES.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
    }
    return entry;
  }

  function typeOf(entry: SchemaEntry): Type {
    entry.type ??= parseAvroSchema(entry.schema);
    return entry.type;
  }

  function entryById(id: number): SchemaEntry {
    const entry = state.byId.get(id);
    // Only reachable if the snapshot on disk was edited by hand.
    if (entry === undefined)
      throw new RegistryApiError(ERROR_CODES.INTERNAL, `schema id ${id} is missing from the store`);
    return entry;
  }

  function levelOf(subject: string): CompatibilityLevel {
    return state.subjects.get(subject)?.compatibility ?? state.compatibility;
  }

  function versionOf(entry: SubjectEntry, subject: string, spec: string): { version: number; id: number } {
    const latest = entry.versions[entry.versions.length - 1];
    if (spec === 'latest' || spec === '-1') {
      if (latest === undefined)
        throw new RegistryApiError(ERROR_CODES.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
      return latest;
    }
    const version = parseVersion(spec);
    const found = entry.versions.find((v) => v.version === version);
    if (found === undefined)
      throw new RegistryApiError(ERROR_CODES.VERSION_NOT_FOUND, `Version ${version} not found.`);
    return found;
  }

  function existingTypes(entry: SubjectEntry): { version: number; type: Type }[] {
    return entry.versions.map((v) => ({ version: v.version, type: typeOf(entryById(v.id)) }));
  }

  return {
    listSubjects: () =>
      [...state.subjects.entries()].filter(([, e]) => e.versions.length > 0).map(([name]) => name),

    listVersions: (subject) => subjectOrThrow(subject).versions.map((v) => v.version),

    getVersion(subject, spec) {
      const entry = subjectOrThrow(subject);
      const { version, id } = versionOf(entry, subject, spec);
      return { subject, id, version, schema: entryById(id).schema };
    },

    register: (subject, body) =>
      mutate(() => {
        const candidate = validateSchema(body);
        const entry = state.subjects.get(subject) ?? { versions: [] };
        const known = state.byKey.get(candidate.key);
        if (known !== undefined && entry.versions.some((v) => v.id === known.id)) return { id: known.id };
        const result = checkCompatibility(levelOf(subject), candidate.type, existingTypes(entry));
        if (!result.compatible) {
          throw new RegistryApiError(
            ERROR_CODES.INCOMPATIBLE,
            `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: ${result.messages.join('; ')}`,
          );
        }
        let schemaEntry = known;
        if (schemaEntry === undefined) {
          schemaEntry = {
            id: state.nextId++,
            schema: candidate.text,
            key: candidate.key,
            type: candidate.type,
          };
          state.byId.set(schemaEntry.id, schemaEntry);
          state.byKey.set(schemaEntry.key, schemaEntry);
        }
        const lastVersion = entry.versions[entry.versions.length - 1]?.version ?? 0;
        entry.versions.push({ version: lastVersion + 1, id: schemaEntry.id });
        state.subjects.set(subject, entry);
        return { id: schemaEntry.id };
      }),

    lookup(subject, body) {
      const entry = subjectOrThrow(subject);
      const candidate = validateSchema(body);
      const known = state.byKey.get(candidate.key);
      const found = known === undefined ? undefined : entry.versions.find((v) => v.id === known.id);
      if (known === undefined || found === undefined) {
        throw new RegistryApiError(ERROR_CODES.SCHEMA_NOT_FOUND, 'Schema not found');
      }
      return { subject, id: known.id, version: found.version, schema: known.schema };
    },

    schemaById(idText) {
      const id = Number(idText);
      const entry = Number.isInteger(id) ? state.byId.get(id) : undefined;
      if (entry === undefined)
        throw new RegistryApiError(ERROR_CODES.SCHEMA_NOT_FOUND, `Schema ${idText} not found`);
      return { schema: entry.schema };
    },

    subjectsOfSchema(idText) {
      const id = Number(idText);
      if (!Number.isInteger(id) || !state.byId.has(id)) {
        throw new RegistryApiError(ERROR_CODES.SCHEMA_NOT_FOUND, `Schema ${idText} not found`);
      }
      const out: { subject: string; version: number }[] = [];
      for (const [subject, entry] of state.subjects) {
        for (const v of entry.versions) if (v.id === id) out.push({ subject, version: v.version });
      }
      return out;
    },

    deleteSubject: (subject) =>
      mutate(() => {
        const versions = subjectOrThrow(subject).versions.map((v) => v.version);
        // Schema ids stay resolvable after the subject is gone (Confluent's soft delete keeps them too).
        state.subjects.delete(subject);
        return versions;
      }),

    getCompatibility(subject, defaultToGlobal) {
      if (subject === undefined) return state.compatibility;
      const level = state.subjects.get(subject)?.compatibility;
      if (level !== undefined) return level;
      if (defaultToGlobal) return state.compatibility;
      throw new RegistryApiError(
        ERROR_CODES.SUBJECT_LEVEL_CONFIG_NOT_FOUND,
        `Subject '${subject}' does not have subject-level compatibility configured`,
      );
    },

    setCompatibility: (subject, body) =>
      mutate(() => {
        const raw =
          typeof body === 'object' && body !== null
            ? (body as { compatibility?: unknown }).compatibility
            : undefined;
        const level = typeof raw === 'string' ? raw.toUpperCase() : raw;
        if (!isCompatibilityLevel(level)) {
          throw new RegistryApiError(
            ERROR_CODES.INVALID_COMPATIBILITY_LEVEL,
            `Invalid compatibility level. Valid values are ${COMPATIBILITY_LEVELS.join(', ')}`,
          );
        }
        if (subject === undefined) {
          state.compatibility = level;
        } else {
          const entry = state.subjects.get(subject) ?? { versions: [] };
          entry.compatibility = level;
          state.subjects.set(subject, entry);
        }
        return level;
      }),

    deleteCompatibility: (subject) =>
      mutate(() => {
        const entry = state.subjects.get(subject);
        const level = entry?.compatibility;
        if (entry === undefined || level === undefined) {
          throw new RegistryApiError(ERROR_CODES.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
        }
        delete entry.compatibility;
        if (entry.versions.length === 0) state.subjects.delete(subject);
        return level;
      }),

    testCompatibility(subject, spec, body) {
      const candidate = validateSchema(body);
      const entry = state.subjects.get(subject);
      const latest = spec === undefined || spec === 'latest' || spec === '-1';
      if (entry === undefined || entry.versions.length === 0) {
        // Nothing registered yet: any schema is compatible with "latest" (as Confluent answers).
        if (latest) return { compatible: true, messages: [] };
        throw new RegistryApiError(ERROR_CODES.SUBJECT_NOT_FOUND, `Subject '${subject}' not found.`);
      }
      // As Confluent: `/versions` (no version) checks what a registration would, the level deciding between
      // the latest and all versions; `/versions/{v}` (also `latest`) checks against that one version only.
      const against =
        spec === undefined
          ? existingTypes(entry)
          : [versionOf(entry, subject, spec)].map((v) => ({
              version: v.version,
              type: typeOf(entryById(v.id)),
            }));
      return checkCompatibility(levelOf(subject), candidate.type, against);
    },

    snapshot: () => toSnapshot(state),
  };
}

function validateSchema(body: SchemaRequest): { text: string; key: string; type: Type } {
  const schemaType = body.schemaType ?? 'AVRO';
  if (schemaType !== 'AVRO') {
    throw new RegistryApiError(
      ERROR_CODES.INVALID_SCHEMA,
      `Invalid schema: schemaType ${JSON.stringify(schemaType)} is not supported by the local stand-in (AVRO only)`,
    );
  }
  if (Array.isArray(body.references) && body.references.length > 0) {
    throw new RegistryApiError(
      ERROR_CODES.INVALID_SCHEMA,
      'Invalid schema: schema references are not supported by the local stand-in',
    );
  }
  if (typeof body.schema !== 'string' || body.schema.trim() === '') {
    throw new RegistryApiError(
      ERROR_CODES.INVALID_SCHEMA,
      'Invalid schema: "schema" must be a non-empty string',
    );
  }
  try {
    const type = parseAvroSchema(body.schema);
    return { text: JSON.stringify(JSON.parse(body.schema)), key: canonicalSchemaKey(body.schema), type };
  } catch (err) {
    throw new RegistryApiError(
      ERROR_CODES.INVALID_SCHEMA,
      `Invalid schema: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function parseVersion(spec: string): number {
  const version = /^\d+$/.test(spec) ? Number(spec) : Number.NaN;
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new RegistryApiError(
      ERROR_CODES.INVALID_VERSION,
      `The specified version '${spec}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    );
  }
  return version;
}

function fromSnapshot(snapshot: StoreSnapshot | undefined): State {
  const state: State = {
    nextId: snapshot?.nextId ?? 1,
    compatibility: snapshot?.compatibility ?? DEFAULT_COMPATIBILITY,
    byId: new Map(),
    byKey: new Map(),
    subjects: new Map(),
  };
  for (const s of snapshot?.schemas ?? []) {
    const entry: SchemaEntry = { id: s.id, schema: s.schema, key: canonicalSchemaKey(s.schema) };
    state.byId.set(entry.id, entry);
    state.byKey.set(entry.key, entry);
    if (entry.id >= state.nextId) state.nextId = entry.id + 1;
  }
  for (const s of snapshot?.subjects ?? []) {
    state.subjects.set(s.name, {
      ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
      versions: s.versions.map((v) => ({ ...v })),
    });
  }
  return state;
}

function toSnapshot(state: State): StoreSnapshot {
  return {
    format: SNAPSHOT_FORMAT,
    nextId: state.nextId,
    compatibility: state.compatibility,
    schemas: [...state.byId.values()].map((e) => ({ id: e.id, schema: e.schema })),
    subjects: [...state.subjects.entries()].map(([name, e]) => ({
      name,
      ...(e.compatibility === undefined ? {} : { compatibility: e.compatibility }),
      versions: e.versions.map((v) => ({ ...v })),
    })),
  };
}
