/**
 * The RowBinary encoder against a straightforward reference: every value written by Buffer's own methods
 * into a buffer of its own, as the first encoder did. The encoder writes through a DataView, parses short
 * decimal offsets itself and remembers each column's last string and instant; it must give the same bytes
 * for every value, the same errors for every wrong one, and each column of the hot formats must read its
 * own field.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeRowBinary,
  featureVectorsFormat,
  formatDateTime,
  formatInstant,
  predictionsFormat,
  type FeatureVectorRow,
  type PredictionRow,
  type RowBinaryFormat,
  type RowBinaryType,
} from '../../../src/sink/index.js';
import { LEGACY_CAPS, MODERN_CAPS } from './fake-connection.js';
import { mulberry32 } from '../prng.js';
import { leb128 } from './leb128.js';

/** RowBinary of `rows`, one Buffer method call per value: slow and plain. */
function reference<R>(rows: readonly R[], format: RowBinaryFormat<R>): Buffer {
  const parts: Buffer[] = [];
  const fixed = (size: number, write: (b: Buffer) => unknown) => {
    const b = Buffer.alloc(size);
    write(b);
    parts.push(b);
  };
  const varUInt = (n: number) => {
    parts.push(leb128(n));
  };
  const string = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    varUInt(b.length);
    parts.push(b);
  };
  const ms = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);
  for (const row of rows) {
    for (const c of format.columns) {
      const v = c.value(row) as never;
      switch (c.type) {
        case 'UInt8':
          fixed(1, (b) => b.writeUInt8(v));
          break;
        case 'UInt32':
          fixed(4, (b) => b.writeUInt32LE(v));
          break;
        case 'Int32':
          fixed(4, (b) => b.writeInt32LE(v));
          break;
        case 'Int64':
          fixed(8, (b) => b.writeBigInt64LE(BigInt(v)));
          break;
        case 'Float32':
          fixed(4, (b) => b.writeFloatLE(v));
          break;
        case 'Float64':
          fixed(8, (b) => b.writeDoubleLE(v));
          break;
        case 'String':
          string(v);
          break;
        case 'DateTime':
          fixed(4, (b) => b.writeUInt32LE(Math.floor(ms(v) / 1000)));
          break;
        case 'DateTime64(3)':
          fixed(8, (b) => b.writeBigInt64LE(BigInt(ms(v))));
          break;
        case 'Array(Float64)': {
          const a = v as ArrayLike<number>;
          varUInt(a.length);
          // A Float64Array's own bytes (NaN payloads included), as the column stores them.
          if (a instanceof Float64Array) parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
          else for (let i = 0; i < a.length; i++) fixed(8, (b) => b.writeDoubleLE(a[i] as number));
          break;
        }
        case 'Array(String)':
          varUInt((v as string[]).length);
          for (const s of v as string[]) string(s);
          break;
      }
    }
  }
  return Buffer.concat(parts);
}

/** Float64Array holding NaNs of other bit patterns than the one NaN a JS literal gives. */
function nanPayloads(): Float64Array {
  const a = new Float64Array(4);
  Buffer.from(a.buffer).set(
    Buffer.from('000000000000f8ff' + '010000000000f47f' + '0100000000f0ff7f' + '000000000000f87f', 'hex'),
  );
  return a;
}

const TEXTS = [
  '',
  'none',
  'comp1',
  '1',
  'pdm.telemetry',
  'abcdefg', // 8 bytes with its length: the longest copied byte by byte
  'abcdefgh', // 9 bytes: copied with `set`
  'ünïcödé €😀',
  'a\ud800', // a lone surrogate: U+FFFD, 3 bytes
  '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  'x'.repeat(200),
];
const FLOATS = [
  0,
  -0,
  1,
  0.1,
  -2.5,
  1e-45,
  7e-46, // rounds to 0 as a float32
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  3.4e38,
  3.4028235677973366e38, // rounds up to Infinity as a float32
  1e39,
  Number.NaN,
  Infinity,
  -Infinity,
];
const OFFSETS = [
  '0',
  '-0',
  '-1',
  '007',
  '999999999999999', // 15 digits: parsed without BigInt
  '-999999999999999',
  '1000000000000000', // 16 digits: BigInt
  '9007199254740993',
  '9223372036854775807',
  '-9223372036854775808',
];
const INT64_NUMBERS = [
  0,
  -0,
  -1,
  2 ** 32,
  -(2 ** 32),
  2 ** 32 - 1,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];
