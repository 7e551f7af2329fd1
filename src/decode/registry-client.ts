/**
 * Adapter for the Confluent Schema Registry REST API, over plain HTTP (fetch) so that every failure is told
 * apart precisely: "the id does not exist" (40403, a bad record), "the registry refuses this schema" (409,
 * 422: an operator's problem) and "the registry is unreachable or failing" (transient, retryable).
 * @kafkajs/confluent-schema-registry is not used here: its HTTP layer reports a refused connection as an
 * HTTP 400, which read as a rejected schema during outages.
 */
import type { RegistryConfig } from '../config/index.js';
import { BadRecordError, PdmError, TransientError, errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/logger.js';

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

/**
 * The level the project sets on every subject it registers. The engine reads every message with its own
 * reader schema (schemas/*.avsc), which is one registered version of the subject, so every version the
 * registry accepts must be readable by every other one, whichever came first: FORWARD_TRANSITIVE only
 * guarantees that older versions read newer ones (not a reader registered after producers' versions, nor a
 * newer engine reading older data still in Kafka); FULL_TRANSITIVE guarantees both directions against all
 * versions. See schemas/README.md.
 */
export const PROJECT_COMPATIBILITY: CompatibilityLevel = 'FULL_TRANSITIVE';

export interface SchemaRegistryClient {
  /**
   * Sets the subject's compatibility level (before registering, so that this registration is checked under
   * it), then registers `schema` under `subject` (idempotent) and returns its id. Refusals are
   * `SCHEMA_INCOMPATIBLE` (409) or `SCHEMA_REJECTED` (422); an unreachable or failing registry is a
   * retryable `REGISTRY_UNAVAILABLE`.
   * @default compatibility {@link PROJECT_COMPATIBILITY}
   */
  register(subject: string, schema: object, compatibility?: CompatibilityLevel): Promise<number>;
  /** Writer schema JSON text of a global id. `UNKNOWN_SCHEMA` bad record when the registry says 40403. */
  schemaById(id: number): Promise<string>;
  /** Id of the latest version of `subject`, or undefined when the subject does not exist. */
  latestId(subject: string): Promise<number | undefined>;
  readonly url: string;
}

/** What `schemas register` needs beyond the engine's client. */
export interface SchemaRegistryAdmin extends SchemaRegistryClient {
  /** The level {@link SchemaRegistryClient.register} sets when given none: {@link PROJECT_COMPATIBILITY}. */
  readonly defaultCompatibility: CompatibilityLevel;
  /** Every registered version of `subject`, oldest first; empty when the subject does not exist. */
  versions(subject: string): Promise<readonly SubjectVersion[]>;
}

export interface SubjectVersion {
  readonly version: number;
  readonly id: number;
  /** Schema JSON text. */
  readonly schema: string;
}

/** Readiness probe: resolves when the registry answers `GET /config` with 200, rejects with why not. */
export interface RegistryPing {
  ping(): Promise<void>;
}

export interface RegistryClientOptions {
  /** Per-request timeout. @default 5_000 */
  readonly timeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

interface RegistryErrorBody {
  readonly error_code?: number;
  readonly message?: string;
}

export function createSchemaRegistryClient(
  config: RegistryConfig,
  options: RegistryClientOptions = {},
): SchemaRegistryAdmin & RegistryPing {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const base = config.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: CONTENT_TYPE };
  if (config.auth !== undefined) {
    headers['authorization'] =
      `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`;
  }
  const where = redactUrl(base);

  async function request(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    payload?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: payload === undefined ? headers : { ...headers, 'content-type': CONTENT_TYPE },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // No HTTP answer at all (refused, reset, DNS, timeout): the registry is down, never the schema's fault.
      throw new TransientError(`schema registry unreachable at ${where}: ${networkDetail(err)}`, {
        code: 'REGISTRY_UNAVAILABLE',
        stage: 'decode',
        cause: err,
      });
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // Not JSON (e.g. a proxy's HTML error page): keep the text for the message below.
    }
    return { status: res.status, body };
  }

  const get = (path: string) => request('GET', path);

  function failure(status: number, body: unknown, what: string, refusedCode?: string): PdmError {
    const b = (typeof body === 'object' && body !== null ? body : {}) as RegistryErrorBody;
    const message = b.message ?? (typeof body === 'string' ? body.slice(0, 200) : '');
    const detail =
      `${what}: HTTP ${status}${b.error_code !== undefined ? ` (${b.error_code})` : ''} ${message}`.trim();
    // 5xx, 408 and 429 are the registry's trouble, not the record's or the schema's.
    if (status >= 500 || status === 408 || status === 429) {
      return new TransientError(detail, { code: 'REGISTRY_UNAVAILABLE', stage: 'decode' });
    }
    return new PdmError(detail, { code: refusedCode ?? 'REGISTRY_REQUEST_FAILED', stage: 'decode' });
  }

  /** Registration refusals: 409 incompatible, 422 invalid schema or level; other 4xx (auth, …) as they are. */
  function registrationFailure(status: number, body: unknown, what: string): PdmError {
    const code = status === 409 ? 'SCHEMA_INCOMPATIBLE' : status === 422 ? 'SCHEMA_REJECTED' : undefined;
    return failure(status, body, what, code);
  }

  return {
    url: base,
    defaultCompatibility: PROJECT_COMPATIBILITY,
    async ping() {
      // The global compatibility level: a few bytes, served by Confluent and Apicurio (ccompat).
      const res = await get('/config');
      if (res.status !== 200) throw failure(res.status, res.body, 'schema registry health check');
    },
    async register(subject, schema, compatibility = PROJECT_COMPATIBILITY) {
      const s = encodeURIComponent(subject);
      const setLevel = async (): Promise<boolean> => {
        const res = await request('PUT', `/config/${s}`, { compatibility });
        if (res.status === 200) return true;
        // Confluent accepts a level for a subject that has no version yet; Apicurio answers 404 until the
        // first version exists (then there is nothing to check against, and the level is set right after).
        if (res.status === 404) return false;
        throw registrationFailure(
          res.status,
          res.body,
          `setting compatibility ${compatibility} on ${subject}`,
        );
      };
      const levelSet = await setLevel();
      const res = await request('POST', `/subjects/${s}/versions`, { schema: JSON.stringify(schema) });
      const id =
        res.status === 200 && typeof res.body === 'object' && res.body !== null
          ? (res.body as { id?: unknown }).id
          : undefined;
      if (typeof id !== 'number') throw registrationFailure(res.status, res.body, `registering ${subject}`);
      if (!levelSet && !(await setLevel())) {
        throw new PdmError(
          `setting compatibility ${compatibility} on ${subject}: HTTP 404 after registration`,
          {
            code: 'REGISTRY_REQUEST_FAILED',
            stage: 'decode',
          },
        );
      }
      return id;
    },
    async versions(subject) {
      const s = encodeURIComponent(subject);
      const list = await get(`/subjects/${s}/versions`);
      if (list.status === 404) return [];
      if (list.status !== 200 || !Array.isArray(list.body)) {
        throw failure(list.status, list.body, `versions of ${subject}`);
      }
      const out: SubjectVersion[] = [];
      for (const v of list.body as unknown[]) {
        const { status, body } = await get(`/subjects/${s}/versions/${String(v)}`);
        const entry = (typeof body === 'object' && body !== null ? body : {}) as Partial<SubjectVersion>;
        if (
          status !== 200 ||
          typeof entry.version !== 'number' ||
          typeof entry.id !== 'number' ||
          typeof entry.schema !== 'string'
        ) {
          throw failure(status, body, `version ${String(v)} of ${subject}`);
        }
        out.push({ version: entry.version, id: entry.id, schema: entry.schema });
      }
      return out;
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

/** `fetch failed` alone says nothing: add the socket error's code and message (ECONNREFUSED, ENOTFOUND, …). */
function networkDetail(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause === undefined || cause === null) return errorMessage(err);
  const code = (cause as { code?: unknown }).code;
  const text = cause instanceof Error && cause.message !== '' ? cause.message : undefined;
  const parts = [typeof code === 'string' ? code : undefined, text].filter((p) => p !== undefined);
  return parts.length === 0 ? errorMessage(err) : `${errorMessage(err)} (${parts.join(': ')})`;
}
