/** The one file that knows avsc. Types are built once per schema and reused for every message. */
import { createRequire } from 'node:module';
import avsc from 'avsc';

/**
 * avsc's reading cursor (`lib/utils.js`), not part of its public API. `Type.decode` allocates one cursor
 * and one `{ value, offset }` result per message; the engine decodes hundreds of thousands of messages a
 * second, so the codecs below keep one cursor and call the same internal read that `Type.decode` calls
 * (`_read` of the type or resolver). Used only on the avsc version this was written against and when
 * the internals look as expected; otherwise `Type.decode`, with the same results.
 */
interface AvscTap {
  buf: Buffer;
  pos: number;
}
/** A Type or a Resolver as avsc uses them internally: `_read` advances the cursor and returns the value. */
interface AvscReader {
  _read(tap: AvscTap): unknown;
}
const AVSC_VERSION = '5.7.9';
const NO_BYTES = Buffer.alloc(0);

function loadTap(): (new (buf: Buffer, pos: number) => AvscTap) | undefined {
  try {
    const require = createRequire(import.meta.url);
    if ((require('avsc/package.json') as { version?: string }).version !== AVSC_VERSION) return undefined;
    const { Tap } = require('avsc/lib/utils.js') as { Tap?: new (buf: Buffer, pos: number) => AvscTap };
    return typeof Tap === 'function' ? Tap : undefined;
  } catch {
    return undefined;
  }
}

const Tap = loadTap();
/** One cursor for every codec: decoding is synchronous, so no two reads ever share it at once. */
const sharedTap = Tap === undefined ? undefined : new Tap(NO_BYTES, 0);

/** Whether the codecs read with the shared cursor (true on the avsc version this was written for). */
export const avroSharedCursor = sharedTap !== undefined;

export interface AvroCodec {
  /**
   * Decodes a body written with the writer schema this codec was built for: `buf` from `start` (default 0)
   * to its end, so a framed value is decoded in place, without a view per message. Throws on
   * truncated/invalid bytes.
   */
  decode(buf: Buffer, start?: number): unknown;
  encode(value: unknown): Buffer;
}

function forSchema(schema: object | string): avsc.Type {
  // No logical types registered: `timestamp-millis` longs stay epoch-millisecond numbers, as the spec wants.
  return avsc.Type.forSchema(
    typeof schema === 'string' ? (JSON.parse(schema) as avsc.Schema) : (schema as avsc.Schema),
  );
}

/** A codec reading `writerSchema` data into `readerSchema` shape; throws when the two cannot be resolved. */
export function createResolvingCodec(readerSchema: object, writerSchema: object | string): AvroCodec {
  const reader = forSchema(readerSchema);
  const writer = forSchema(writerSchema);
  if (reader.equals(writer)) return plainCodec(reader);
  const resolver = reader.createResolver(writer);
  const fast = fastReader(resolver);
  return {
    decode(buf, start = 0) {
      return checkedDecode(reader, fast, buf, start, resolver);
    },
    encode(value) {
      return reader.toBuffer(value);
    },
  };
}

export function createCodec(schema: object | string): AvroCodec {
  return plainCodec(forSchema(schema));
}

function plainCodec(type: avsc.Type): AvroCodec {
  const fast = fastReader(type);
  return {
    decode(buf, start = 0) {
      return checkedDecode(type, fast, buf, start);
    },
    encode(value) {
      return type.toBuffer(value);
    },
  };
}

/** What reads with the shared cursor (the resolver, or the type itself), if the internals are there. */
function fastReader(x: avsc.Type | avsc.Resolver): AvscReader | undefined {
  return sharedTap !== undefined && typeof (x as Partial<AvscReader>)._read === 'function'
    ? (x as AvscReader)
    : undefined;
}

