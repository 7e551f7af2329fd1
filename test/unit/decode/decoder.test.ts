import { describe, expect, it } from 'vitest';
import {
  createCodec,
  createRecordDecoder,
  encodeFrame,
  loadProjectSchemas,
  parseFrame,
  type SchemaRegistryClient,
} from '../../../src/decode/index.js';
import { BadRecordError, TransientError } from '../../../src/shared/errors.js';

const schemas = loadProjectSchemas();
const telemetry = {
  machineId: 7,
  ts: 1_420_070_400_000,
  volt: 170.5,
  rotate: 450.1,
  pressure: 99.9,
  vibration: 40.2,
};

/** In-memory registry: the decoder's contract is the SchemaRegistryClient interface, not HTTP. */
function memoryRegistry(byId: Record<number, object>, opts: { down?: boolean } = {}) {
  let calls = 0;
  const client: SchemaRegistryClient = {
    url: 'memory://',
    register: () => Promise.reject(new Error('not used')),
    latestId: () => Promise.resolve(undefined),
    schemaById(id) {
      calls++;
      if (opts.down === true)
        return Promise.reject(new TransientError('down', { code: 'X', stage: 'decode' }));
      const s = byId[id];
      if (s === undefined)
        return Promise.reject(
          new BadRecordError('UNKNOWN_SCHEMA', `schema id ${id} is not known`, { stage: 'decode' }),
        );
      return Promise.resolve(JSON.stringify(s));
    },
  };
  return { client, calls: () => calls };
}

const key = (s: string) => Buffer.from(s);

