/**
 * RowBinary encoding of the engine's hot tables (predictions, feature_vectors).
 *
 * JSONEachRow made the engine format every probability and all 38 features of every scored row as decimal
 * text (the largest CPU cost of writing, and as much garbage again); RowBinary writes them as the IEEE
 * floats ClickHouse stores. The format is the same on 18.16 and current servers; LowCardinality(String)
 * columns take plain strings, DateTime takes UInt32 seconds and DateTime64(3) Int64 milliseconds. Columns
 * are named in the INSERT, so their order in the table does not matter.
 */
import type { FeatureVectorRow, ModernTypes, PredictionRow } from './tables.js';

export type RowBinaryType =
  | 'UInt8'
  | 'UInt32'
  | 'Int32'
  | 'Int64'
  | 'Float32'
  | 'Float64'
  | 'String'
  | 'DateTime'
  | 'DateTime64(3)'
  | 'Array(Float64)'
  | 'Array(String)';

export interface RowBinaryColumn<R> {
  readonly name: string;
  readonly type: RowBinaryType;
  readonly value: (row: R) => unknown;
}

/** How a writer sends its rows: the columns, in the order they are encoded. */
export interface RowBinaryFormat<R> {
  readonly columns: readonly RowBinaryColumn<R>[];
}

class Out {
  buf: Buffer;
  pos = 0;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varUInt(v: number): void {
    this.ensure(10);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 128);
    }
    this.buf[this.pos++] = x;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** `YYYY-MM-DD hh:mm:ss[.mmm]` (UTC, as tables.ts formats them) → epoch ms. */
function parseInstant(s: string): number {
  const ms = Date.parse(`${s.replace(' ', 'T')}Z`);
  if (!Number.isFinite(ms)) throw new RangeError(`not a ClickHouse instant: ${JSON.stringify(s)}`);
  return ms;
}

/**
 * Remembers what was computed for a string, up to `limit` strings (then starts over): a write group
 * repeats the same few instants, model versions, topics and offsets row after row.
 */
function stringMemo<T>(compute: (s: string) => T, limit = 10_000): (s: string) => T {
  const cache = new Map<string, T>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) {
      if (cache.size >= limit) cache.clear();
      v = compute(s);
      cache.set(s, v);
    }
    return v;
  };
}

/** A string as RowBinary writes it: LEB128 byte length, then its UTF-8 bytes. */
function encodeString(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const head = new Out(10);
  head.varUInt(body.length);
  return Buffer.concat([head.buf.subarray(0, head.pos), body]);
}

/** A decimal Int64 as its 8 little-endian bytes. */
function encodeInt64(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64LE(v);
  return b;
}

const INT64_TEXT = /^-?\d+$/;
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

function typeError(c: { name: string; type: string }, v: unknown): TypeError {
  return new TypeError(`RowBinary column ${c.name} ${c.type}: cannot encode ${typeof v} ${String(v)}`);
}

/** Writes one value of a column. */
type Write = (out: Out, v: unknown) => void;

/** The memos one `encodeRowBinary` call shares between its columns. */
interface Memos {
  readonly instant: (s: string) => number;
  readonly string: (s: string) => Buffer;
  readonly int64: (s: string) => Buffer;
}

/** Byte size and Buffer method of each fixed-size number type. */
const NUMBER_TYPES = {
  UInt8: [1, 'writeUInt8'],
  UInt32: [4, 'writeUInt32LE'],
  Int32: [4, 'writeInt32LE'],
  Float32: [4, 'writeFloatLE'],
  Float64: [8, 'writeDoubleLE'],
} as const satisfies Partial<Record<RowBinaryType, readonly [number, keyof Buffer]>>;

function numberWriter(c: RowBinaryColumn<unknown>, type: keyof typeof NUMBER_TYPES): Write {
  const [size, method] = NUMBER_TYPES[type];
  return (out, v) => {
    // Types are checked like the server would: a missing or renamed field must fail, not store 0 or NaN.
    if (typeof v !== 'number') throw typeError(c, v);
    out.ensure(size);
    // Buffer's own method: range errors for a number its column cannot hold.
    out.pos = out.buf[method](v, out.pos);
  };
}

