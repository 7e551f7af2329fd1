/**
 * Registry conformance (issue 12): the Confluent Schema Registry API as the engine, `schemas register` and
 * third-party producers use it, checked against whatever registry the tests run — the local stack's
 * Apicurio Registry by default, or SCHEMA_REGISTRY_URL when it points elsewhere.
 *
 * - What the engine and producers rely on must hold on every registry: register (idempotent, one id per
 *   schema across subjects), lookup by id, subjects and versions of an id, versions, latest, the
 *   FULL_TRANSITIVE level `schemas register` sets, 409 on an incompatible schema, 422 on an invalid one.
 * - Where Apicurio is known to answer differently from Confluent (README, "Schema registry: differences
 *   from Confluent"), the check asserts Apicurio's answer on Apicurio and Confluent's elsewhere, so that a
 *   change of behaviour in a new Apicurio fails here and the README list is revisited.
 * - The Python confluent-kafka client (SchemaRegistryClient, AvroSerializer, AvroDeserializer, from PyPI in
 *   the venv of test/support/python-producer.ts) produces telemetry that the engine's decoder accepts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRecordDecoder,
  createSchemaRegistryClient,
  loadProjectSchemas,
} from '../../src/decode/index.js';
import { pythonWithConfluentKafka } from '../support/python-producer.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';

const config = testConfig();
const base = config.registry.url.replace(/\/+$/, '');
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const SCRIPT = fileURLToPath(new URL('../support/python/registry_conformance.py', import.meta.url));
const TELEMETRY_AVSC = fileURLToPath(new URL('../../schemas/telemetry.avsc', import.meta.url));

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

async function call(method: string, path: string, payload?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { accept: CONTENT_TYPE };
  if (payload !== undefined) headers['content-type'] = CONTENT_TYPE;
  if (config.registry.auth !== undefined) {
    const { username, password } = config.registry.auth;
    headers['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Plain-text answers are compared as text.
  }
  return { status: res.status, body };
}

const subjectPath = (s: string) => `/subjects/${encodeURIComponent(s)}`;
const register = (subject: string, schema: object | string) =>
  call('POST', `${subjectPath(subject)}/versions`, {
    schema: typeof schema === 'string' ? schema : JSON.stringify(schema),
  });

function record(fields: readonly object[], name = 'Reading'): object {
  return { type: 'record', name, namespace: `io.pdmstream.conformance.t${uniqueToken()}`, fields };
}

/** v1 → v2 (a gains a default) → v3 (a removed): v3 is FULL-compatible with v2 only, not with v1. */
function evolution(): { v1: object; v2: object; v3: object } {
  const namespace = `io.pdmstream.conformance.t${uniqueToken()}`;
  const at = (fields: readonly object[]) => ({ type: 'record', name: 'Reading', namespace, fields });
  const id = { name: 'id', type: 'int' };
  return {
    v1: at([id, { name: 'a', type: 'int' }]),
    v2: at([id, { name: 'a', type: 'int', default: 0 }]),
    v3: at([id]),
  };
}

/** Which registry answers: Apicurio serves its own API next to ccompat; Confluent does not. */
async function registryFlavour(): Promise<'apicurio' | 'confluent'> {
  const m = /^(.*)\/apis\/ccompat\/v\d+$/.exec(base);
  if (m?.[1] === undefined) return 'confluent';
  const res = await fetch(`${m[1]}/apis/registry/v3/system/info`, { signal: AbortSignal.timeout(5_000) })
    .then(async (r) => (r.ok ? ((await r.json()) as { name?: string }) : undefined))
    .catch(() => undefined);
  return res?.name?.includes('Apicurio') === true ? 'apicurio' : 'confluent';
}

let flavour: 'apicurio' | 'confluent';
beforeAll(async () => {
  flavour = await registryFlavour();
  console.info(`registry conformance against ${base} (${flavour})`);
});