describe('wire format', () => {
  it('round-trips id and body', () => {
    const f = parseFrame(encodeFrame(258, Buffer.from([1, 2, 3])));
    expect(f.schemaId).toBe(258);
    expect([...f.body]).toEqual([1, 2, 3]);
  });
  it.each([
    ['null value', null, /tombstone/],
    ['short frame', Buffer.from([0, 0, 1]), /shorter than the 5-byte header/],
    ['wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2]), /magic byte is 1/],
  ])('rejects %s as BAD_FRAME', (_n, value, msg) => {
    expect(() => parseFrame(value)).toThrow(msg);
    try {
      parseFrame(value);
    } catch (err) {
      expect((err as BadRecordError).reason).toBe('BAD_FRAME');
    }
  });
});

describe('record decoder', () => {
  const body = createCodec(schemas.telemetry).encode(telemetry);

  it('decodes a valid framed record once the id is prepared, with one registry call per id', async () => {
    const reg = memoryRegistry({ 1: schemas.telemetry });
    const dec = createRecordDecoder(reg.client, schemas);
    const values = [encodeFrame(1, body), encodeFrame(1, body)];
    await dec.prepare(values);
    await dec.prepare(values);
    expect(reg.calls()).toBe(1);
    const r = dec.decode('telemetry', values[0] ?? null, key('7'));
    expect(r).toEqual({ ok: true, record: telemetry, schemaId: 1 });
  });

  it('reads an older BACKWARD-compatible writer version through the resolver', async () => {
    const v2Reader = {
      ...schemas.telemetry,
      fields: [
        ...(schemas.telemetry['fields'] as object[]),
        { name: 'temperature', type: ['null', 'double'], default: null },
      ],
    };
    const reg = memoryRegistry({ 5: schemas.telemetry });
    const dec = createRecordDecoder(reg.client, { ...schemas, telemetry: v2Reader });
    await dec.prepare([encodeFrame(5, body)]);
    const r = dec.decode('telemetry', encodeFrame(5, body), key('7'));
    expect(r.ok && r.record).toEqual({ ...telemetry, temperature: null });
  });

  it.each([
    ['BAD_FRAME', () => Buffer.from([9, 0, 0, 0, 1, 0]), '7'],
    ['UNKNOWN_SCHEMA', () => encodeFrame(99, body), '7'],
    [
      'INCOMPATIBLE_SCHEMA',
      () => encodeFrame(2, createCodec(schemas.errors).encode({ machineId: 7, ts: 1, errorId: 'error1' })),
      '7',
    ],
    ['DECODE_ERROR', () => encodeFrame(1, body.subarray(0, body.length - 3)), '7'],
    ['DECODE_ERROR', () => encodeFrame(1, Buffer.concat([body, Buffer.from([1, 2])])), '7'],
    ['INVALID_KEY', () => encodeFrame(1, body), '8'],
  ] as const)('dead-letter reason %s', async (reason, make, k) => {
    const reg = memoryRegistry({ 1: schemas.telemetry, 2: schemas.errors });
    const dec = createRecordDecoder(reg.client, schemas);
    const v = make();
    await dec.prepare([v]);
    const r = dec.decode('telemetry', v, key(k));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.message.length).toBeGreaterThan(5);
    }
  });

  it('reports truncation and trailing bytes of the body, not of the framed value', async () => {
    const reg = memoryRegistry({ 1: schemas.telemetry });
    const dec = createRecordDecoder(reg.client, schemas);
    const short = encodeFrame(1, body.subarray(0, body.length - 3));
    const long = encodeFrame(1, Buffer.concat([body, Buffer.from([1, 2])]));
    await dec.prepare([short, long]);
    expect(dec.decode('telemetry', short, key('7'))).toMatchObject({
      message: `truncated Avro body (${body.length - 3} bytes)`,
    });
    expect(dec.decode('telemetry', long, key('7'))).toMatchObject({
      message: 'Avro body has 2 trailing bytes',
    });
  });

  it.each([
    [7, '7', true],
    [0, '0', true],
    [10, '10', true],
    [2_147_483_647, '2147483647', true],
    [7, '07', false],
    [0, '00', false],
    [0, '', false],
    [10, '1', false],
    [1, '10', false],
    [7, ' 7', false],
    [7, '7\u0000', false],
    [17, '71', false],
  ] as const)('accepts machineId %d with key %j: %s (exactly String(machineId))', async (id, k, ok) => {
    const reg = memoryRegistry({ 1: schemas.telemetry });
    const dec = createRecordDecoder(reg.client, schemas);
    const v = encodeFrame(1, createCodec(schemas.telemetry).encode({ ...telemetry, machineId: id }));
    await dec.prepare([v]);
    const r = dec.decode('telemetry', v, key(k));
    expect(r.ok ? 'ok' : r.reason).toBe(ok ? 'ok' : 'INVALID_KEY');
    if (!r.ok) expect(r.message).toBe(`key ${JSON.stringify(k)}, expected "${id}" (machineId)`);
  });

  it('rejects a missing key as INVALID_KEY', async () => {
    const reg = memoryRegistry({ 1: schemas.telemetry });
    const dec = createRecordDecoder(reg.client, schemas);
    const v = encodeFrame(1, body);
    await dec.prepare([v]);
    expect(dec.decode('telemetry', v, null)).toMatchObject({
      ok: false,
      reason: 'INVALID_KEY',
      message: 'key is missing, expected "7" (machineId)',
    });
  });

  it('rejects unknown categories as INVALID_VALUE', async () => {
    const reg = memoryRegistry({ 3: schemas.errors });
    const dec = createRecordDecoder(reg.client, schemas);
    const v = encodeFrame(3, createCodec(schemas.errors).encode({ machineId: 7, ts: 1, errorId: 'error9' }));
    await dec.prepare([v]);
    const r = dec.decode('errors', v, key('7'));
    expect(r.ok ? 'ok' : r.reason).toBe('INVALID_VALUE');
  });

  it('propagates a registry outage as retryable instead of dead-lettering', async () => {
    const dec = createRecordDecoder(memoryRegistry({}, { down: true }).client, schemas);
    await expect(dec.prepare([encodeFrame(1, body)])).rejects.toMatchObject({ retryable: true });
  });
});

