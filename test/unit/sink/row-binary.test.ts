/**
 * RowBinary encoding of the hot tables: byte-exact values of every column type, buffer growth, errors, and a
 * round trip through a decoder written here from the format's specification (not from the encoder), reading
 * each column as the DDL of src/sink/migrations.ts declares it, so a format that disagrees with the tables
 * fails here as well as on a server.
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../../src/features/index.js';
import {
  createClickHouse,
  encodeRowBinary,
  featureVectorsFormat,
  formatDateTime,
  formatInstant,
  MIGRATIONS,
  predictionsFormat,
  type FeatureVectorRow,
  type PredictionRow,
  type RowBinaryFormat,
  type RowBinaryType,
  type ServerCapabilities,
} from '../../../src/sink/index.js';
import { insertColumns } from '../../../src/sink/row-binary.js';
import { LEGACY_CAPS, MODERN_CAPS } from './fake-connection.js';
import { mulberry32 } from '../prng.js';
import { leb128 } from './leb128.js';

/** Hex of one value encoded as a one-column row. */
function hex(type: RowBinaryType, v: unknown): string {
  return encodeRowBinary([{ v }], one(type)).toString('hex');
}

function one(type: RowBinaryType, name = 'x'): RowBinaryFormat<{ v: unknown }> {
  return { columns: [{ name, type, value: (r) => r.v }] };
}

/** LEB128 of `n` as hex, for the expectations below. */
const leb = (n: number): string => leb128(n).toString('hex');

