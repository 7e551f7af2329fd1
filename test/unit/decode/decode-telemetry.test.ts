/**
 * `RecordDecoder.decodeTelemetry` reads values written with the project's schema straight from the bytes
 * into columns. Its contract: the same outcome as `decode` on views of the same bytes (which
 * `decodeTelemetryByRecord` gives) — the same row, the same failure reason and message — for valid, edge,
 * truncated, mutated and padded values, wrong keys, and values that sit inside a larger buffer (as in a
 * fetch response) between other bytes it must not read.
 */
import { describe, expect, it } from 'vitest';
import {
  createCodec,
  createRecordDecoder,
  decodeTelemetryByRecord,
  encodeFrame,
  loadProjectSchemas,
  type RecordDecoder,
  type SchemaRegistryClient,
} from '../../../src/decode/index.js';
import { BadRecordError } from '../../../src/shared/errors.js';
import type { MessageBytes } from '../../../src/shared/message-bytes.js';
import {
  createTelemetryColumns,
  TELEMETRY_FIELDS,
  type TelemetryColumns,
} from '../../../src/shared/records.js';

const schemas = loadProjectSchemas();
const project = schemas.telemetry as { fields: object[] };
/** A producer's newer schema: one more optional field; read through avsc's resolver. */
const evolved = {
  ...project,
  fields: [...project.fields, { name: 'site', type: ['null', 'string'], default: null }],
};
/** A schema whose `volt` cannot be read as a double. */
const incompatible = {
  ...project,
  fields: project.fields.map((f) =>
    (f as { name: string }).name === 'volt' ? { name: 'volt', type: 'string' } : f,
  ),
};
const byId: Record<number, object> = { 1: project, 2: evolved, 3: incompatible };

function registry(): SchemaRegistryClient {
  return {
    url: 'memory://',
    register: () => Promise.reject(new Error('not used')),
    latestId: () => Promise.resolve(undefined),
    schemaById(id) {
      const s = byId[id];
      return s === undefined
        ? Promise.reject(
            new BadRecordError('UNKNOWN_SCHEMA', `schema id ${id} is not known`, { stage: 'decode' }),
          )
        : Promise.resolve(JSON.stringify(s));
    },
  };
}

let seed = 11;
function rand(n: number): number {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return (seed >>> 8) % n;
}
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;

const DOUBLES = [170.5, 0, -0, -1e-300, 1e308, Number.NaN, Infinity, -Infinity, 450.125, 5e-324];
const IDS = [0, 1, 7, 99, 1000, 123_456, 2 ** 27 - 1, 2 ** 27, 2 ** 31 - 1, -1, -(2 ** 31)];
const TS = [1_420_070_400_000, 0, -1, 2 ** 48 - 1, 2 ** 48, 2 ** 50, 2 ** 52, -(2 ** 52)];

function record(): Record<string, number | string | null> {
  return {
    machineId: pick(IDS),
    ts: pick(TS),
    volt: pick(DOUBLES),
    rotate: rand(1000) / 7,
    pressure: pick(DOUBLES),
    vibration: rand(100),
  };
}

interface Case {
  readonly value: Buffer | null;
  readonly key: Buffer | null;
}

/** Framed values and keys: valid ones under each schema id, and hostile variants of them. */
function cases(): Case[] {
  const plain = createCodec(project);
  const newer = createCodec(evolved);
  const out: Case[] = [];
  for (let i = 0; i < 400; i++) {
    const r = record();
    const id = rand(5) === 0 ? 2 : 1;
    const body = id === 2 ? newer.encode({ ...r, site: rand(2) === 0 ? null : 'plant-7' }) : plain.encode(r);
    const framed = encodeFrame(id, body);
    const goodKey = Buffer.from(String(r['machineId']));
    const key = pick([
      goodKey,
      goodKey,
      goodKey,
      Buffer.from(`0${String(r['machineId'])}`),
      Buffer.from(''),
      null,
      Buffer.from('x'),
    ]);
    out.push({ value: framed, key });
    // Hostile: truncated, padded, random bytes (header included), another or unknown schema id.
    out.push({ value: framed.subarray(0, rand(framed.length)), key: goodKey });
    out.push({ value: Buffer.concat([framed, Buffer.from([rand(256)])]), key: goodKey });
    const m = Buffer.from(framed);
    for (let k = 0; k <= rand(3); k++) m[rand(m.length)] = rand(256);
    out.push({ value: m, key: goodKey });
    const other = Buffer.from(framed);
    other.writeUInt32BE(pick([1, 2, 3, 4]), 1);
    out.push({ value: other, key: goodKey });
  }
  // 5+-byte varints for the int and 8-byte ones for the long, hand-made: avsc reads them, this reader
  // leaves them to avsc.
  const wide = Buffer.concat([
    Buffer.from([0, 0, 0, 0, 1]),
    Buffer.from([0x8e, 0x80, 0x80, 0x80, 0x00]), // machineId 7 in 5 bytes
    Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]), // ts 2^49 in 8 bytes
    Buffer.alloc(32),
  ]);
  out.push({ value: wide, key: Buffer.from('7') });
  out.push({ value: null, key: Buffer.from('7') });
  return out;
}