describe('decoder warm-up at start', () => {
  const body = createCodec(schemas.telemetry).encode(telemetry);

  /** A registry whose latest telemetry version is id 5; `release()` answers the schema fetches held so far. */
  function slowRegistry(opts: { down?: boolean } = {}) {
    const inner = memoryRegistry({ 5: schemas.telemetry }, opts);
    const held: (() => void)[] = [];
    const client: SchemaRegistryClient = {
      ...inner.client,
      latestId: (subject) => Promise.resolve(subject === 'pdm.telemetry-value' ? 5 : undefined),
      schemaById: (id) =>
        new Promise<string>((resolve, reject) => {
          held.push(() => {
            inner.client.schemaById(id).then(resolve, reject);
          });
        }),
    };
    return {
      client,
      calls: inner.calls,
      release: () => {
        for (const h of held.splice(0)) h();
      },
    };
  }

  it('fetches the latest version of a subject once: the first batch needs no registry call', async () => {
    const reg = memoryRegistry({ 5: schemas.telemetry });
    const client = { ...reg.client, latestId: () => Promise.resolve(5) };
    const dec = createRecordDecoder(client, schemas);
    await dec.warm('telemetry', 'pdm.telemetry-value');
    expect(reg.calls()).toBe(1);
    const value = encodeFrame(5, body);
    await dec.prepare([value]);
    expect(reg.calls()).toBe(1);
    expect(dec.decode('telemetry', value, key('7'))).toEqual({ ok: true, record: telemetry, schemaId: 5 });
  });

  it('a batch needing an id the warm-up is still fetching waits for that fetch instead of asking again', async () => {
    const reg = slowRegistry();
    const dec = createRecordDecoder(reg.client, schemas);
    const warm = dec.warm('telemetry', 'pdm.telemetry-value');
    await Promise.resolve();
    const value = encodeFrame(5, body);
    const prepared = dec.prepare([value]);
    reg.release();
    await Promise.all([warm, prepared]);
    expect(reg.calls()).toBe(1);
    expect(dec.decode('telemetry', value, key('7'))).toMatchObject({ ok: true, schemaId: 5 });
  });

  it('a subject that does not exist warms nothing; a registry outage rejects and the batch asks again', async () => {
    const missing = memoryRegistry({});
    await createRecordDecoder(missing.client, schemas).warm('errors', 'pdm.errors-value');
    expect(missing.calls()).toBe(0);

    const down = memoryRegistry({}, { down: true });
    const dec = createRecordDecoder({ ...down.client, latestId: () => Promise.resolve(5) }, schemas);
    await expect(dec.warm('telemetry', 'pdm.telemetry-value')).rejects.toMatchObject({ retryable: true });
    await expect(dec.prepare([encodeFrame(5, body)])).rejects.toMatchObject({ retryable: true });
    expect(down.calls()).toBe(2);
  });
});

describe('a schema registered after its records arrived', () => {
  it('is looked up again once the unknown id has been believed unknown for unknownSchemaRetryMs', async () => {
    const byId: Record<number, object> = {};
    const reg = memoryRegistry(byId);
    let now = 1_000;
    const decoder = createRecordDecoder(reg.client, schemas, {
      unknownSchemaRetryMs: 30_000,
      nowMs: () => now,
    });
    const body = createCodec(JSON.stringify(schemas.telemetry)).encode(telemetry);
    const frame = encodeFrame(42, body);
    await decoder.prepare([frame]);
    expect(decoder.decode('telemetry', frame, key('7'))).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_SCHEMA',
    });
    byId[42] = schemas.telemetry; // registered late
    now += 29_999;
    await decoder.prepare([frame]);
    expect(reg.calls()).toBe(1); // still believed unknown: no lookup per batch
    now += 1;
    await decoder.prepare([frame]);
    expect(reg.calls()).toBe(2);
    expect(decoder.decode('telemetry', frame, key('7'))).toMatchObject({ ok: true, record: telemetry });
  });
});