describe('encodeRowBinary: one value of each type, byte for byte', () => {
  it('UInt8, UInt32, Int32: little-endian, two’s complement', () => {
    expect(hex('UInt8', 0)).toBe('00');
    expect(hex('UInt8', 255)).toBe('ff');
    expect(hex('UInt32', 0x01020304)).toBe('04030201');
    expect(hex('UInt32', 4294967295)).toBe('ffffffff');
    expect(hex('Int32', -2)).toBe('feffffff');
    expect(hex('Int32', 2147483647)).toBe('ffffff7f');
    expect(hex('Int32', -2147483648)).toBe('00000080');
  });

  it('Int64 from a decimal string, exact beyond 2^53', () => {
    expect(hex('Int64', '0')).toBe('0000000000000000');
    expect(hex('Int64', '9007199254740993')).toBe('0100000000002000'); // 2^53 + 1: not a double
    expect(hex('Int64', '9223372036854775807')).toBe('ffffffffffffff7f');
    expect(hex('Int64', '-9223372036854775808')).toBe('0000000000000080');
    expect(hex('Int64', '-1')).toBe('ffffffffffffffff');
    expect(hex('Int64', 12)).toBe('0c00000000000000');
    expect(hex('Int64', 2n ** 60n)).toBe('0000000000000010');
  });

  it('Float32 and Float64: IEEE 754 little-endian', () => {
    expect(hex('Float32', 1.5)).toBe('0000c03f');
    expect(hex('Float32', 0.1)).toBe('cdcccc3d'); // rounded to the nearest float32
    expect(hex('Float32', -0)).toBe('00000080');
    expect(hex('Float32', Number.POSITIVE_INFINITY)).toBe('0000807f');
    expect(hex('Float64', 0.1)).toBe('9a9999999999b93f');
    expect(hex('Float64', -2.5)).toBe('00000000000004c0');
    expect(hex('Float64', Number.MIN_VALUE)).toBe('0100000000000000');
  });

  it('String: LEB128 byte length, then UTF-8', () => {
    expect(hex('String', '')).toBe('00');
    expect(hex('String', 'abc')).toBe('03616263');
    expect(hex('String', 'é€😀')).toBe('09c3a9e282acf09f9880'); // 2 + 3 + 4 bytes, not 4 UTF-16 units
    // A lone surrogate is written as U+FFFD, and its length counts the 3 bytes actually written.
    expect(hex('String', 'a\ud800')).toBe('0461efbfbd');
  });

  it('LEB128 lengths: 1 byte below 128, 2 below 16384, 3 from 16384', () => {
    const prefix = (n: number, type: RowBinaryType, v: unknown) => hex(type, v).slice(0, leb(n).length);
    expect(leb(127)).toBe('7f');
    for (const [n, expected] of [
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [16383, 'ff7f'],
      [16384, '808001'],
      [2097152, '80808001'],
    ] as const) {
      expect(prefix(n, 'String', 'x'.repeat(n))).toBe(expected);
    }
    // Multi-byte text: the length is in bytes (3 per character here).
    expect(prefix(16386, 'String', '漢'.repeat(5462))).toBe('828001');
    expect(prefix(128, 'Array(Float64)', new Array<number>(128).fill(1))).toBe('8001');
    expect(prefix(16384, 'Array(String)', new Array<string>(16384).fill(''))).toBe('808001');
    const strings = encodeRowBinary([{ v: new Array<string>(16384).fill('') }], one('Array(String)'));
    expect(strings.length).toBe(3 + 16384);
  });

  it('DateTime from `YYYY-MM-DD hh:mm:ss` (UTC): UInt32 seconds', () => {
    expect(hex('DateTime', '1970-01-01 00:00:00')).toBe('00000000');
    expect(hex('DateTime', '2024-02-29 23:59:59')).toBe('7f1ae165');
    expect(hex('DateTime', '2106-02-07 06:28:15')).toBe('ffffffff'); // the last second of DateTime
    // Milliseconds (a 18.x row given a DateTime64 text) are cut, not rounded.
    expect(hex('DateTime', '2024-02-29 23:59:59.999')).toBe('7f1ae165');
  });

  it('DateTime64(3) from `YYYY-MM-DD hh:mm:ss.mmm` (UTC): Int64 milliseconds', () => {
    expect(hex('DateTime64(3)', '2024-01-01 00:00:00.123')).toBe('7bf451c28c010000');
    expect(hex('DateTime64(3)', '2024-01-01 00:00:00')).toBe('00f451c28c010000');
    expect(hex('DateTime64(3)', '1970-01-01 00:00:00.001')).toBe('0100000000000000');
    expect(hex('DateTime64(3)', '1969-12-31 23:59:59.999')).toBe('ffffffffffffffff');
  });

  it('Array(Float64) from an array or a Float64Array; empty arrays', () => {
    expect(hex('Array(Float64)', [])).toBe('00');
    expect(hex('Array(Float64)', [1, -2.5])).toBe('02000000000000f03f00000000000004c0');
    expect(hex('Array(Float64)', Float64Array.from([0.5, 0.1]))).toBe('02000000000000e03f9a9999999999b93f');
    expect(hex('Array(Float64)', new Float64Array(0))).toBe('00');
  });

  it('Array(String): count, then each string with its length', () => {
    expect(hex('Array(String)', [])).toBe('00');
    expect(hex('Array(String)', ['a', 'bc', ''])).toBe('030161026263' + '00');
    expect(hex('Array(String)', ['€'])).toBe('0103e282ac');
  });

  it('writes the columns of a row in the order of the format, rows one after another', () => {
    const format: RowBinaryFormat<{ a: number; b: string; c: readonly number[] }> = {
      columns: [
        { name: 'b', type: 'String', value: (r) => r.b },
        { name: 'a', type: 'UInt8', value: (r) => r.a },
        { name: 'c', type: 'Array(Float64)', value: (r) => r.c },
      ],
    };
    const rows = [
      { a: 1, b: 'x', c: [] },
      { a: 2, b: '', c: [1] },
    ];
    expect(encodeRowBinary(rows, format).toString('hex')).toBe(
      '017801' + '00' + '00' + '02' + '01000000000000f03f',
    );
    expect(insertColumns(format as RowBinaryFormat<unknown>)).toBe('b, a, c');
    expect(encodeRowBinary([], format).length).toBe(0);
  });
});

describe('encodeRowBinary: buffer growth past the first 64 KiB', () => {
  it('many small rows', () => {
    const n = 10_000; // 12 bytes a row: 120 000 bytes
    const rows = Array.from({ length: n }, (_, i) => ({ id: i, x: i / 3 }));
    const buf = encodeRowBinary(rows, {
      columns: [
        { name: 'id', type: 'UInt32', value: (r) => r.id },
        { name: 'x', type: 'Float64', value: (r) => r.x },
      ],
    });
    expect(buf.length).toBe(12 * n);
    for (const i of [0, 5461, 5462, n - 1]) {
      expect(buf.readUInt32LE(12 * i)).toBe(i);
      expect(buf.readDoubleLE(12 * i + 4)).toBe(i / 3);
    }
  });

  it('one value larger than twice the buffer, after a few bytes, and values after it', () => {
    const big = 'é'.repeat(150_000); // 300 000 bytes
    const rows = [{ v: 'ab' }, { v: big }, { v: 'cd' }];
    const buf = encodeRowBinary(rows, one('String'));
    const len = leb(300_000).length / 2;
    expect(buf.length).toBe(3 + len + 300_000 + 3);
    expect(buf.subarray(0, 3).toString('hex')).toBe('026162');
    expect(buf.subarray(3, 3 + len).toString('hex')).toBe(leb(300_000));
    expect(buf.subarray(3 + len, 3 + len + 300_000).toString('utf8')).toBe(big);
    expect(buf.subarray(-3).toString('hex')).toBe('026364');
  });

  it('a Float64 array larger than the buffer', () => {
    const a = Float64Array.from({ length: 20_000 }, (_, i) => i - 0.5);
    const buf = encodeRowBinary([{ v: a }], one('Array(Float64)'));
    expect(buf.length).toBe(3 + 8 * a.length);
    expect(buf.subarray(0, 3).toString('hex')).toBe(leb(a.length));
    expect(buf.readDoubleLE(3 + 8 * (a.length - 1))).toBe(a.length - 1.5);
  });
});

