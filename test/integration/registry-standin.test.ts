/**
 * The registry stand-in over real HTTP (in-process, port 0): Confluent's response shapes and error bodies,
 * persistence across restarts, and the unchanged @kafkajs/confluent-schema-registry client against it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistryStandin, type RegistryStandin } from '../../src/stack/index.js';

const CT = 'application/vnd.schemaregistry.v1+json';
const schemaText = (fields: object[], name = 'Telemetry') =>
  JSON.stringify({ type: 'record', name, namespace: 'io.pdmstream.v1', fields });
const V1 = schemaText([{ name: 'machineId', type: 'int' }]);
const V2 = schemaText([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double', default: 0 },
]);
// machineId int → string is no Avro promotion: incompatible with every earlier version.
const V2_BAD = schemaText([{ name: 'machineId', type: 'string' }]);

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; type: string | null; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': CT },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, type: res.headers.get('content-type'), json: await res.json() };
}

describe('registry stand-in REST API', () => {
  let dataDir: string;
  let registry: RegistryStandin;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pdm-registry-'));
    registry = await startRegistryStandin({ port: 0, dataDir });
  });
  afterAll(async () => {
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers, lists and serves schemas with Confluent shapes', async () => {
    const base = registry.url;
    expect(await call(base, 'GET', '/subjects')).toEqual({ status: 200, type: CT, json: [] });
    expect((await call(base, 'POST', '/subjects/t.telemetry-value/versions', { schema: V1 })).json).toEqual({
      id: 1,
    });
    expect((await call(base, 'POST', '/subjects/t.telemetry-value/versions', { schema: V2 })).json).toEqual({
      id: 2,
    });
    expect((await call(base, 'GET', '/subjects')).json).toEqual(['t.telemetry-value']);
    expect((await call(base, 'GET', '/subjects/t.telemetry-value/versions')).json).toEqual([1, 2]);
    expect((await call(base, 'GET', '/subjects/t.telemetry-value/versions/latest')).json).toEqual({
      subject: 't.telemetry-value',
      id: 2,
      version: 2,
      schema: V2,
    });
    expect((await call(base, 'GET', '/schemas/ids/1')).json).toEqual({ schema: V1 });
    expect((await call(base, 'GET', '/schemas/ids/2/versions')).json).toEqual([
      { subject: 't.telemetry-value', version: 2 },
    ]);
    expect((await call(base, 'POST', '/subjects/t.telemetry-value', { schema: V1 })).json).toMatchObject({
      id: 1,
      version: 1,
    });
    expect((await call(base, 'GET', '/subjects/t.telemetry-value/versions/1/schema')).json).toEqual(
      JSON.parse(V1),
    );
  });

  it('answers errors as {"error_code", "message"} with the right status', async () => {
    const base = registry.url;
    const expectError = async (
      method: string,
      path: string,
      status: number,
      code: number,
      body?: unknown,
    ) => {
      const res = await call(base, method, path, body);
      expect(res.status).toBe(status);
      expect(res.type).toBe(CT);
      expect(res.json).toMatchObject({ error_code: code, message: expect.any(String) as string });
    };
    await expectError('GET', '/subjects/missing/versions', 404, 40401);
    await expectError('GET', '/subjects/t.telemetry-value/versions/9', 404, 40402);
    await expectError('GET', '/subjects/t.telemetry-value/versions/abc', 422, 42202);
    await expectError('GET', '/schemas/ids/999', 404, 40403);
    await expectError('POST', '/subjects/missing', 404, 40401, { schema: V1 });
    await expectError('POST', '/subjects/t.telemetry-value', 404, 40403, { schema: schemaText([], 'Other') });
    await expectError('POST', '/subjects/t.telemetry-value/versions', 409, 409, { schema: V2_BAD });
    await expectError('POST', '/subjects/x/versions', 422, 42201, { schema: '{"type":"nope"}' });
    await expectError('POST', '/subjects/x/versions', 422, 42201, { schema: V1, schemaType: 'JSON' });
    await expectError('PUT', '/config', 422, 42203, { compatibility: 'WHATEVER' });
    await expectError('GET', '/config/t.telemetry-value', 404, 40408);
    await expectError('GET', '/no/such/route', 404, 404);
    await expectError('PATCH', '/subjects', 405, 405);
  });

  it('manages compatibility levels and checks candidates', async () => {
    const base = registry.url;
    expect((await call(base, 'GET', '/config')).json).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect((await call(base, 'PUT', '/config/cfg-value', { compatibility: 'FULL' })).json).toEqual({
      compatibility: 'FULL',
    });
    expect((await call(base, 'GET', '/config/cfg-value')).json).toEqual({ compatibilityLevel: 'FULL' });
    expect((await call(base, 'GET', '/config/other?defaultToGlobal=true')).json).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    const check = (v: string, schema: string) =>
      call(base, 'POST', `/compatibility/subjects/t.telemetry-value/versions/${v}?verbose=true`, { schema });
    expect((await check('latest', V2_BAD)).json).toMatchObject({ is_compatible: false });
    expect((await check('latest', V2)).json).toEqual({ is_compatible: true, messages: [] });
    expect(
      (await call(base, 'POST', '/compatibility/subjects/t.telemetry-value/versions/1', { schema: V2 })).json,
    ).toEqual({ is_compatible: true });
  });

  it('deletes a subject and keeps ids across a restart (state file, atomic writes)', async () => {
    const base = registry.url;
    expect((await call(base, 'POST', '/subjects/gone-value/versions', { schema: V1 })).json).toEqual({
      id: 1,
    });
    expect((await call(base, 'DELETE', '/subjects/gone-value')).json).toEqual([1]);
    const saved = JSON.parse(readFileSync(join(dataDir, 'registry.json'), 'utf8')) as { nextId: number };
    expect(saved.nextId).toBe(3);
    await registry.close();
    registry = await startRegistryStandin({ port: 0, dataDir });
    expect((await call(registry.url, 'GET', '/schemas/ids/2')).json).toEqual({ schema: V2 });
    expect((await call(registry.url, 'GET', '/config/cfg-value')).json).toEqual({
      compatibilityLevel: 'FULL',
    });
    const third = schemaText([{ name: 'x', type: 'string' }], 'Third');
    expect(
      (await call(registry.url, 'POST', '/subjects/third-value/versions', { schema: third })).json,
    ).toEqual({
      id: 3,
    });
  });
});

describe('@kafkajs/confluent-schema-registry against the stand-in', () => {
  let registry: RegistryStandin;
  let client: SchemaRegistry;
  const subject = 'pdm.telemetry-value';
  const telemetry = JSON.parse(
    readFileSync(new URL('../../schemas/telemetry.avsc', import.meta.url), 'utf8'),
  ) as {
    fields: object[];
  };

  beforeAll(async () => {
    registry = await startRegistryStandin({ port: 0 });
    client = new SchemaRegistry({ host: registry.url, retry: { retries: 0 } });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('registers, finds the latest id, encodes and decodes', async () => {
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(telemetry) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(id).toBe(1);
    // Second registration goes through GET /config/{subject} (now set) and is idempotent.
    const again = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(telemetry) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(again.id).toBe(1);
    expect(await client.getLatestSchemaId(subject)).toBe(1);
    expect(await client.getRegistryId(subject, 1)).toBe(1);
    expect(
      await client.getRegistryIdBySchema(subject, {
        type: SchemaType.AVRO,
        schema: JSON.stringify(telemetry),
      }),
    ).toBe(1);

    const reading = {
      machineId: 7,
      ts: 1_767_225_600_000,
      volt: 170.5,
      rotate: 450.2,
      pressure: 100.1,
      vibration: 40.3,
    };
    const encoded = await client.encode(id, reading);
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    // A fresh client has no cache: decode must fetch GET /schemas/ids/{id}.
    const fresh = new SchemaRegistry({ host: registry.url, retry: { retries: 0 } });
    const decoded = (await fresh.decode(encoded)) as { machineId: number; ts: Date | number; volt: number };
    expect(decoded.machineId).toBe(7);
    expect(decoded.volt).toBe(170.5);
    expect(await fresh.getSchema(id)).toBeDefined();
  });

  it('rejects an incompatible schema with a 409 error and keeps BACKWARD-compatible evolution', async () => {
    const incompatible = { ...telemetry, fields: [...telemetry.fields, { name: 'site', type: 'string' }] };
    await expect(
      client.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) }, { subject }),
    ).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/incompatible/) as string });
    const evolved = {
      ...telemetry,
      fields: [...telemetry.fields, { name: 'site', type: 'string', default: '' }],
    };
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(evolved) },
      { subject },
    );
    expect(id).toBe(2);
    expect(await client.getLatestSchemaId(subject)).toBe(2);
  });

  it('reports a compatibility mismatch the way the client expects', async () => {
    await expect(
      client.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(telemetry) },
        { subject, compatibility: COMPATIBILITY.FULL },
      ),
    ).rejects.toThrow(/Compatibility does not match/);
  });

  it('answers unknown ids with 404 to the client', async () => {
    await expect(client.getSchema(4242)).rejects.toMatchObject({ status: 404 });
  });
});