const INT64_BIGINTS = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 40n];

interface AllTypes {
  readonly u8: number;
  readonly u32: number;
  readonly i32: number;
  readonly i64: string | number | bigint;
  readonly f32: number;
  readonly f64: number;
  readonly repeated: string;
  readonly varied: string;
  readonly dt: string;
  readonly dt64: string;
  readonly floats: readonly number[] | Float64Array | Float32Array;
  readonly strings: readonly string[];
}

const column = <K extends keyof AllTypes>(name: K, type: RowBinaryType) => ({
  name,
  type,
  value: (r: AllTypes) => r[name],
});
const ALL_TYPES: RowBinaryFormat<AllTypes> = {
  columns: [
    column('u8', 'UInt8'),
    column('u32', 'UInt32'),
    column('i32', 'Int32'),
    column('i64', 'Int64'),
    column('f32', 'Float32'),
    column('f64', 'Float64'),
    column('repeated', 'String'),
    column('varied', 'String'),
    column('dt', 'DateTime'),
    column('dt64', 'DateTime64(3)'),
    column('floats', 'Array(Float64)'),
    column('strings', 'Array(String)'),
  ],
};

function generator(seed: number) {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const float = () => (rnd() < 0.3 ? pick(FLOATS) : (rnd() - 0.5) * 10 ** int(-10, 10));
  // Fractions and NaN: written as Buffer writes them (truncated; NaN as 0).
  const ranged = (lo: number, hi: number, edges: readonly number[]) =>
    rnd() < 0.2 ? pick([...edges, Number.NaN, -0, lo + 0.5, hi - 0.5]) : int(lo, hi);
  // Equal text in a string of its own: the last-value check compares contents, not identity.
  const copy = (s: string) => s.slice(0, 1) + s.slice(1);
  const text = () => (rnd() < 0.2 ? copy(pick(TEXTS)) : pick(TEXTS));
  const second = () => int(0, 4_294_967_295) * 1000;
  let previous: AllTypes | undefined;
  return (): AllTypes => {
    const again = <K extends keyof AllTypes>(k: K, make: () => AllTypes[K]): AllTypes[K] =>
      previous !== undefined && rnd() < 0.6 ? previous[k] : make();
    const row: AllTypes = {
      u8: ranged(0, 255, [0, 255]),
      u32: ranged(0, 4294967295, [0, 4294967295]),
      i32: ranged(-2147483648, 2147483647, [-2147483648, 2147483647, -1]),
      i64: pick<() => AllTypes['i64']>([
        () => pick(OFFSETS),
        () => String(int(0, 1e12)),
        () => pick(INT64_NUMBERS),
        () => pick(INT64_BIGINTS),
      ])(),
      f32: float(),
      f64: float(),
      repeated: again('repeated', text),
      varied: text(),
      dt: again('dt', () =>
        rnd() < 0.8 ? formatDateTime(second()) : formatInstant(second() + int(0, 999), MODERN_CAPS),
      ),
      dt64: again('dt64', () =>
        pick([
          () => formatInstant(int(-1e12, 4_102_444_800_000), MODERN_CAPS),
          () => formatDateTime(second()),
          () => pick(['1969-12-31 23:59:59.999', '1970-01-01 00:00:00.001', '2024-01-01 00:00:00']),
        ])(),
      ),
      floats: pick<() => AllTypes['floats']>([
        () => [],
        () => new Float64Array(0),
        () => Array.from({ length: int(1, 40) }, float),
        () => Float64Array.from({ length: 38 }, float),
        () => Float64Array.from({ length: 50 }, float).subarray(int(1, 11), int(12, 50)), // at a byteOffset
        () => Float32Array.from({ length: int(1, 5) }, float),
        nanPayloads,
      ])(),
      strings: Array.from({ length: pick([0, 0, 1, 3]) }, text),
    };
    previous = row;
    return row;
  };
}