describe('encodeRowBinary: errors', () => {
  it('a TypeError naming the column for a value of the wrong type', () => {
    const wrong: [RowBinaryType, unknown][] = [
      ['String', 42],
      ['String', undefined],
      ['DateTime', 1_700_000_000],
      ['DateTime64(3)', new Date(0)],
    ];
    for (const [type, v] of wrong) {
      expect(() => encodeRowBinary([{ v }], one(type, 'col_x')), `${type} ${String(v)}`).toThrow(TypeError);
      expect(() => encodeRowBinary([{ v }], one(type, 'col_x'))).toThrow(/col_x/);
    }
  });

  it('a RangeError for an instant it cannot parse', () => {
    for (const type of ['DateTime', 'DateTime64(3)'] as const) {
      for (const v of [
        '',
        'not a date',
        '2024-13-01 00:00:00',
        '2024-01-01T00:00:00Z',
        '2024-1-1 00:00:00',
      ]) {
        expect(() => encodeRowBinary([{ v }], one(type)), `${type} ${v}`).toThrow(RangeError);
        expect(() => encodeRowBinary([{ v }], one(type))).toThrow(/not a ClickHouse instant/);
      }
    }
  });

  it('a RangeError for a number out of its column’s range', () => {
    expect(() => hex('UInt8', 256)).toThrow(RangeError);
    expect(() => hex('UInt32', -1)).toThrow(RangeError);
    expect(() => hex('Int64', '9223372036854775808')).toThrow(RangeError);
    expect(() => hex('DateTime', '1969-12-31 23:59:59')).toThrow(RangeError);
  });
});

/**
 * Bugs: the encoder checks the type of String and instant values only. A missing field (a row shape that
 * lost a column, a renamed property) or a value of the wrong type is written as 0, NaN or a string's
 * characters, and the server stores it without complaint.
 */
describe('encodeRowBinary: wrong values must not be written silently (bug)', () => {
  it('a TypeError naming the column for a missing or mistyped number or array', () => {
    const cases: [RowBinaryType, unknown][] = [
      ['UInt8', undefined], // written as 00
      ['UInt32', undefined], // written as 00000000
      ['UInt32', '7'], // written as 7
      ['Int32', null], // written as 0
      ['Float32', undefined], // written as NaN
      ['Float64', 'abc'], // written as NaN
      ['Array(Float64)', 5], // written as an empty array
      ['Array(Float64)', 'abc'], // written as [NaN, NaN, NaN]
      ['Array(String)', 'abc'], // written as ['a', 'b', 'c']
      ['Int64', ''], // written as 0
    ];
    const silent: string[] = [];
    for (const [type, v] of cases) {
      try {
        const bytes = hex(type, v);
        silent.push(`${type} ${JSON.stringify(v)} → ${bytes}`);
      } catch (err) {
        if (!(err instanceof TypeError) || !/\bx\b/.test(err.message)) {
          silent.push(`${type} ${JSON.stringify(v)} → ${String(err)}`);
        }
      }
    }
    expect(silent).toEqual([]);
  });

  it('ClickHouseConnection.insert: an encoding error is a programmer error, not "ClickHouse unreachable"', async () => {
    // No request is made: the rows are encoded first. A retryable error here makes the batch writer retry
    // the same rows forever with the consumer paused (src/sink/batch-writer.ts, withRetry).
    const ch = createClickHouse({ url: 'http://127.0.0.1:9', username: 'u', password: '', database: 'd' });
    try {
      const err = await ch.insert('t', [{ v: 1 }], one('String')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { retryable?: unknown }).retryable).not.toBe(true);
    } finally {
      await ch.close();
    }
  });
});