function checkedDecode(
  type: avsc.Type,
  fast: AvscReader | undefined,
  buf: Buffer,
  start: number,
  resolver?: avsc.Resolver,
): unknown {
  // How far the read went: a short body is truncated, trailing bytes mean a wrong schema.
  // avsc reads values as `any`; the caller validates the shape (validate.ts).
  let value: unknown;
  let offset: number;
  if (fast !== undefined && sharedTap !== undefined) {
    sharedTap.buf = buf;
    sharedTap.pos = start;
    try {
      value = fast._read(sharedTap);
      offset = sharedTap.pos <= buf.length ? sharedTap.pos : -1;
    } finally {
      // Not holding on to the message's bytes between reads.
      sharedTap.buf = NO_BYTES;
    }
  } else {
    const result: { value: unknown; offset: number } = type.decode(buf, start, resolver);
    ({ value, offset } = result);
  }
  if (offset < 0) throw new Error(`truncated Avro body (${buf.length - start} bytes)`);
  if (offset !== buf.length) throw new Error(`Avro body has ${buf.length - offset} trailing bytes`);
  return value;
}

/** Reads one record of numeric fields into row `row` of one column per field. */
export interface ColumnReader {
  /** The record's fields in the order of the columns `read` takes. */
  readonly fields: readonly string[];
  /**
   * Reads the body `buf[start, end)` into `columns[i][row]` for field i. False when the bytes are
   * anything but a plain, complete body (truncated, trailing bytes, a varint longer than 7 bytes): the
   * caller then decodes them with the record's codec, which fails or reads them exactly as avsc does.
   */
  read(buf: Buffer, start: number, end: number, columns: readonly Float64Array[], row: number): boolean;
}

type FieldRead = 'varint' | 'double' | 'float';

/**
 * A reader straight into columns for data written with the reader's own schema (the common case: producers
 * on the project's schema), when every field is an Avro `int`, `long`, `float` or `double` named in
 * `columns`. No object per record. Undefined otherwise: the caller decodes with the codec.
 *
 * Reads the same values as avsc: zigzag varints of up to 7 bytes exactly (avsc's float arithmetic is exact
 * there, and a `long` that wide is always safe), floats and doubles little-endian.
 */
export function createColumnReader(
  readerSchema: object,
  writerSchema: object | string,
  columns: readonly string[],
): ColumnReader | undefined {
  const reader = forSchema(readerSchema);
  if (!reader.equals(forSchema(writerSchema))) return undefined;
  const schema = reader.schema() as { type?: unknown; fields?: { name: string; type: unknown }[] };
  if (schema.type !== 'record' || schema.fields === undefined) return undefined;
  const names: string[] = [];
  const reads: FieldRead[] = [];
  for (const f of schema.fields) {
    const t = typeof f.type === 'object' && f.type !== null ? (f.type as { type?: unknown }).type : f.type;
    const read: FieldRead | undefined =
      t === 'int' || t === 'long'
        ? 'varint'
        : t === 'double'
          ? 'double'
          : t === 'float'
            ? 'float'
            : undefined;
    if (read === undefined || !columns.includes(f.name)) return undefined;
    names.push(f.name);
    reads.push(read);
  }
  return {
    fields: names,
    read(buf, start, end, cols, row) {
      let pos = start;
      for (let i = 0; i < reads.length; i++) {
        let v: number;
        const read = reads[i];
        if (read === 'varint') {
          let n = 0;
          let scale = 1;
          let done = false;
          // The zigzag sign is the first byte's low bit: no `n % 2` (a floating-point modulo past int32).
          const negative = pos < end && ((buf[pos] as number) & 1) === 1;
          for (let k = 0; k < 7 && pos < end; k++) {
            const b = buf[pos++] as number;
            n += (b & 0x7f) * scale;
            if (b < 0x80) {
              done = true;
              break;
            }
            scale *= 128;
          }
          if (!done) return false;
          v = negative ? -(n + 1) / 2 : n / 2;
        } else if (read === 'double') {
          if (pos + 8 > end) return false;
          v = buf.readDoubleLE(pos);
          pos += 8;
        } else {
          if (pos + 4 > end) return false;
          v = buf.readFloatLE(pos);
          pos += 4;
        }
        (cols[i] as Float64Array)[row] = v;
      }
      return pos === end;
    },
  };
}
