/**
 * RowBinary encoding of the engine's hot tables (predictions, feature_vectors).
 *
 * JSONEachRow made the engine format every probability and all 38 features of every scored row as decimal
 * text (the largest CPU cost of writing, and as much garbage again); RowBinary writes them as the IEEE
 * floats ClickHouse stores. The format is the same on 18.16 and current servers; LowCardinality(String)
 * columns take plain strings, DateTime takes UInt32 seconds and DateTime64(3) Int64 milliseconds. Columns
 * are named in the INSERT, so their order in the table does not matter.
 */
import type { FeatureVectorRow, ModernTypes, PredictionRow, RiskAlertRow } from './tables.js';

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
  /** The column's value in a row: a function of its own per column, `(r) => r.machine_id` (see columnsOf). */
  readonly value: (row: R) => unknown;
}

/** How a writer sends its rows: the columns, in the order they are encoded. */
export interface RowBinaryFormat<R> {
  readonly columns: readonly RowBinaryColumn<R>[];
}

/** A column's last value before its first row: equal to no value a row can hold. */
const NONE: unique symbol = Symbol('none');

class Out {
  buf: Buffer;
  /** Over `buf`: a number is one store of its size and byte order, monomorphic at each writer's site. */
  view: DataView;
  pos = 0;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }
  /** Out of line: `ensure` stays small enough to be inlined into every writer. */
  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
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
    const n = b.length;
    this.ensure(n);
    const { buf, pos } = this;
    // Up to 8 bytes (a class name, a model version), copying one by one costs less than calling `set`.
    if (n <= 8) for (let i = 0; i < n; i++) buf[pos + i] = b[i] as number;
    else buf.set(b, pos);
    this.pos = pos + n;
  }
  /** UInt32, with Buffer's own handling of what does not fit (NaN written as 0, a RangeError otherwise). */
  uint32(v: number): void {
    this.ensure(4);
    if (v >= 0 && v <= 0xffffffff) {
      this.view.setUint32(this.pos, v, true);
      this.pos += 4;
    } else this.pos = this.buf.writeUInt32LE(v, this.pos);
  }
  /** Int64 of a safe integer, as two 32-bit halves: no BigInt. */
  int64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 0x1_0000_0000);
    this.view.setUint32(this.pos, v - hi * 0x1_0000_0000, true);
    this.view.setInt32(this.pos + 4, hi, true);
    this.pos += 8;
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
 * repeats the same few instants and class names, in other orders than a column's last value catches.
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

const INT64_TEXT = /^-?\d+$/;

/**
 * The value of decimal text of at most 15 digits (exact as a double), NaN for any other text: Kafka offsets
 * without a regular expression or a BigInt. NaN sends the text the long way, where it is checked.
 */
function shortDecimal(s: string): number {
  const start = s.charCodeAt(0) === 0x2d ? 1 : 0;
  if (s.length === start || s.length - start > 15) return Number.NaN;
  let n = 0;
  for (let i = start; i < s.length; i++) {
    const digit = s.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    n = n * 10 + digit;
  }
  return start === 1 ? -n : n;
}

function typeError(c: { name: string; type: string }, v: unknown): TypeError {
  return new TypeError(`RowBinary column ${c.name} ${c.type}: cannot encode ${typeof v} ${String(v)}`);
}

/** Writes one value of a column. */
type Write = (out: Out, v: unknown) => void;

/** The memos one `encodeRowBinary` call shares between its columns. */
interface Memos {
  readonly instant: (s: string) => number;
  readonly string: (s: string) => Buffer;
}

/**
 * What `compute` gives for a string column's value, remembered for the column's last value before the
 * call's memo is asked: a write group repeats the same model version, spec hash, topic and `scored_at` row
 * after row. Anything but a string fails as the server would.
 */
function lastValue<T>(c: RowBinaryColumn<unknown>, compute: (s: string) => T): (v: unknown) => T {
  let last: unknown = NONE;
  let value: T | undefined;
  return (v) => {
    if (v !== last) {
      if (typeof v !== 'string') throw typeError(c, v);
      value = compute(v);
      last = v;
    }
    return value as T;
  };
}