/** The writer of one column's type. */
function columnWriter(c: RowBinaryColumn<unknown>, memo: Memos): Write {
  switch (c.type) {
    case 'UInt8':
    case 'UInt32':
    case 'Int32':
    case 'Float32':
    case 'Float64':
      return numberWriter(c, c.type);
    case 'Int64':
      return (out, v) => {
        if (typeof v === 'string' && INT64_TEXT.test(v)) {
          // Offsets arrive as decimal text, the same one for every row of a batch.
          out.bytes(memo.int64(v));
          return;
        }
        if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw typeError(c, v);
        out.ensure(8);
        out.pos = out.buf.writeBigInt64LE(typeof v === 'bigint' ? v : BigInt(v as number), out.pos);
      };
    case 'String':
      return (out, v) => {
        if (typeof v !== 'string') throw typeError(c, v);
        out.bytes(memo.string(v));
      };
    case 'DateTime':
      return (out, v) => {
        if (typeof v !== 'string') throw typeError(c, v);
        out.ensure(4);
        out.pos = out.buf.writeUInt32LE(Math.floor(memo.instant(v) / 1000), out.pos);
      };
    case 'DateTime64(3)':
      return (out, v) => {
        if (typeof v !== 'string') throw typeError(c, v);
        out.ensure(8);
        out.pos = out.buf.writeBigInt64LE(BigInt(memo.instant(v)), out.pos);
      };
    case 'Array(Float64)':
      return (out, v) => {
        if (v instanceof Float64Array && LITTLE_ENDIAN) {
          // The array's own bytes are the column's (IEEE 754, little-endian here): one copy, not a write
          // per element.
          out.varUInt(v.length);
          out.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
          return;
        }
        if (!Array.isArray(v) && !(v instanceof Float64Array || v instanceof Float32Array))
          throw typeError(c, v);
        const a = v as ArrayLike<number>;
        out.varUInt(a.length);
        out.ensure(8 * a.length);
        for (let i = 0; i < a.length; i++) out.pos = out.buf.writeDoubleLE(a[i] as number, out.pos);
      };
    case 'Array(String)':
      return (out, v) => {
        if (!Array.isArray(v)) throw typeError(c, v);
        const a = v as readonly unknown[];
        out.varUInt(a.length);
        for (const s of a) {
          if (typeof s !== 'string') throw typeError(c, s);
          out.bytes(memo.string(s));
        }
      };
  }
}

export function encodeRowBinary<R>(rows: readonly R[], format: RowBinaryFormat<R>): Buffer {
  const memo: Memos = {
    instant: stringMemo(parseInstant),
    string: stringMemo(encodeString, 1_000),
    int64: stringMemo((s) => encodeInt64(BigInt(s)), 1_000),
  };
  const columns = format.columns as readonly RowBinaryColumn<unknown>[];
  const values = columns.map((c) => c.value);
  const writers = columns.map((c) => columnWriter(c, memo));
  const n = columns.length;
  let out = new Out();
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as R;
    for (let i = 0; i < n; i++) (writers[i] as Write)(out, (values[i] as (row: unknown) => unknown)(row));
    if (r === 0 && rows.length > 1) {
      // Room for all rows at the first row's size and a quarter more: no doubling and copying on the way.
      const room = new Out(Math.ceil(out.pos * rows.length * 1.25) + 1024);
      room.bytes(out.buf.subarray(0, out.pos));
      out = room;
    }
  }
  return out.buf.subarray(0, out.pos);
}

/** Column list of an INSERT in this format. */
export function insertColumns(format: RowBinaryFormat<unknown>): string {
  return format.columns.map((c) => c.name).join(', ');
}

function col<R>(name: keyof R & string, type: RowBinaryType): RowBinaryColumn<R> {
  return { name, type, value: (r: R) => r[name] };
}

const instantType = (caps: ModernTypes): RowBinaryType => (caps.modernTypes ? 'DateTime64(3)' : 'DateTime');

/** `predictions` as migrations 1 and 6 create it. */
export function predictionsFormat(caps: ModernTypes): RowBinaryFormat<PredictionRow> {
  const c = (name: keyof PredictionRow, type: RowBinaryType) => col<PredictionRow>(name, type);
  return {
    columns: [
      c('machine_id', 'UInt32'),
      c('bucket_ts', 'DateTime'),
      c('p_none', 'Float32'),
      c('p_comp1', 'Float32'),
      c('p_comp2', 'Float32'),
      c('p_comp3', 'Float32'),
      c('p_comp4', 'Float32'),
      c('predicted_class', 'String'),
      c('predicted_index', 'UInt8'),
      c('alert', 'UInt8'),
      c('alert_class', 'String'),
      c('alert_components', 'Array(String)'),
      c('warming_up', 'UInt8'),
      c('model_version', 'String'),
      c('spec_hash', 'String'),
      c('scored_at', instantType(caps)),
      c('source_topic', 'String'),
      c('source_partition', 'Int32'),
      c('source_offset', 'Int64'),
      c('engine_version', 'String'),
    ],
  };
}

/** `feature_vectors` as migration 2 creates it. */
export function featureVectorsFormat(caps: ModernTypes): RowBinaryFormat<FeatureVectorRow> {
  const c = (name: keyof FeatureVectorRow, type: RowBinaryType) => col<FeatureVectorRow>(name, type);
  return {
    columns: [
      c('machine_id', 'UInt32'),
      c('bucket_ts', 'DateTime'),
      c('spec_hash', 'String'),
      c('feature_set', 'String'),
      c('features', 'Array(Float64)'),
      c('model_version', 'String'),
      c('scored_at', instantType(caps)),
      c('engine_version', 'String'),
    ],
  };
}
