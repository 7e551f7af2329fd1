/**
 * The Avro codecs (src/decode/avro.ts) read with one shared avsc cursor instead of `Type.decode`: the same
 * values and the same failures as `Type.decode` on valid, truncated, mutated and padded bodies, for plain
 * and resolving (schema evolution) codecs, also when a read throws half way.
 */
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  avroSharedCursor,
  createCodec,
  createResolvingCodec,
  type AvroCodec,
} from '../../../src/decode/avro.js';
import { loadProjectSchemas } from '../../../src/decode/index.js';

const schemas = loadProjectSchemas();

/** `Type.decode` with the codecs' checks: the reference. */
function reference(reader: avsc.Type, buf: Buffer, start: number, resolver?: avsc.Resolver): unknown {
  // avsc types decode() as `any`: the same annotation as src/decode/avro.ts.
  const result: { value: unknown; offset: number } = reader.decode(buf, start, resolver);
  const { value, offset } = result;
  if (offset < 0) throw new Error(`truncated Avro body (${buf.length - start} bytes)`);
  if (offset !== buf.length) throw new Error(`Avro body has ${buf.length - offset} trailing bytes`);
  return value;
}

function outcome(f: () => unknown): { value?: unknown; error?: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

let seed = 7;
function rand(n: number): number {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return seed % n;
}

/** Bodies derived from `valid`: itself, every truncation, random byte changes, trailing bytes; framed at 5. */
function variants(valid: Buffer): Buffer[] {
  const out: Buffer[] = [valid];
  for (let n = 0; n < valid.length; n++) out.push(valid.subarray(0, n));
  for (let i = 0; i < 300; i++) {
    const m = Buffer.from(valid);
    for (let k = 0; k <= rand(3); k++) m[rand(m.length)] = rand(256);
    out.push(m);
  }
  out.push(Buffer.concat([valid, Buffer.from([0])]), Buffer.concat([valid, Buffer.from([1, 2, 3])]));
  return out.map((b) => Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), b]));
}

function compare(codec: AvroCodec, reader: avsc.Type, valid: Buffer, resolver?: avsc.Resolver): number {
  let decoded = 0;
  for (const framed of variants(valid)) {
    const expected = outcome(() => reference(reader, framed, 5, resolver));
    expect(outcome(() => codec.decode(framed, 5))).toEqual(expected);
    if (expected.value !== undefined) decoded++;
  }
  return decoded;
}

describe('Avro codecs with the shared cursor', () => {
  it('are in use on this avsc', () => {
    expect(avroSharedCursor).toBe(true);
  });

  it('plain codec: the same values and failures as Type.decode', () => {
    const type = avsc.Type.forSchema(schemas.telemetry as avsc.Schema);
    const valid = type.toBuffer({
      machineId: 17,
      ts: 1_767_225_600_000,
      volt: 170.25,
      rotate: 449.5,
      pressure: 101.75,
      vibration: 40.125,
    });
    expect(compare(createCodec(schemas.telemetry), type, valid)).toBeGreaterThan(50);
  });

  it('resolving codec (a writer with an extra field and a union): the same as Type.decode with the resolver', () => {
    const writerSchema = {
      ...(schemas.errors as { fields: object[] }),
      fields: [
        ...(schemas.errors as { fields: object[] }).fields,
        { name: 'site', type: ['null', 'string'], default: null },
      ],
    };
    const reader = avsc.Type.forSchema(schemas.errors as avsc.Schema);
    const writer = avsc.Type.forSchema(writerSchema as avsc.Schema);
    const resolver = reader.createResolver(writer);
    const valid = writer.toBuffer({
      machineId: 3,
      ts: 1_767_225_600_000,
      errorId: 'error4',
      site: 'plant-7',
    });
    expect(
      compare(createResolvingCodec(schemas.errors, writerSchema), reader, valid, resolver),
    ).toBeGreaterThan(20);
  });

  it('a read that throws half way leaves the next read unaffected', () => {
    const codec = createCodec(schemas.errors);
    const type = avsc.Type.forSchema(schemas.errors as avsc.Schema);
    const good = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 1]),
      type.toBuffer({ machineId: 1, ts: 1_767_225_600_000, errorId: 'error1' }),
    ]);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = 0xff; // an invalid last byte for a string or enum
    outcome(() => codec.decode(bad, 5));
    expect(codec.decode(good, 5)).toEqual({ machineId: 1, ts: 1_767_225_600_000, errorId: 'error1' });
  });
});