/**
 * The writer of one column's type.
 *
 * One function literal per type, each calling its own Buffer or DataView method: a shared writer taking
 * the method by name made every call site see every number type. Types are checked like the server would:
 * a missing or renamed field must fail, not store 0 or NaN. A number out of its column's range goes to
 * Buffer's own method, which throws its RangeError. String and instant columns remember their last value:
 * a write group repeats the same model version, spec hash, topic and `scored_at` row after row.
 */
function columnWriter(c: RowBinaryColumn<unknown>, memo: Memos): Write {
  switch (c.type) {
    case 'UInt8':
      return (out, v) => {
        if (typeof v !== 'number') throw typeError(c, v);
        out.ensure(1);
        if (v >= 0 && v <= 0xff) out.buf[out.pos++] = v;
        else out.pos = out.buf.writeUInt8(v, out.pos);
      };
    case 'UInt32':
      return (out, v) => {
        if (typeof v !== 'number') throw typeError(c, v);
        out.uint32(v);
      };
    case 'Int32':
      return (out, v) => {
        if (typeof v !== 'number') throw typeError(c, v);
        out.ensure(4);
        if (v >= -0x8000_0000 && v <= 0x7fff_ffff) {
          out.view.setInt32(out.pos, v, true);
          out.pos += 4;
        } else out.pos = out.buf.writeInt32LE(v, out.pos);
      };
    case 'Float32':
      return (out, v) => {
        if (typeof v !== 'number') throw typeError(c, v);
        out.ensure(4);
        out.view.setFloat32(out.pos, v, true);
        out.pos += 4;
      };
    case 'Float64':
      return (out, v) => {
        if (typeof v !== 'number') throw typeError(c, v);
        out.ensure(8);
        out.view.setFloat64(out.pos, v, true);
        out.pos += 8;
      };
    case 'Int64':
      return (out, v) => {
        // Offsets arrive as decimal text (one per batch, repeated by its rows): parsed by hand; beyond 15
        // digits, BigInt.
        const n = typeof v === 'string' ? shortDecimal(v) : Number.NaN;
        if (!Number.isNaN(n)) out.int64(n);
        else if (typeof v === 'number' && Number.isSafeInteger(v)) out.int64(v);
        else if (typeof v === 'bigint' || (typeof v === 'string' && INT64_TEXT.test(v))) {
          out.ensure(8);
          out.pos = out.buf.writeBigInt64LE(BigInt(v), out.pos);
        } else throw typeError(c, v);
      };
    case 'String': {
      const bytes = lastValue(c, memo.string);
      return (out, v) => {
        out.bytes(bytes(v));
      };
    }
    case 'DateTime': {
      const seconds = lastValue(c, (s) => Math.floor(memo.instant(s) / 1000));
      return (out, v) => {
        out.uint32(seconds(v));
      };
    }
    case 'DateTime64(3)': {
      // A whole number of ms, within ±8.64e15: a safe integer.
      const ms = lastValue(c, memo.instant);
      return (out, v) => {
        out.int64(ms(v));
      };
    }
    case 'Array(Float64)':
      return (out, v) => {
        if (v instanceof Float64Array) {
          // A feature row's own array, element by element: a byte view of it would be an allocation per row.
          // Loads and DataView stores keep every bit, NaN payloads included.
          const n = v.length;
          out.varUInt(n);
          out.ensure(8 * n);
          const view = out.view;
          let pos = out.pos;
          for (let i = 0; i < n; i++, pos += 8) view.setFloat64(pos, v[i] as number, true);
          out.pos = pos;
          return;
        }
        if (!Array.isArray(v) && !(v instanceof Float32Array)) throw typeError(c, v);
        const a = v as ArrayLike<number>;
        const n = a.length;
        out.varUInt(n);
        out.ensure(8 * n);
        const view = out.view;
        let pos = out.pos;
        // An element that is not a number is converted as writeDoubleLE did (`+`): unchecked, as before.
        for (let i = 0; i < n; i++, pos += 8) view.setFloat64(pos, a[i] as number, true);
        out.pos = pos;
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

/**
 * Column maker for rows of `R`: `c('machine_id', 'UInt32', (r) => r.machine_id)`. The hot formats below
 * write each accessor out: one `(r) => r[name]` shared by every column made its one property load see
 * every name (megamorphic, the costliest step of encoding a row). `value` must return the type of field
 * `name`; the unit tests check that each reads its own field.
 */
function columnsOf<R>() {
  return <K extends keyof R & string>(
    name: K,
    type: RowBinaryType,
    value: (row: R) => R[K],
  ): RowBinaryColumn<R> => ({ name, type, value });
}

const instantType = (caps: ModernTypes): RowBinaryType => (caps.modernTypes ? 'DateTime64(3)' : 'DateTime');

/** `predictions` as migrations 1 and 6 create it. */
export function predictionsFormat(caps: ModernTypes): RowBinaryFormat<PredictionRow> {
  const c = columnsOf<PredictionRow>();
  return {
    columns: [
      c('machine_id', 'UInt32', (r) => r.machine_id),
      c('bucket_ts', 'DateTime', (r) => r.bucket_ts),
      c('p_none', 'Float32', (r) => r.p_none),
      c('p_comp1', 'Float32', (r) => r.p_comp1),
      c('p_comp2', 'Float32', (r) => r.p_comp2),
      c('p_comp3', 'Float32', (r) => r.p_comp3),
      c('p_comp4', 'Float32', (r) => r.p_comp4),
      c('predicted_class', 'String', (r) => r.predicted_class),
      c('predicted_index', 'UInt8', (r) => r.predicted_index),
      c('alert', 'UInt8', (r) => r.alert),
      c('alert_class', 'String', (r) => r.alert_class),
      c('alert_components', 'Array(String)', (r) => r.alert_components),
      c('warming_up', 'UInt8', (r) => r.warming_up),
      c('model_version', 'String', (r) => r.model_version),
      c('spec_hash', 'String', (r) => r.spec_hash),
      c('scored_at', instantType(caps), (r) => r.scored_at),
      c('source_topic', 'String', (r) => r.source_topic),
      c('source_partition', 'Int32', (r) => r.source_partition),
      c('source_offset', 'Int64', (r) => r.source_offset),
      c('engine_version', 'String', (r) => r.engine_version),
    ],
  };
}

/** `feature_vectors` as migration 2 creates it. */
export function featureVectorsFormat(caps: ModernTypes): RowBinaryFormat<FeatureVectorRow> {
  const c = columnsOf<FeatureVectorRow>();
  return {
    columns: [
      c('machine_id', 'UInt32', (r) => r.machine_id),
      c('bucket_ts', 'DateTime', (r) => r.bucket_ts),
      c('spec_hash', 'String', (r) => r.spec_hash),
      c('feature_set', 'String', (r) => r.feature_set),
      c('features', 'Array(Float64)', (r) => r.features),
      c('model_version', 'String', (r) => r.model_version),
      c('scored_at', instantType(caps), (r) => r.scored_at),
      c('engine_version', 'String', (r) => r.engine_version),
    ],
  };
}

/** `risk_alerts` as migration 7 creates it: a backlog writes thousands of transitions (JSON cost more). */
export function riskAlertsFormat(caps: ModernTypes): RowBinaryFormat<RiskAlertRow> {
  const c = columnsOf<RiskAlertRow>();
  return {
    columns: [
      c('alert_id', 'String', (r) => r.alert_id),
      c('machine_id', 'UInt32', (r) => r.machine_id),
      c('component', 'String', (r) => r.component),
      c('state', 'String', (r) => r.state),
      c('bucket_ts', 'DateTime', (r) => r.bucket_ts),
      c('fired_bucket_ts', 'DateTime', (r) => r.fired_bucket_ts),
      c('probability', 'Float64', (r) => r.probability),
      c('threshold', 'Float64', (r) => r.threshold),
      c('clear_threshold', 'Float64', (r) => r.clear_threshold),
      c('model_version', 'String', (r) => r.model_version),
      c('source_topic', 'String', (r) => r.source_topic),
      c('source_partition', 'Int32', (r) => r.source_partition),
      c('source_offset', 'Int64', (r) => r.source_offset),
      c('emitted_at', instantType(caps), (r) => r.emitted_at),
      c('engine_version', 'String', (r) => r.engine_version),
    ],
  };
}
