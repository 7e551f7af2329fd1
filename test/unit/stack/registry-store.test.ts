import { describe, expect, it } from 'vitest';
import { RegistryApiError } from '../../../src/stack/registry/api-error.js';
import { parseAvroSchema, readError } from '../../../src/stack/registry/compatibility.js';
import { createRegistryStore, parseSnapshot, type StoreSnapshot } from '../../../src/stack/registry/store.js';

const schema = (fields: { name: string; type: string; default?: unknown }[], name = 'Telemetry') =>
  JSON.stringify({ type: 'record', name, namespace: 'io.pdmstream.v1', fields });
const V1 = schema([{ name: 'machineId', type: 'int' }]);
const V2 = schema([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double', default: 0 },
]);
const V2_NO_DEFAULT = schema([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double' },
]);

function apiError(fn: () => unknown): RegistryApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryApiError) return err;
    throw err;
  }
  throw new Error('expected a RegistryApiError');
}

describe('registry store', () => {
  it('hands out global increasing ids and per-subject versions', () => {
    const store = createRegistryStore();
    expect(store.register('a-value', { schema: V1 })).toEqual({ id: 1 });
    expect(store.register('a-value', { schema: V2 })).toEqual({ id: 2 });
    expect(store.register('b-value', { schema: schema([{ name: 'x', type: 'int' }], 'B') })).toEqual({
      id: 3,
    });
    expect(store.listSubjects()).toEqual(['a-value', 'b-value']);
    expect(store.listVersions('a-value')).toEqual([1, 2]);
    expect(store.getVersion('a-value', 'latest')).toEqual({
      subject: 'a-value',
      id: 2,
      version: 2,
      schema: V2,
    });
    expect(store.getVersion('a-value', '1').id).toBe(1);
    expect(store.getVersion('a-value', '-1').version).toBe(2);
  });

  it('is idempotent: the same schema (any formatting) keeps its id and adds no version', () => {
    const store = createRegistryStore();
    const { id } = store.register('a-value', { schema: V1 });
    const reformatted = JSON.stringify(JSON.parse(V1), null, 4);
    expect(store.register('a-value', { schema: reformatted })).toEqual({ id });
    expect(store.listVersions('a-value')).toEqual([1]);
  });

  it('gives the same schema under two subjects the same id', () => {
    const store = createRegistryStore();
    const a = store.register('a-value', { schema: V1 });
    const b = store.register('b-value', { schema: V1 });
    expect(b.id).toBe(a.id);
    expect(store.subjectsOfSchema(String(a.id))).toEqual([
      { subject: 'a-value', version: 1 },
      { subject: 'b-value', version: 1 },
    ]);
  });

  it('refuses an incompatible schema with 409 and changes nothing', () => {
    const store = createRegistryStore();
    store.register('a-value', { schema: V1 });
    const err = apiError(() => store.register('a-value', { schema: V2_NO_DEFAULT }));
    expect(err.httpStatus).toBe(409);
    expect(err.errorCode).toBe(409);
    expect(err.message).toMatch(/incompatible with an earlier schema for subject "a-value"/);
    expect(store.listVersions('a-value')).toEqual([1]);
    expect(() => store.schemaById('2')).toThrow(RegistryApiError);
    // After relaxing the subject's level the same schema is accepted.
    expect(store.setCompatibility('a-value', { compatibility: 'NONE' })).toBe('NONE');
    expect(store.register('a-value', { schema: V2_NO_DEFAULT })).toEqual({ id: 2 });
  });

  it('under FULL_TRANSITIVE every pair of accepted versions can read each other (issue 9)', () => {
    const store = createRegistryStore();
    store.setCompatibility('t-value', { compatibility: 'FULL_TRANSITIVE' });
    const base = [
      { name: 'machineId', type: 'int' },
      { name: 'volt', type: 'double' },
    ];
    const attempts = [
      schema(base), // v1: the engine's reader
      schema([...base, { name: 'site', type: 'string', default: '' }]), // add with default: accepted
      schema([...base, { name: 'rack', type: 'int' }]), // add without default: refused
      schema([
        { name: 'machineId', type: 'long' },
        { name: 'volt', type: 'double' },
      ]), // int → long: refused
      schema([{ name: 'machineId', type: 'int' }]), // remove volt (no default): refused
      schema([
        ...base,
        { name: 'site', type: 'string', default: '' },
        { name: 'n', type: 'long', default: 0 },
      ]),
      schema(base), // back to v1: already registered, same id
    ];
    const outcome = attempts.map((text) => {
      try {
        return store.register('t-value', { schema: text }).id;
      } catch (err) {
        if (err instanceof RegistryApiError && err.httpStatus === 409) return 'refused';
        throw err;
      }
    });
    expect(outcome).toEqual([1, 2, 'refused', 'refused', 'refused', 3, 1]);
    const accepted = store
      .listVersions('t-value')
      .map((v) => parseAvroSchema(store.getVersion('t-value', String(v)).schema));
    for (const reader of accepted)
      for (const writer of accepted) expect(readError(reader, writer)).toBeUndefined();
  });

  it('answers the Confluent error codes', () => {
    const store = createRegistryStore();
    store.register('a-value', { schema: V1 });
    expect(apiError(() => store.listVersions('nope')).toBody()).toEqual({
      error_code: 40401,
      message: "Subject 'nope' not found.",
    });
    expect(apiError(() => store.getVersion('a-value', '7')).errorCode).toBe(40402);
    expect(apiError(() => store.getVersion('a-value', 'x')).errorCode).toBe(42202);
    expect(apiError(() => store.getVersion('a-value', '0')).errorCode).toBe(42202);
    expect(apiError(() => store.schemaById('99')).errorCode).toBe(40403);
    expect(apiError(() => store.lookup('nope', { schema: V1 })).errorCode).toBe(40401);
    expect(apiError(() => store.lookup('a-value', { schema: V2 })).errorCode).toBe(40403);
    expect(apiError(() => store.register('a-value', { schema: '{"type":"record"}' })).errorCode).toBe(42201);
    expect(apiError(() => store.register('a-value', { schema: 'syntax error' })).errorCode).toBe(42201);
    expect(apiError(() => store.register('a-value', { schema: V1, schemaType: 'PROTOBUF' })).errorCode).toBe(
      42201,
    );
    expect(
      apiError(() =>
        store.register('a-value', { schema: V1, references: [{ name: 'x', subject: 'y', version: 1 }] }),
      ).errorCode,
    ).toBe(42201);
    expect(apiError(() => store.setCompatibility(undefined, { compatibility: 'SIDEWAYS' })).errorCode).toBe(
      42203,
    );
    const e = apiError(() => store.getCompatibility('a-value', false));
    expect([e.errorCode, e.httpStatus]).toEqual([40408, 404]);
  });

  it('looks a schema up under its subject', () => {
    const store = createRegistryStore();
    store.register('a-value', { schema: V1 });
    store.register('a-value', { schema: V2 });
    expect(store.lookup('a-value', { schema: V1 })).toEqual({
      subject: 'a-value',
      id: 1,
      version: 1,
      schema: V1,
    });
  });

  it('keeps global and subject compatibility levels (default BACKWARD)', () => {
    const store = createRegistryStore();
    expect(store.getCompatibility(undefined, false)).toBe('BACKWARD');
    expect(store.getCompatibility('x', true)).toBe('BACKWARD');
    expect(store.setCompatibility(undefined, { compatibility: 'full' })).toBe('FULL');
    expect(store.setCompatibility('x', { compatibility: 'NONE' })).toBe('NONE');
    expect(store.getCompatibility('x', false)).toBe('NONE');
    expect(store.getCompatibility('y', true)).toBe('FULL');
    // A subject with only a config is not listed as a subject.
    expect(store.listSubjects()).toEqual([]);
    expect(store.deleteCompatibility('x')).toBe('NONE');
    expect(apiError(() => store.getCompatibility('x', false)).errorCode).toBe(40408);
  });

  it('tests compatibility against latest or a given version', () => {
    const store = createRegistryStore();
    expect(store.testCompatibility('a-value', 'latest', { schema: V2_NO_DEFAULT }).compatible).toBe(true);
    expect(apiError(() => store.testCompatibility('a-value', '1', { schema: V1 })).errorCode).toBe(40401);
    store.register('a-value', { schema: V1 });
    const bad = store.testCompatibility('a-value', 'latest', { schema: V2_NO_DEFAULT });
    expect(bad.compatible).toBe(false);
    expect(bad.messages[0]).toMatch(/version 1/);
    expect(store.testCompatibility('a-value', '1', { schema: V2 }).compatible).toBe(true);
    expect(apiError(() => store.testCompatibility('a-value', '5', { schema: V2 })).errorCode).toBe(40402);
  });

  it('under a transitive level, /versions checks all versions and /versions/latest the latest only', () => {
    const store = createRegistryStore();
    store.setCompatibility('a-value', { compatibility: 'FORWARD_TRANSITIVE' });
    store.register('a-value', { schema: V2_NO_DEFAULT }); // v1: volt required
    store.register('a-value', { schema: V2 }); // v2: volt optional
    // Dropping volt: v2 can read it, v1 cannot.
    expect(store.testCompatibility('a-value', undefined, { schema: V1 }).compatible).toBe(false);
    expect(store.testCompatibility('a-value', 'latest', { schema: V1 }).compatible).toBe(true);
    expect(store.testCompatibility('a-value', '1', { schema: V1 }).compatible).toBe(false);
    expect(() => store.register('a-value', { schema: V1 })).toThrow(/version 1 cannot read/);
  });

  it('deletes a subject but keeps its schema ids resolvable', () => {
    const store = createRegistryStore();
    store.register('a-value', { schema: V1 });
    store.register('a-value', { schema: V2 });
    expect(store.deleteSubject('a-value')).toEqual([1, 2]);
    expect(store.listSubjects()).toEqual([]);
    expect(store.schemaById('2')).toEqual({ schema: V2 });
    expect(store.register('c-value', { schema: V2 })).toEqual({ id: 2 });
  });

  it('persists every change and restores ids from a snapshot', () => {
    const saved: StoreSnapshot[] = [];
    const store = createRegistryStore({ persist: (s) => saved.push(s) });
    store.register('a-value', { schema: V1 });
    store.register('b-value', { schema: V2 });
    store.setCompatibility('a-value', { compatibility: 'FULL' });
    expect(saved).toHaveLength(3);
    const last = parseSnapshot(JSON.parse(JSON.stringify(saved[2])));
    const restored = createRegistryStore({ initial: last });
    expect(restored.schemaById('2')).toEqual({ schema: V2 });
    expect(restored.getCompatibility('a-value', false)).toBe('FULL');
    expect(restored.register('c-value', { schema: schema([{ name: 'z', type: 'int' }], 'C') })).toEqual({
      id: 3,
    });
  });

  it('rolls a change back when it cannot be persisted', () => {
    let fail = false;
    const store = createRegistryStore({
      persist: () => {
        if (fail) throw new Error('disk full');
      },
    });
    store.register('a-value', { schema: V1 });
    fail = true;
    expect(() => store.register('a-value', { schema: V2 })).toThrow('disk full');
    expect(store.listVersions('a-value')).toEqual([1]);
    fail = false;
    expect(store.register('a-value', { schema: V2 })).toEqual({ id: 2 });
  });

  it('rejects a snapshot that is not ours', () => {
    expect(() => parseSnapshot({ format: 'other', nextId: 1 })).toThrow();
  });
});