describe('encodeRowBinary: the same bytes as the reference', () => {
  it('every type, edge values, repeated and changing values, in groups of every size', () => {
    const next = generator(20240229);
    const rows = Array.from({ length: 6_000 }, next);
    // Sizes 1 and 2 start a group without and with its room for all rows; 4 000 crosses the first 64 KiB.
    for (const size of [1, 2, 7, 257, 4_000]) {
      for (let at = 0; at < rows.length; at += size) {
        const group = rows.slice(at, at + size);
        const got = encodeRowBinary(group, ALL_TYPES);
        const want = reference(group, ALL_TYPES);
        if (!got.equals(want)) {
          // The first row that differs, for the message.
          const row = group.find((r) => !encodeRowBinary([r], ALL_TYPES).equals(reference([r], ALL_TYPES)));
          expect({ size, at, row }).toBe('the same bytes as the reference');
        }
      }
    }
  });

  it('a Float64Array’s NaN payloads and signs are kept, bit for bit', () => {
    const a = nanPayloads();
    const rows = Array.from({ length: 3 }, () => ({ v: a }));
    const buf = encodeRowBinary(rows, {
      columns: [{ name: 'v', type: 'Array(Float64)', value: (r) => r.v }],
    });
    const bytes = Buffer.from(a.buffer).toString('hex');
    expect(buf.toString('hex')).toBe(('04' + bytes).repeat(3));
  });

  it.each([
    ['current servers (modernTypes)', MODERN_CAPS],
    ['18.x (no modernTypes)', LEGACY_CAPS],
  ])('the hot formats, rows as the engine writes them, %s', (_name, caps) => {
    const rnd = mulberry32(caps.modernTypes ? 1 : 2);
    const scoredAt = formatInstant(Date.UTC(2024, 2, 1, 12, 0, 0, 345), caps);
    const specHash = TEXTS[9] as string;
    const predictions: PredictionRow[] = [];
    const vectors: FeatureVectorRow[] = [];
    for (let i = 0; i < 3_000; i++) {
      const bucketTs = formatDateTime(Date.UTC(2024, 0, 1) + Math.floor(i / 700) * 43_200_000);
      const alert = rnd() < 0.1 ? 1 : 0;
      predictions.push({
        machine_id: 1 + (i % 700),
        bucket_ts: bucketTs,
        p_none: rnd(),
        p_comp1: rnd(),
        p_comp2: rnd(),
        p_comp3: rnd(),
        p_comp4: rnd(),
        predicted_class: alert === 1 ? 'comp2' : 'none',
        predicted_index: alert === 1 ? 2 : 0,
        alert,
        alert_class: alert === 1 ? 'comp2' : 'none',
        alert_components: alert === 1 ? ['comp2'] : [],
        warming_up: i < 700 ? 1 : 0,
        model_version: '1',
        spec_hash: specHash,
        scored_at: scoredAt,
        source_topic: 'pdm.telemetry',
        source_partition: i % 6,
        source_offset: String(18_000_000 + i),
        engine_version: '0.1.0',
      });
      vectors.push({
        machine_id: 1 + (i % 700),
        bucket_ts: bucketTs,
        spec_hash: specHash,
        feature_set: 'pdm-v1',
        features: i % 2 === 0 ? Float64Array.from({ length: 38 }, rnd) : Array.from({ length: 38 }, rnd),
        model_version: '1',
        scored_at: scoredAt,
        engine_version: '0.1.0',
      });
    }
    const p = predictionsFormat(caps);
    const f = featureVectorsFormat(caps);
    expect(encodeRowBinary(predictions, p).equals(reference(predictions, p))).toBe(true);
    expect(encodeRowBinary(vectors, f).equals(reference(vectors, f))).toBe(true);
  });
});

