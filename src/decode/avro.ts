/** The one file that knows avsc. Types are built once per schema and reused for every message. */
import avsc from 'avsc';

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
  return {
    decode(buf, start = 0) {
      return checkedDecode(reader, buf, start, resolver);
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
  return {
    decode(buf, start = 0) {
      return checkedDecode(type, buf, start);
    },
    encode(value) {
      return type.toBuffer(value);
    },
  };
}

function checkedDecode(type: avsc.Type, buf: Buffer, start: number, resolver?: avsc.Resolver): unknown {
  // decode() reports how far it read: a short body is truncated, trailing bytes mean a wrong schema.
  // avsc types decode() as `any`; the caller validates the shape (validate.ts).
  const result: { value: unknown; offset: number } = type.decode(buf, start, resolver);
  const { value, offset } = result;
  if (offset < 0) throw new Error(`truncated Avro body (${buf.length - start} bytes)`);
  if (offset !== buf.length) throw new Error(`Avro body has ${buf.length - offset} trailing bytes`);
  return value;
}
