import { describe, expect, it } from 'vitest';
import {
  COMPATIBILITY_LEVELS,
  canonicalSchemaKey,
  checkCompatibility,
  isCompatibilityLevel,
  parseAvroSchema,
  readError,
  type CompatibilityLevel,
} from '../../../src/stack/registry/compatibility.js';

type Field = { name: string; type: unknown; default?: unknown };
const record = (fields: Field[], name = 'Telemetry') =>
  parseAvroSchema(JSON.stringify({ type: 'record', name, namespace: 'io.pdmstream.v1', fields }));

const v1 = record([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double' },
]);
// v2 adds a field with a default: new readers fill it in for old data; old readers skip it.
const v2AddedWithDefault = record([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double' },
  { name: 'site', type: 'string', default: 'unknown' },
]);
// v2 adds a field without a default: new readers cannot read old data.
const v2AddedNoDefault = record([
  { name: 'machineId', type: 'int' },
  { name: 'volt', type: 'double' },
  { name: 'site', type: 'string' },
]);
// v2 removes a field that has no default: old readers cannot read new data.
const v2Removed = record([{ name: 'machineId', type: 'int' }]);
const versions = (...types: ReturnType<typeof record>[]) =>
  types.map((type, i) => ({ version: i + 1, type }));

describe('readError (avsc schema resolution)', () => {
  it('accepts Avro promotions int→long→double and string↔bytes', () => {
    expect(readError(parseAvroSchema('"long"'), parseAvroSchema('"int"'))).toBeUndefined();
    expect(readError(parseAvroSchema('"double"'), parseAvroSchema('"long"'))).toBeUndefined();
    expect(readError(parseAvroSchema('"bytes"'), parseAvroSchema('"string"'))).toBeUndefined();
  });

  it('refuses narrowing and unrelated types with a message', () => {
    expect(readError(parseAvroSchema('"int"'), parseAvroSchema('"long"'))).toMatch(/cannot read|long|int/);
    expect(readError(parseAvroSchema('"string"'), parseAvroSchema('"int"'))).toBeTypeOf('string');
  });

  it('requires matching record names (or an alias)', () => {
    const renamed = record(
      [
        { name: 'machineId', type: 'int' },
        { name: 'volt', type: 'double' },
      ],
      'Reading',
    );
    expect(readError(renamed, v1)).toMatch(/alias/);
  });

  it('refuses an enum reader missing a writer symbol unless it has a default', () => {
    const enumOf = (symbols: string[], dflt?: string) =>
      parseAvroSchema(
        JSON.stringify({ type: 'enum', name: 'Comp', symbols, ...(dflt ? { default: dflt } : {}) }),
      );
    expect(readError(enumOf(['comp1', 'comp2']), enumOf(['comp1', 'comp2', 'comp3']))).toBeTypeOf('string');
    expect(
      readError(enumOf(['comp1', 'comp2'], 'comp1'), enumOf(['comp1', 'comp2', 'comp3'])),
    ).toBeUndefined();
  });
});

describe('checkCompatibility', () => {
  const table: [CompatibilityLevel, ReturnType<typeof record>, boolean][] = [
    ['BACKWARD', v2AddedWithDefault, true],
    ['BACKWARD', v2AddedNoDefault, false],
    ['BACKWARD', v2Removed, true],
    ['FORWARD', v2AddedNoDefault, true],
    ['FORWARD', v2Removed, false],
    ['FULL', v2AddedWithDefault, true],
    ['FULL', v2AddedNoDefault, false],
    ['FULL', v2Removed, false],
    ['NONE', v2AddedNoDefault, true],
    ['NONE', parseAvroSchema('"string"'), true],
  ];
  it.each(table)('%s: v1 → candidate #%# compatible=%s', (level, candidate, expected) => {
    const result = checkCompatibility(level, candidate, versions(v1));
    expect(result.compatible).toBe(expected);
    expect(result.messages.length === 0).toBe(expected);
  });

  it('anything is compatible with an empty subject', () => {
    expect(checkCompatibility('FULL_TRANSITIVE', v2AddedNoDefault, []).compatible).toBe(true);
  });

  it('non-transitive levels look at the latest version only; transitive ones at all', () => {
    // v1 had volt as a string, v2 dropped it, the candidate brings it back as a double with a default:
    // it reads v2 data (default) but not v1 data (string → double is no promotion).
    const history = versions(
      record([
        { name: 'machineId', type: 'int' },
        { name: 'volt', type: 'string' },
      ]),
      record([{ name: 'machineId', type: 'int' }]),
    );
    const candidate = record([
      { name: 'machineId', type: 'int' },
      { name: 'volt', type: 'double', default: 0 },
    ]);
    expect(checkCompatibility('BACKWARD', candidate, history).compatible).toBe(true);
    const transitive = checkCompatibility('BACKWARD_TRANSITIVE', candidate, history);
    expect(transitive.compatible).toBe(false);
    expect(transitive.messages).toHaveLength(1);
    expect(transitive.messages[0]).toMatch(/version 1/);
    expect(checkCompatibility('FULL', candidate, history).compatible).toBe(true);
    expect(checkCompatibility('FULL_TRANSITIVE', candidate, history).compatible).toBe(false);
    // Old readers of v1 need volt as a string: the candidate's double cannot be read by them.
    expect(checkCompatibility('FORWARD_TRANSITIVE', candidate, history).compatible).toBe(false);
    expect(checkCompatibility('FORWARD', candidate, history).compatible).toBe(true);
  });

  it('names the failing version and direction', () => {
    const result = checkCompatibility('BACKWARD', v2AddedNoDefault, versions(v1));
    expect(result.messages).toHaveLength(1);
    expect(result.messages[0]).toMatch(/new schema cannot read data written with version 1/);
  });
});