// ---- Round trip -------------------------------------------------------------------------------------

/** Column types of `table` as migrations.ts creates them for `caps`, in the encoder's vocabulary. */
function ddlColumns(table: string, caps: ServerCapabilities): Map<string, string> {
  const cols = new Map<string, string>();
  const normalize = (t: string) =>
    t
      .replace(/^LowCardinality\((.*)\)$/, '$1')
      .replace(/^DateTime\('UTC'\)$/, 'DateTime')
      .replace(/^DateTime64\(3, 'UTC'\)$/, 'DateTime64(3)');
  for (const m of MIGRATIONS) {
    for (const a of m.columns?.('pdm', caps) ?? []) {
      if (a.table === table) cols.set(a.name, normalize(a.definition.replace(/ DEFAULT .*$/, '')));
    }
    for (const sql of m.statements('pdm', caps)) {
      const create = /^CREATE TABLE IF NOT EXISTS \S+\.(\w+) \(\n([\s\S]*?)\n\) ENGINE/.exec(sql);
      if (create?.[1] !== table) continue;
      for (const line of (create[2] ?? '').split('\n')) {
        const c = /^\s*(\w+) (.+?),?$/.exec(line);
        if (c?.[1] !== undefined && c[2] !== undefined) cols.set(c[1], normalize(c[2]));
      }
    }
  }
  return cols;
}

/** A RowBinary reader written from the format's description, independent of the encoder. */
function decode(buf: Buffer, columns: readonly (readonly [string, string])[]): Record<string, unknown>[] {
  let pos = 0;
  const take = (n: number) => {
    if (pos + n > buf.length) throw new Error(`RowBinary ends at ${buf.length}, wanted ${n} bytes at ${pos}`);
    const at = pos;
    pos += n;
    return at;
  };
  const varUInt = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[take(1)] ?? 0;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  const string = () => {
    const n = varUInt();
    const at = take(n);
    const bytes = buf.subarray(at, at + n);
    const s = bytes.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(bytes)) throw new Error(`invalid UTF-8 at ${at}`);
    return s;
  };
  const read = (type: string): unknown => {
    switch (type) {
      case 'UInt8':
        return buf.readUInt8(take(1));
      case 'UInt32':
        return buf.readUInt32LE(take(4));
      case 'Int32':
        return buf.readInt32LE(take(4));
      case 'Int64':
        return buf.readBigInt64LE(take(8)).toString();
      case 'Float32':
        return buf.readFloatLE(take(4));
      case 'Float64':
        return buf.readDoubleLE(take(8));
      case 'String':
        return string();
      case 'DateTime':
        return formatDateTime(buf.readUInt32LE(take(4)) * 1000);
      case 'DateTime64(3)':
        return new Date(Number(buf.readBigInt64LE(take(8)))).toISOString().slice(0, 23).replace('T', ' ');
      case 'Array(Float64)':
        return Array.from({ length: varUInt() }, () => read('Float64'));
      case 'Array(String)':
        return Array.from({ length: varUInt() }, () => read('String'));
      default:
        throw new Error(`no decoder for ${type}`);
    }
  };
  const rows: Record<string, unknown>[] = [];
  while (pos < buf.length) rows.push(Object.fromEntries(columns.map(([name, type]) => [name, read(type)])));
  return rows;
}

/** What a row reads back as: Float32 columns at float32 precision, arrays as plain arrays. */
function expected(row: object, columns: readonly (readonly [string, string])[]): Record<string, unknown> {
  const r = row as Record<string, unknown>;
  return Object.fromEntries(
    columns.map(([name, type]) => {
      const v = r[name];
      if (type === 'Float32') return [name, Math.fround(v as number)];
      if (type.startsWith('Array(')) return [name, Array.from(v as ArrayLike<unknown>)];
      return [name, v];
    }),
  );
}

const TEXTS = ['', 'none', 'comp1', 'pdm.telemetry', 'ünïcödé €😀', 'x'.repeat(200), '漢'.repeat(6000)];
const FLOATS = [0, -0, 1, 1e-45, Number.MIN_VALUE, Number.MAX_VALUE, 3.4e38, 1e39, Number.NaN, -Infinity];