describe('registry conformance: what the engine and producers rely on', () => {
  it('registers idempotently, one id per schema across subjects, found by id, subject and version', async () => {
    const t = uniqueToken();
    const [a, b] = [`conf-${t}-a-value`, `conf-${t}-b-value`];
    const schema = record([{ name: 'n', type: 'int' }]);
    const first = await register(a, schema);
    expect(first.status).toBe(200);
    const id = (first.body as { id: number }).id;
    expect(typeof id).toBe('number');
    // Same schema, other whitespace: the same id and no new version (producers serialize differently).
    expect((await register(a, JSON.stringify(schema, null, 2))).body).toEqual({ id });
    expect((await register(b, schema)).body).toEqual({ id });

    const byId = await call('GET', `/schemas/ids/${id}`);
    expect(byId.status).toBe(200);
    const { schema: text, schemaType } = byId.body as { schema: string; schemaType?: string };
    expect(JSON.parse(text)).toEqual(schema);
    expect([undefined, 'AVRO']).toContain(schemaType);

    const subjects = await call('GET', `/schemas/ids/${id}/subjects`);
    expect(subjects.status).toBe(200);
    expect([...(subjects.body as string[])].sort()).toEqual([a, b].sort());
    const versions = await call('GET', `/schemas/ids/${id}/versions`);
    expect(versions.body).toEqual(
      expect.arrayContaining([
        { subject: a, version: 1 },
        { subject: b, version: 1 },
      ]),
    );

    expect((await call('GET', `${subjectPath(a)}/versions`)).body).toEqual([1]);
    const latest = (await call('GET', `${subjectPath(a)}/versions/latest`)).body as Record<string, unknown>;
    expect(latest).toMatchObject({ subject: a, version: 1, id });
    expect(JSON.parse(latest['schema'] as string)).toEqual(schema);
    expect((await call('GET', `${subjectPath(a)}/versions/1`)).body).toMatchObject({ version: 1, id });
    // Lookup: is this schema registered under the subject, and as which version?
    expect((await call('POST', subjectPath(a), { schema: JSON.stringify(schema) })).body).toMatchObject({
      subject: a,
      version: 1,
      id,
    });
    expect((await call('GET', '/subjects')).body).toEqual(expect.arrayContaining([a, b]));
  });

  it('answers the error codes clients branch on: 40401, 40402, 40403, 42201', async () => {
    const missing = `conf-${uniqueToken()}-missing-value`;
    const latest = await call('GET', `${subjectPath(missing)}/versions/latest`);
    expect(latest.status).toBe(404);
    expect(latest.body).toMatchObject({ error_code: 40401 });
    const lookup = await call('POST', subjectPath(missing), { schema: JSON.stringify(record([])) });
    expect(lookup.status).toBe(404);
    expect(lookup.body).toMatchObject({ error_code: 40401 });
    // The engine's decoder turns exactly this answer into UNKNOWN_SCHEMA (a bad record, not an outage).
    const unknownId = await call('GET', '/schemas/ids/2147483000');
    expect(unknownId.status).toBe(404);
    expect(unknownId.body).toMatchObject({ error_code: 40403 });

    const subject = `conf-${uniqueToken()}-value`;
    await register(subject, record([{ name: 'n', type: 'int' }]));
    const noVersion = await call('GET', `${subjectPath(subject)}/versions/7`);
    expect(noVersion.status).toBe(404);
    expect(noVersion.body).toMatchObject({ error_code: 40402 });
    const invalid = await register(
      subject,
      '{"type": "record", "name": "Broken", "fields": [{"name": "x"}]}',
    );
    expect(invalid.status).toBe(422);
    expect(invalid.body).toMatchObject({ error_code: 42201 });
  });

  it('checks compatibility at the level `schemas register` sets (FULL_TRANSITIVE) and refuses with 409', async () => {
    const subject = `conf-${uniqueToken()}-value`;
    const { v1, v2, v3 } = evolution();
    const client = createSchemaRegistryClient(config.registry);
    const id1 = await client.register(subject, v1);
    expect((await call('GET', `/config/${encodeURIComponent(subject)}`)).body).toEqual({
      compatibilityLevel: 'FULL_TRANSITIVE',
    });
    const id2 = await client.register(subject, v2);
    expect(id2).not.toBe(id1);
    expect((await call('GET', `${subjectPath(subject)}/versions`)).body).toEqual([1, 2]);
    expect(await client.latestId(subject)).toBe(id2);

    const check = (version: string) =>
      call('POST', `/compatibility${subjectPath(subject)}/versions/${version}`, {
        schema: JSON.stringify(v3),
      });
    // FULL against the latest alone would accept v3; the transitive level checks every version.
    expect((await check('latest')).body).toEqual({ is_compatible: true });
    expect((await check('2')).body).toEqual({ is_compatible: true });
    expect((await check('1')).body).toEqual({ is_compatible: false });

    const refused = await register(subject, v3);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error_code: 409 });
    expect(typeof (refused.body as { message?: unknown }).message).toBe('string');
    await expect(client.register(subject, v3)).rejects.toMatchObject({ code: 'SCHEMA_INCOMPATIBLE' });
    expect((await call('GET', `${subjectPath(subject)}/versions`)).body).toEqual([1, 2]);
  });
});

