/**
 * Adapter for the Confluent Schema Registry REST API. Registration goes through
 * @kafkajs/confluent-schema-registry; lookups by id use a plain HTTP GET so that "the id does not exist"
 * (40403, a bad record) and "the registry is unreachable" (transient) are told apart precisely.
 */
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type { RegistryConfig } from '../config/index.js';
import { BadRecordError, PdmError, TransientError, errorMessage } from '../shared/errors.js';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export interface SchemaRegistryClient {
  /** Registers `schema` under `subject` (idempotent) and sets the subject's compatibility; returns the id. */
  register(subject: string, schema: object, compatibility?: CompatibilityLevel): Promise<number>;
  /** Writer schema JSON text of a global id. `UNKNOWN_SCHEMA` bad record when the registry says 40403. */
  schemaById(id: number): Promise<string>;
  /** Id of the latest version of `subject`, or undefined when the subject does not exist. */
  latestId(subject: string): Promise<number | undefined>;
  readonly url: string;
}

export interface RegistryClientOptions {
  /** Per-request timeout. @default 5_000 */
  readonly timeoutMs?: number;
}

interface RegistryErrorBody {
  readonly error_code?: number;
  readonly message?: string;
}

export function createSchemaRegistryClient(
  config: RegistryConfig,
  options: RegistryClientOptions = {},
): SchemaRegistryClient {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const base = config.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
  if (config.auth !== undefined) {
    headers['authorization'] =
      `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`;
  }
  const lib = new SchemaRegistry({
    host: base,
    ...(config.auth !== undefined
      ? { auth: { username: config.auth.username, password: config.auth.password } }
      : {}),
    retry: { retries: 0 },
  });

  async function get(path: string): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new TransientError(`schema registry unreachable: ${errorMessage(err)}`, {
        code: 'REGISTRY_UNAVAILABLE',
        stage: 'decode',
        cause: err,
      });
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // Not JSON (e.g. a proxy's HTML error page): keep the text for the message below.
    }
    return { status: res.status, body };
  }

  function failure(status: number, body: unknown, what: string): PdmError {
    const b = (typeof body === 'object' && body !== null ? body : {}) as RegistryErrorBody;
    const detail =
      `${what}: HTTP ${status}${b.error_code !== undefined ? ` (${b.error_code})` : ''} ${b.message ?? ''}`.trim();
    // 5xx, 408 and 429 are the registry's trouble, not the record's.
    if (status >= 500 || status === 408 || status === 429) {
      return new TransientError(detail, { code: 'REGISTRY_UNAVAILABLE', stage: 'decode' });
    }
    return new PdmError(detail, { code: 'REGISTRY_REQUEST_FAILED', stage: 'decode' });
  }

  return {
    url: base,
    async register(subject, schema, compatibility = 'BACKWARD') {
      try {
        const { id } = await lib.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY[compatibility] },
        );
        return id;
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        if (typeof status === 'number' && status >= 400 && status < 500) {
          throw new PdmError(`registering ${subject} failed: ${errorMessage(err)}`, {
            code: status === 409 ? 'SCHEMA_INCOMPATIBLE' : 'SCHEMA_REJECTED',
            stage: 'decode',
            cause: err,
          });
        }
        throw new TransientError(`registering ${subject} failed: ${errorMessage(err)}`, {
          code: 'REGISTRY_UNAVAILABLE',
          stage: 'decode',
          cause: err,
        });
      }
    },
    async schemaById(id) {
      const { status, body } = await get(`/schemas/ids/${id}`);
      if (status === 200 && typeof body === 'object' && body !== null) {
        const schema = (body as { schema?: unknown; schemaType?: unknown }).schema;
        const type = (body as { schemaType?: unknown }).schemaType;
        if (type !== undefined && type !== 'AVRO') {
          throw new BadRecordError(
            'INCOMPATIBLE_SCHEMA',
            `schema id ${id} is ${JSON.stringify(type)}, not AVRO`,
            {
              stage: 'decode',
            },
          );
        }
        if (typeof schema === 'string') return schema;
      }
      if (status === 404) {
        throw new BadRecordError('UNKNOWN_SCHEMA', `schema id ${id} is not known to the registry`, {
          stage: 'decode',
        });
      }
      throw failure(status, body, `fetching schema id ${id}`);
    },
    async latestId(subject) {
      const { status, body } = await get(`/subjects/${encodeURIComponent(subject)}/versions/latest`);
      if (status === 404) return undefined;
      if (status === 200 && typeof body === 'object' && body !== null) {
        const id = (body as { id?: unknown }).id;
        if (typeof id === 'number') return id;
      }
      throw failure(status, body, `latest version of ${subject}`);
    },
  };
}