describe('transitive levels (issue 9: the engine keeps reading with its first version)', () => {
  // v1 is what the engine reads with; producers then make volt optional (v2) and drop it (candidate).
  const engineV1 = record([
    { name: 'machineId', type: 'int' },
    { name: 'volt', type: 'double' },
  ]);
  const optionalVolt = record([
    { name: 'machineId', type: 'int' },
    { name: 'volt', type: 'double', default: 0 },
  ]);
  const dropVolt = record([{ name: 'machineId', type: 'int' }]);

  it('FORWARD and FULL accept a step v1 cannot read; their transitive forms refuse it, naming version 1', () => {
    const history = versions(engineV1, optionalVolt);
    expect(checkCompatibility('FORWARD', dropVolt, history).compatible).toBe(true);
    expect(checkCompatibility('FULL', dropVolt, history).compatible).toBe(true);
    for (const level of ['FORWARD_TRANSITIVE', 'FULL_TRANSITIVE'] as const) {
      const result = checkCompatibility(level, dropVolt, history);
      expect(result.compatible).toBe(false);
      expect(result.messages).toHaveLength(1);
      expect(result.messages[0]).toMatch(/^version 1 cannot read data written with the new schema/);
    }
    // The engine's own check agrees: v1 as reader cannot resolve the candidate as writer.
    expect(readError(engineV1, dropVolt)).toBeTypeOf('string');
  });

  it('BACKWARD accepts machineId int → long (the reported bug); FORWARD*/FULL* refuse it', () => {
    const widened = record([
      { name: 'machineId', type: 'long' },
      { name: 'volt', type: 'double' },
    ]);
    const history = versions(engineV1);
    expect(checkCompatibility('BACKWARD', widened, history).compatible).toBe(true);
    expect(checkCompatibility('BACKWARD_TRANSITIVE', widened, history).compatible).toBe(true);
    for (const level of ['FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const) {
      expect(checkCompatibility(level, widened, history).compatible).toBe(false);
    }
  });

  it('FULL_TRANSITIVE checks both directions against every version and reports each failure', () => {
    // Candidate re-adds volt as a string without a default: v1..v2 cannot read it, and it cannot read them.
    const candidate = record([
      { name: 'machineId', type: 'int' },
      { name: 'volt', type: 'string' },
    ]);
    const result = checkCompatibility('FULL_TRANSITIVE', candidate, versions(engineV1, optionalVolt));
    expect(result.messages).toHaveLength(4);
    expect(result.messages.filter((m) => m.includes('version 1'))).toHaveLength(2);
    expect(result.messages.filter((m) => m.includes('version 2'))).toHaveLength(2);
  });
});

describe('levels and canonical keys', () => {
  it('knows the seven Confluent levels', () => {
    expect(COMPATIBILITY_LEVELS).toHaveLength(7);
    expect(isCompatibilityLevel('FULL_TRANSITIVE')).toBe(true);
    expect(isCompatibilityLevel('backward')).toBe(false);
    expect(isCompatibilityLevel(3)).toBe(false);
  });

  it('ignores whitespace and key order but not field order', () => {
    const a = '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}';
    const b =
      '{ "name": "R",\n "fields": [{"type":"int","name":"a"}, {"name":"b","type":"int"}], "type": "record" }';
    const c = '{"type":"record","name":"R","fields":[{"name":"b","type":"int"},{"name":"a","type":"int"}]}';
    expect(canonicalSchemaKey(a)).toBe(canonicalSchemaKey(b));
    expect(canonicalSchemaKey(a)).not.toBe(canonicalSchemaKey(c));
  });

  it('parseAvroSchema rejects invalid schemas', () => {
    expect(() => parseAvroSchema('{"type":"record","name":"R"}')).toThrow();
    expect(() => parseAvroSchema('not json')).toThrow();
    expect(() =>
      parseAvroSchema('{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}'),
    ).toThrow();
  });
});