/** One known difference: the request, and what Confluent and Apicurio answer. */
interface Difference {
  readonly readme: string;
  readonly run: (subject: string) => Promise<Answer>;
  readonly confluent: (a: Answer) => void;
  readonly apicurio: (a: Answer) => void;
}

const v1 = () => record([{ name: 'n', type: 'int' }]);

const DIFFERENCES: readonly Difference[] = [
  {
    readme: 'GET /config/{subject} without a subject level',
    run: async (s) => {
      await register(s, v1());
      return call('GET', `/config/${encodeURIComponent(s)}`);
    },
    confluent: (a) => {
      expect(a.status).toBe(404);
      expect(a.body).toMatchObject({ error_code: 40408 });
    },
    apicurio: (a) => {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ compatibilityLevel: 'NONE' });
    },
  },
  {
    readme: 'compatibility check against a subject that does not exist',
    run: (s) =>
      call('POST', `/compatibility${subjectPath(s)}/versions/latest`, { schema: JSON.stringify(v1()) }),
    confluent: (a) => {
      expect(a.status).toBe(404);
      expect(a.body).toMatchObject({ error_code: 40401 });
    },
    apicurio: (a) => {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ is_compatible: true });
    },
  },
  {
    readme: 'compatibility check with ?verbose=true',
    run: async (s) => {
      await call('PUT', `/config/${encodeURIComponent(s)}`, { compatibility: 'FULL_TRANSITIVE' });
      await register(s, v1());
      const added = JSON.parse(JSON.stringify(v1())) as { fields: object[] };
      added.fields.push({ name: 'm', type: 'int' });
      return call('POST', `/compatibility${subjectPath(s)}/versions/latest?verbose=true`, {
        schema: JSON.stringify({ ...added, namespace: (v1() as { namespace: string }).namespace }),
      });
    },
    confluent: (a) => {
      expect(a.body).toMatchObject({ is_compatible: false, messages: expect.any(Array) as unknown });
    },
    apicurio: (a) => {
      expect(a.body).toEqual({ is_compatible: false });
    },
  },
  {
    readme: 'GET /subjects?subjectPrefix=…',
    run: async (s) => {
      await register(s, v1());
      return call('GET', `/subjects?subjectPrefix=${encodeURIComponent(s)}`);
    },
    confluent: (a) => {
      expect((a.body as string[]).length).toBe(1);
    },
    apicurio: (a) => {
      // The prefix is ignored: every subject of the registry comes back.
      expect((a.body as string[]).length).toBeGreaterThan(1);
    },
  },
  {
    readme: 'GET /schemas (every schema)',
    run: async (s) => {
      await register(s, v1());
      return call('GET', '/schemas');
    },
    confluent: (a) => {
      expect((a.body as object[])[0]).toMatchObject({ subject: expect.any(String) as unknown });
    },
    apicurio: (a) => {
      expect(Object.keys((a.body as object[])[0] ?? {})).toEqual(['schema']);
    },
  },
];

describe('registry conformance: known differences from Confluent (README)', () => {
  it.each(DIFFERENCES.map((d) => [d.readme, d] as const))('%s', async (_name, d) => {
    // A subject no other check touches, so that the listing differences see other subjects around it.
    await register(`conf-${uniqueToken()}-other-value`, v1());
    const answer = await d.run(`conf-${uniqueToken()}-diff-value`);
    if (flavour === 'apicurio') d.apicurio(answer);
    else d.confluent(answer);
  });

  it('soft-deletes a version, lists it with ?deleted=true, and deletes it for good with ?permanent=true', async () => {
    const s = `conf-${uniqueToken()}-del-value`;
    const id = ((await register(s, v1())).body as { id: number }).id;
    expect((await call('DELETE', `${subjectPath(s)}/versions/1`)).body).toBe(1);
    expect((await call('GET', `${subjectPath(s)}/versions?deleted=true`)).body).toEqual([1]);
    // The id stays resolvable after a soft delete: records already in Kafka still decode.
    expect((await call('GET', `/schemas/ids/${id}`)).status).toBe(200);
    expect((await call('DELETE', `${subjectPath(s)}/versions/1?permanent=true`)).body).toBe(1);
    expect((await call('GET', '/subjects')).body).not.toContain(s);
  });
});