/** Places the key and value inside one larger buffer, between random bytes, as a fetch response does. */
function embedded(c: Case): MessageBytes {
  const junk = () => Buffer.from(Array.from({ length: 1 + rand(6) }, () => rand(256)));
  const parts = [junk(), c.key ?? Buffer.alloc(0), junk(), c.value ?? Buffer.alloc(0), junk()];
  const buf = Buffer.concat(parts);
  const keyAt = (parts[0] as Buffer).length;
  const valueAt = keyAt + (parts[1] as Buffer).length + (parts[2] as Buffer).length;
  return {
    key: c.key === null ? null : buf,
    keyAt,
    keyEnd: keyAt + (c.key?.length ?? 0),
    value: c.value === null ? null : buf,
    valueAt,
    valueEnd: valueAt + (c.value?.length ?? 0),
  };
}

function row(cols: TelemetryColumns, i: number): Record<string, number> {
  return Object.fromEntries(TELEMETRY_FIELDS.map((f) => [f, cols[f][i] as number]));
}

async function decoder(): Promise<RecordDecoder & { recordPath: () => number }> {
  const d = createRecordDecoder(registry(), schemas);
  await d.prepareIds([1, 2, 3, 4]);
  let calls = 0;
  const decode = d.decode.bind(d);
  // Counts what goes through the per-record path (decodeTelemetry's fallback calls the object's decode).
  d.decode = ((...args: Parameters<typeof decode>) => {
    calls++;
    return decode(...args);
  }) as typeof d.decode;
  return Object.assign(d, { recordPath: () => calls });
}

describe('decodeTelemetry: in place, the same outcomes as decode on views', () => {
  it('valid, edge, hostile and embedded values: the same rows and the same failures', async () => {
    const fast = await decoder();
    const reference = createRecordDecoder(registry(), schemas);
    await reference.prepareIds([1, 2, 3, 4]);
    const ours = createTelemetryColumns(4);
    const theirs = createTelemetryColumns(4);
    let rows = 0;
    const reasons = new Set<string>();
    for (const c of cases()) {
      // Grown between calls, as the decode step does per batch: the reader must follow new columns.
      if (ours.length === ours.ts.length) {
        const bigger = createTelemetryColumns(ours.ts.length * 2);
        for (const f of TELEMETRY_FIELDS) bigger[f].set(ours[f]);
        Object.assign(ours, bigger, { length: ours.length });
        const theirsBigger = createTelemetryColumns(theirs.ts.length * 2);
        for (const f of TELEMETRY_FIELDS) theirsBigger[f].set(theirs[f]);
        Object.assign(theirs, theirsBigger, { length: theirs.length });
      }
      // Mutated headers name other ids: each prepared (UNKNOWN_SCHEMA) as the decode step would.
      await reference.prepare([c.value]);
      await fast.prepare([c.value]);
      const expected = decodeTelemetryByRecord(reference, embedded(c), theirs);
      const actual = fast.decodeTelemetry(embedded(c), ours);
      expect(actual).toEqual(expected);
      expect(ours.length).toBe(theirs.length);
      if (typeof expected === 'number') {
        rows++;
        expect(row(ours, ours.length - 1)).toEqual(row(theirs, theirs.length - 1));
      } else {
        reasons.add(expected.reason);
      }
    }
    // Not vacuous: many rows, and every kind of failure the hostile cases make.
    expect(rows).toBeGreaterThan(400);
    expect([...reasons].sort()).toEqual([
      'BAD_FRAME',
      'DECODE_ERROR',
      'INCOMPATIBLE_SCHEMA',
      'INVALID_KEY',
      'INVALID_VALUE',
      'UNKNOWN_SCHEMA',
    ]);
  });

  it('reads the project schema in place (no per-record decode) and leaves other schemas to decode', async () => {
    const d = await decoder();
    const cols = createTelemetryColumns(8);
    const r = {
      machineId: 42,
      ts: 1_420_070_400_000,
      volt: 170.5,
      rotate: 450,
      pressure: 99.5,
      vibration: 40,
    };
    const key = Buffer.from('42');
    const own = embedded({ value: encodeFrame(1, createCodec(project).encode(r)), key });
    expect(d.decodeTelemetry(own, cols)).toBe(1);
    expect(d.recordPath()).toBe(0);
    expect(row(cols, 0)).toEqual(r);
    const newer = embedded({ value: encodeFrame(2, createCodec(evolved).encode({ ...r, site: 'x' })), key });
    expect(d.decodeTelemetry(newer, cols)).toBe(2);
    expect(d.recordPath()).toBe(1);
    expect(row(cols, 1)).toEqual(r);
    expect(cols.length).toBe(2);
  });
});