function generator(seed: number, caps: ServerCapabilities) {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const float = () => (rnd() < 0.2 ? pick(FLOATS) : (rnd() - 0.5) * 10 ** int(-10, 10));
  // DateTime spans 1970..2106; DateTime64(3) is written for any ms, kept in the same span here.
  const maxMs = caps.modernTypes ? 4_102_444_800_000 : 4_294_967_295_000;
  const instant = () => formatInstant(int(0, maxMs), caps);
  const bucket = () => formatDateTime(int(0, 4_294_967_295) * 1000);
  const offset = () =>
    pick(['0', '-1', '9007199254740993', '9223372036854775807', '-9223372036854775808', String(int(0, 1e9))]);
  const prediction = (): PredictionRow => ({
    machine_id: pick([0, 1, 4294967295, int(0, 4294967295)]),
    bucket_ts: bucket(),
    p_none: float(),
    p_comp1: rnd(),
    p_comp2: rnd(),
    p_comp3: float(),
    p_comp4: rnd(),
    predicted_class: pick(TEXTS),
    predicted_index: int(0, 255),
    alert: int(0, 1),
    alert_class: pick(TEXTS),
    alert_components: Array.from({ length: int(0, 4) }, () => pick(TEXTS)),
    warming_up: int(0, 1),
    model_version: pick(TEXTS),
    spec_hash: pick(TEXTS),
    scored_at: instant(),
    source_topic: pick(TEXTS),
    source_partition: pick([0, -1, 2147483647, -2147483648, int(0, 1000)]),
    source_offset: offset(),
    engine_version: pick(TEXTS),
  });
  const featureVector = (): FeatureVectorRow => ({
    machine_id: int(0, 4294967295),
    bucket_ts: bucket(),
    spec_hash: pick(TEXTS),
    feature_set: pick(TEXTS),
    // The engine passes Array.from(Float64Array); a Float64Array itself encodes the same.
    features: pick([
      () => [],
      () => Array.from({ length: FEATURE_COUNT }, float),
      () => Float64Array.from({ length: int(1, 200) }, float) as unknown as number[],
    ])(),
    model_version: pick(TEXTS),
    scored_at: instant(),
    engine_version: pick(TEXTS),
  });
  return { prediction, featureVector };
}

describe.each([
  ['current servers (modernTypes)', MODERN_CAPS],
  ['18.x (no modernTypes)', LEGACY_CAPS],
])('round trip of the hot tables, %s', (_name, caps) => {
  const tables = [
    ['predictions', predictionsFormat(caps), (g: ReturnType<typeof generator>) => g.prediction()],
    ['feature_vectors', featureVectorsFormat(caps), (g: ReturnType<typeof generator>) => g.featureVector()],
  ] as const;

  it.each(tables)('%s: the format writes every column of the DDL, with its type', (table, format) => {
    const ddl = ddlColumns(table, caps);
    expect(ddl.size).toBeGreaterThan(5);
    const written = new Map(format.columns.map((c) => [c.name, c.type as string]));
    expect(written.size).toBe(format.columns.length); // no column twice
    expect(Object.fromEntries(written)).toEqual(Object.fromEntries(ddl));
  });

  it.each(tables)('%s: generated rows read back field by field, as the DDL types', (table, format, make) => {
    const g = generator(table.length * 7919 + (caps.modernTypes ? 1 : 2), caps);
    const rows = Array.from({ length: 300 }, () => make(g));
    // Decoded in the DDL's types, in the order the format names its columns (as the INSERT does).
    const ddl = ddlColumns(table, caps);
    const columns = format.columns.map((c) => [c.name, ddl.get(c.name) ?? `not in ${table}`] as const);
    const buf = encodeRowBinary<object>(rows, format as RowBinaryFormat<object>);
    expect(buf.length).toBeGreaterThan(1 << 16); // grew at least once
    const back = decode(buf, columns);
    expect(back.length).toBe(rows.length);
    for (const [i, row] of rows.entries()) expect(back[i], `row ${i}`).toEqual(expected(row, columns));
  });
});

it('instants: more distinct values in one call than the parse cache holds', () => {
  const base = Date.UTC(2030, 0, 1);
  const rows = Array.from({ length: 12_000 }, (_, i) => ({ v: formatInstant(base + i * 1001, MODERN_CAPS) }));
  for (const type of ['DateTime64(3)', 'DateTime'] as const) {
    const back = decode(encodeRowBinary(rows, one(type)), [['v', type]]);
    const want = type === 'DateTime' ? rows.map((r) => ({ v: r.v.slice(0, 19) })) : rows;
    expect(back).toEqual(want);
  }
});
