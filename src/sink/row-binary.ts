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
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;
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
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.varUInt(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

/** `YYYY-MM-DD hh:mm:ss[.mmm]` (UTC, as tables.ts formats them) → epoch ms. */
function parseInstant(s: string): number {
  const ms = Date.parse(`${s.replace(' ', 'T')}Z`);
  if (!Number.isFinite(ms)) throw new RangeError(`not a ClickHouse instant: ${JSON.stringify(s)}`);
  return ms;
}

/** Parses each distinct instant once: a write group repeats the same few (scored_at, bucket_ts). */
function instantCache(): (s: string) => number {
  const cache = new Map<string, number>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) {
      if (cache.size > 10_000) cache.clear();
      v = parseInstant(s);
      cache.set(s, v);
    }
    return v;
  };
}

const NUMERIC: ReadonlySet<RowBinaryType> = new Set(['UInt8', 'UInt32', 'Int32', 'Float32', 'Float64']);

function typeError(c: { name: string; type: string }, v: unknown): TypeError {
  return new TypeError(`RowBinary column ${c.name} ${c.type}: cannot encode ${typeof v} ${String(v)}`);
}

export function encodeRowBinary<R>(rows: readonly R[], format: RowBinaryFormat<R>): Buffer {
  const out = new Out();
  const instant = instantCache();
  for (const row of rows) {
    for (const c of format.columns) {
      const v = c.value(row);
      // Types are checked like the server would: a missing or renamed field must fail, not store 0 or NaN.
      if (NUMERIC.has(c.type) && typeof v !== 'number') throw typeError(c, v);
      switch (c.type) {
        case 'UInt8':
          out.ensure(1);
          out.buf.writeUInt8(v as number, out.pos);
          out.pos += 1;
          break;
        case 'UInt32':
          out.ensure(4);
          out.buf.writeUInt32LE(v as number, out.pos);
          out.pos += 4;
          break;
        case 'Int32':
          out.ensure(4);
          out.buf.writeInt32LE(v as number, out.pos);
          out.pos += 4;
          break;
        case 'Int64':
          if (
            typeof v !== 'bigint' &&
            !(typeof v === 'string' && /^-?\d+$/.test(v)) &&
            !Number.isSafeInteger(v)
          )
            throw typeError(c, v);
          out.ensure(8);
          out.buf.writeBigInt64LE(typeof v === 'bigint' ? v : BigInt(v as string | number), out.pos);
          out.pos += 8;
          break;
        case 'Float32':
          out.ensure(4);
          out.buf.writeFloatLE(v as number, out.pos);
          out.pos += 4;
          break;
        case 'Float64':
          out.ensure(8);
          out.buf.writeDoubleLE(v as number, out.pos);
          out.pos += 8;
          break;
        case 'String':
          if (typeof v !== 'string') throw typeError(c, v);
          out.string(v);
          break;
        case 'DateTime':
          if (typeof v !== 'string') throw typeError(c, v);
          out.ensure(4);
          out.buf.writeUInt32LE(Math.floor(instant(v) / 1000), out.pos);
          out.pos += 4;
          break;
        case 'DateTime64(3)':
          if (typeof v !== 'string') throw typeError(c, v);
          out.ensure(8);
          out.buf.writeBigInt64LE(BigInt(instant(v)), out.pos);
          out.pos += 8;
          break;
        case 'Array(Float64)': {
          if (!Array.isArray(v) && !(v instanceof Float64Array || v instanceof Float32Array))
            throw typeError(c, v);
          const a = v as ArrayLike<number>;
          out.varUInt(a.length);
          out.ensure(8 * a.length);
          for (let i = 0; i < a.length; i++) {
            out.buf.writeDoubleLE(a[i] as number, out.pos);
            out.pos += 8;
          }
          break;
        }
        case 'Array(String)': {
          if (!Array.isArray(v)) throw typeError(c, v);
          const a = v as readonly unknown[];
          out.varUInt(a.length);
          for (const s of a) {
            if (typeof s !== 'string') throw typeError(c, s);
            out.string(s);
          }
          break;
        }
      }
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