describe('encodeRowBinary: the same errors as before', () => {
  const one = (type: RowBinaryType): RowBinaryFormat<{ v: unknown }> => ({
    columns: [{ name: 'x', type, value: (r) => r.v }],
  });
  /** The error encoding `bad` throws after a row of `good` (the column has a last value by then). */
  const errorAfter = (type: RowBinaryType, good: unknown, bad: unknown): unknown => {
    try {
      encodeRowBinary([{ v: good }, { v: good }, { v: bad }], one(type));
    } catch (err) {
      return err;
    }
    return 'nothing thrown';
  };

  it('a TypeError with the column, its type and the value, for each wrong value', () => {
    const cases: [RowBinaryType, unknown, unknown][] = [
      ['UInt8', 1, undefined],
      ['UInt8', 1, '1'],
      ['UInt32', 7, '7'],
      ['Int32', 7, null],
      ['Float32', 0.5, undefined],
      ['Float64', 0.5, 'abc'],
      ['Float64', 0.5, 1n],
      ['Int64', '12', ''],
      ['Int64', '12', '-'],
      ['Int64', '12', '+1'],
      ['Int64', '12', ' 12'],
      ['Int64', '12', '1.5'],
      ['Int64', '12', '1e3'],
      ['Int64', '12', '١٢'], // Arabic-Indic digits are not decimal text
      ['Int64', '12', 1.5],
      ['Int64', '12', 2 ** 53],
      ['Int64', '12', undefined],
      ['String', 'a', undefined],
      ['String', 'a', 42],
      ['String', 'a', ['a']],
      ['DateTime', '2024-01-01 00:00:00', 1_700_000_000],
      ['DateTime64(3)', '2024-01-01 00:00:00.000', new Date(0)],
      ['DateTime64(3)', '2024-01-01 00:00:00.000', undefined],
      ['Array(Float64)', [1], 5],
      ['Array(Float64)', [1], 'abc'],
      ['Array(Float64)', [1], new Uint8Array(2)],
      ['Array(String)', ['a'], 'abc'],
    ];
    for (const [type, good, bad] of cases) {
      const err = errorAfter(type, good, bad);
      const label = `${type} ${typeof bad} ${String(bad)}`;
      expect(err, label).toBeInstanceOf(TypeError);
      expect((err as Error).message, label).toBe(
        `RowBinary column x ${type}: cannot encode ${typeof bad} ${String(bad)}`,
      );
    }
    // An element of the wrong type is named itself.
    expect((errorAfter('Array(String)', ['a'], ['a', 1]) as Error).message).toBe(
      'RowBinary column x Array(String): cannot encode number 1',
    );
  });

  it('a row that lost a field of a hot format: a TypeError naming the column', () => {
    const row = { machine_id: 1, bucket_ts: '2024-01-01 00:00:00', spec_hash: 'h', feature_set: 'pdm-v1' };
    const lost = row as unknown as FeatureVectorRow; // no features, model_version, scored_at, engine_version
    expect(() => encodeRowBinary([lost], featureVectorsFormat(MODERN_CAPS))).toThrow(
      new TypeError('RowBinary column features Array(Float64): cannot encode undefined undefined'),
    );
  });

  it('a number its column cannot hold: Buffer’s own RangeError', () => {
    const bufferError = (write: (b: Buffer) => unknown): unknown => {
      try {
        write(Buffer.alloc(8));
      } catch (err) {
        return err;
      }
      return 'nothing thrown';
    };
    const cases: [RowBinaryType, unknown, unknown, unknown][] = [
      ['UInt8', 1, 256, bufferError((b) => b.writeUInt8(256))],
      ['UInt8', 1, -1, bufferError((b) => b.writeUInt8(-1))],
      ['UInt8', 1, 255.5, bufferError((b) => b.writeUInt8(255.5))],
      ['UInt32', 1, -1, bufferError((b) => b.writeUInt32LE(-1))],
      ['UInt32', 1, 2 ** 32, bufferError((b) => b.writeUInt32LE(2 ** 32))],
      ['UInt32', 1, Infinity, bufferError((b) => b.writeUInt32LE(Infinity))],
      ['Int32', 1, 2 ** 31, bufferError((b) => b.writeInt32LE(2 ** 31))],
      ['Int32', 1, -(2 ** 31) - 1, bufferError((b) => b.writeInt32LE(-(2 ** 31) - 1))],
      ['Int64', '1', '9223372036854775808', bufferError((b) => b.writeBigInt64LE(2n ** 63n))],
      ['Int64', '1', -(2n ** 63n) - 1n, bufferError((b) => b.writeBigInt64LE(-(2n ** 63n) - 1n))],
      ['DateTime', '1970-01-01 00:00:00', '1969-12-31 23:59:59', bufferError((b) => b.writeUInt32LE(-1))],
    ];
    for (const [type, good, bad, want] of cases) {
      const err = errorAfter(type, good, bad);
      const label = `${type} ${String(bad)}`;
      expect(want, label).toBeInstanceOf(RangeError);
      expect(err, label).toBeInstanceOf(RangeError);
      expect((err as Error).message, label).toBe((want as Error).message);
    }
  });
});

describe('the hot formats: each column reads its own field', () => {
  it.each([
    ['predictions', predictionsFormat(MODERN_CAPS)],
    ['feature_vectors', featureVectorsFormat(MODERN_CAPS)],
  ] as const)('%s', (_table, format) => {
    // A row whose every field holds a value of its own: an accessor reading another field returns another.
    const row = Object.fromEntries(format.columns.map((c) => [c.name, Symbol(c.name)]));
    for (const c of format.columns as readonly { name: string; value: (r: object) => unknown }[]) {
      expect(c.value(row), c.name).toBe(row[c.name]);
    }
  });
});
