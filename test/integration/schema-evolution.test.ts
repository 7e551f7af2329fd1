/**
 * Issue 9, item 7: schema evolution cannot dead-letter valid data. Against the running registry:
 * `schemas register` pins FULL_TRANSITIVE on every subject; an optional field with a default is accepted and
 * its records decode through the engine's decoder; machineId int → long and removing a field are refused at
 * registration with HTTP 409. Also: a registry outage is a retryable "unreachable", never a rejected schema.
 */
import { describe, expect, it } from 'vitest';
import { registerSchemasAndTopics } from '../../src/cli/schemas.js';
import {
  createCodec,
  createRecordDecoder,
  createSchemaRegistryClient,
  encodeFrame,
  loadProjectSchemas,
  valueSubject,
} from '../../src/decode/index.js';
import { PROJECT_COMPATIBILITY } from '../../src/decode/registry-client.js';
import { PdmError, TransientError } from '../../src/shared/errors.js';
import { machineKey, RECORD_KINDS, type TelemetryRecord } from '../../src/shared/records.js';
import { freePort, testConfig } from '../support/stack-env.js';

const CT = 'application/vnd.schemaregistry.v1+json';
const project = loadProjectSchemas();
const telemetryFields = project.telemetry['fields'] as readonly Record<string, unknown>[];
const telemetryWith = (fields: readonly Record<string, unknown>[]) => ({ ...project.telemetry, fields });

/** machineId int → long: BACKWARD accepts it, the engine's int reader cannot read it. */
const widenedMachineId = telemetryWith(
  telemetryFields.map((f) => (f['name'] === 'machineId' ? { ...f, type: 'long' } : f)),
);
const withoutVolt = telemetryWith(telemetryFields.filter((f) => f['name'] !== 'volt'));
const withSite = telemetryWith([
  ...telemetryFields,
  { name: 'site', type: ['null', 'string'], default: null, doc: 'Plant site, optional.' },
]);

const record: TelemetryRecord = {
  machineId: 42,
  ts: Date.UTC(2026, 2, 1, 6),
  volt: 170.5,
  rotate: 450.25,
  pressure: 100.125,
  vibration: 40.0625,
};

async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': CT },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

describe('schema evolution on the running registry', () => {
  const config = testConfig({ PDM_PARTITIONS: '1' });
  const base = config.registry.url.replace(/\/+$/, '');
  const subject = valueSubject(config.kafka.topics.telemetry);
  const registry = createSchemaRegistryClient(config.registry);

  it('schemas register sets FULL_TRANSITIVE on every subject', async () => {
    expect(PROJECT_COMPATIBILITY).toBe('FULL_TRANSITIVE');
    const report = await registerSchemasAndTopics(config);
    expect(report.compatibility).toBe('FULL_TRANSITIVE');
    expect(report.unreadable).toEqual([]);
    for (const kind of RECORD_KINDS) {
      const s = valueSubject(config.kafka.topics[kind]);
      expect(await http(base, 'GET', `/config/${encodeURIComponent(s)}`)).toEqual({
        status: 200,
        json: { compatibilityLevel: 'FULL_TRANSITIVE' },
      });
    }
  });

  it('accepts an optional field with a default, and the engine decodes its records', async () => {
    const v1 = await registry.register(subject, project.telemetry);
    const v2 = await registry.register(subject, withSite);
    expect(v2).not.toBe(v1);
    const body = createCodec(withSite).encode({ ...record, site: 'plant-7' });
    const value = encodeFrame(v2, body);
    const decoder = createRecordDecoder(registry, project);
    await decoder.prepare([value]);
    expect(decoder.decode('telemetry', value, Buffer.from(machineKey(record.machineId)))).toEqual({
      ok: true,
      record,
      schemaId: v2,
    });
  });

  it.each([
    ['machineId int → long', widenedMachineId],
    ['removing volt', withoutVolt],
  ])('refuses %s with HTTP 409 (raw API and client)', async (_what, schema) => {
    const raw = await http(base, 'POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: JSON.stringify(schema),
    });
    expect(raw.status).toBe(409);
    const err = await registry.register(subject, schema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdmError);
    expect(err).not.toBeInstanceOf(TransientError);
    expect((err as PdmError).code).toBe('SCHEMA_INCOMPATIBLE');
    expect((err as PdmError).message).toMatch(/HTTP 409/);
  });

  it('reports versions registered earlier under BACKWARD that the engine cannot read', async () => {
    const legacy = testConfig({ PDM_PARTITIONS: '1' });
    const s = valueSubject(legacy.kafka.topics.telemetry);
    const client = createSchemaRegistryClient(legacy.registry);
    // The situation of the issue: the subject was BACKWARD and accepted a producer's int → long.
    await client.register(s, project.telemetry, 'BACKWARD');
    const widenedId = await client.register(s, widenedMachineId, 'BACKWARD');
    const value = encodeFrame(widenedId, createCodec(widenedMachineId).encode(record));
    const decoder = createRecordDecoder(client, project);
    await decoder.prepare([value]);
    expect(decoder.decode('telemetry', value, Buffer.from(machineKey(record.machineId)))).toMatchObject({
      ok: false,
      reason: 'INCOMPATIBLE_SCHEMA',
    });

    const report = await registerSchemasAndTopics(legacy);
    expect(report.unreadable).toEqual([
      { subject: s, version: 2, id: widenedId, reason: expect.stringMatching(/long|int/) as unknown },
    ]);
    expect((await http(base, 'GET', `/config/${encodeURIComponent(s)}`)).json).toEqual({
      compatibilityLevel: 'FULL_TRANSITIVE',
    });
  });
});

describe('registry outage (issue 9: read as "SCHEMA_REJECTED … 400: ECONNREFUSED")', () => {
  it('registration and lookups fail as retryable REGISTRY_UNAVAILABLE naming the registry', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const registry = createSchemaRegistryClient({ url }, { timeoutMs: 2_000 });
    for (const attempt of [
      () => registry.register('x-value', project.telemetry),
      () => registry.schemaById(1),
      () => registry.latestId('x-value'),
      () => registry.versions('x-value'),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).retryable).toBe(true);
      expect((err as TransientError).code).toBe('REGISTRY_UNAVAILABLE');
      expect((err as TransientError).message).toMatch(
        new RegExp(`schema registry unreachable at http://127\\.0\\.0\\.1:${port}/?: .*ECONNREFUSED`),
      );
      expect((err as TransientError).message).not.toMatch(/REJECTED|\b400\b/);
    }
  });

  it('schemas register against a dead registry fails as unreachable', async () => {
    const port = await freePort();
    const config = testConfig({ SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}` });
    const err = await registerSchemasAndTopics(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('REGISTRY_UNAVAILABLE');
  });
});
