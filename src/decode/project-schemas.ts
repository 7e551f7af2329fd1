import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RECORD_KINDS, type RecordKind } from '../shared/records.js';

/** Avro schema JSON of each record kind, as committed in schemas/<kind>.avsc. */
export type ProjectSchemas = { readonly [K in RecordKind]: Readonly<Record<string, unknown>> };

const DEFAULT_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

/** Reads the reader schemas shipped with the engine (the repo's schemas/ folder by default). */
export function loadProjectSchemas(dir: string = DEFAULT_DIR): ProjectSchemas {
  const out: Partial<Record<RecordKind, Record<string, unknown>>> = {};
  for (const kind of RECORD_KINDS) {
    const path = `${dir.endsWith('/') ? dir : `${dir}/`}${kind}.avsc`;
    out[kind] = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  }
  return out as ProjectSchemas;
}

/** Avro schema JSON of the engine's own output, the failure-risk alerts (schemas/alerts.avsc). */
export function loadAlertSchema(dir: string = DEFAULT_DIR): Readonly<Record<string, unknown>> {
  return JSON.parse(readFileSync(`${dir.endsWith('/') ? dir : `${dir}/`}alerts.avsc`, 'utf8')) as Record<
    string,
    unknown
  >;
}

/** Subject of a topic's value schema (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