describe('registry conformance: the Python confluent-kafka client', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pdm-conformance-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers, reads back and produces telemetry that the engine decodes', async () => {
    const topic = config.kafka.topics.telemetry;
    const kafka = new Kafka({
      clientId: 'conformance',
      brokers: [...config.kafka.brokers],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();

    // The project's telemetry schema, then a FULL_TRANSITIVE-compatible and an incompatible successor.
    const telemetry = loadProjectSchemas().telemetry as { fields: { name: string }[] };
    const evolved = {
      ...telemetry,
      fields: [...telemetry.fields, { name: 'site', type: ['null', 'string'], default: null }],
    };
    const incompatible = { ...telemetry, fields: [...telemetry.fields, { name: 'site', type: 'string' }] };
    writeFileSync(join(dir, 'evolved.avsc'), JSON.stringify(evolved));
    writeFileSync(join(dir, 'incompatible.avsc'), JSON.stringify(incompatible));
    const t0 = Date.UTC(2026, 0, 1);
    const records = [1, 2, 3].map((m, i) => ({
      machineId: m,
      ts: t0 + i * 3_600_000,
      volt: 170.5 + i,
      rotate: 450.25,
      pressure: 100.125,
      vibration: 40.0625,
    }));

    const python = pythonWithConfluentKafka(config.stack.cacheDir);
    const run = spawnSync(
      python,
      [
        SCRIPT,
        '--bootstrap',
        config.kafka.brokers.join(','),
        '--registry',
        base,
        '--topic',
        topic,
        '--schema',
        TELEMETRY_AVSC,
        '--evolved',
        join(dir, 'evolved.avsc'),
        '--incompatible',
        join(dir, 'incompatible.avsc'),
      ],
      { input: records.map((r) => JSON.stringify(r)).join('\n'), encoding: 'utf8', timeout: 180_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as {
      checks: Record<string, { ok: boolean; value?: unknown; error?: string }>;
      deliveries: unknown[];
      consumed: unknown[];
    };
    const subject = `${topic}-value`;
    const { checks } = out;
    const value = (name: string) => {
      expect(checks[name], name).toMatchObject({ ok: true });
      return checks[name]?.value;
    };
    const id = (value('get_latest_version') as { id: number }).id;
    expect(value('get_latest_version')).toEqual({ version: 1, id });
    expect(value('get_schema')).toEqual(JSON.parse(JSON.stringify(loadProjectSchemas().telemetry)));
    expect(value('get_versions')).toEqual([1]);
    expect(value('get_version')).toBe(id);
    expect(value('lookup_schema')).toBe(id);
    expect(value('get_subjects')).toBe(true);
    // Other runs registered the same schema under their own topics: the same id, more subjects.
    expect(value('get_subjects_by_schema_id')).toContain(subject);
    expect(value('get_compatibility')).toBe('FULL_TRANSITIVE');
    expect(value('test_compatibility_evolved')).toBe(true);
    expect(value('test_compatibility_incompatible')).toBe(false);
    expect(checks['register_incompatible']).toMatchObject({ ok: false });
    expect(checks['register_incompatible']?.error).toMatch(/409/);
    expect(typeof value('register_evolved')).toBe('number');
    expect(out.consumed).toEqual(records);

    // The engine's decoder (project reader schemas, the registry's writer schemas) accepts every record.
    const consumer = kafka.consumer({ groupId: `${config.kafka.groupId}-conformance` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: { key: Buffer | null; value: Buffer }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: ({ message }) => {
            if (message.value !== null) values.push({ key: message.key, value: message.value });
            if (values.length === records.length) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    try {
      await Promise.race([
        done,
        sleep(60_000).then(() => {
          throw new Error('no records within 60 s');
        }),
      ]);
    } finally {
      await consumer.disconnect();
    }
    const decoder = createRecordDecoder(createSchemaRegistryClient(config.registry), loadProjectSchemas());
    await decoder.prepare(values.map((m) => m.value));
    const decoded = values.map((m) => decoder.decode('telemetry', m.value, m.key));
    for (const d of decoded) expect(d, JSON.stringify(d)).toMatchObject({ ok: true, schemaId: id });
    expect(decoded.map((d) => (d.ok ? d.record : d.message))).toEqual(
      records.map((r) => expect.objectContaining({ machineId: r.machineId, volt: r.volt }) as unknown),
    );
  });
});
