/**
 * A lighter decoder for the record batches of kafkajs's fetch responses (Fetch v4 and later, magic 2).
 *
 * kafkajs 2.2.4 decodes every record through a chain of per-record objects: a Buffer slice of the record
 * and a `Decoder` around it, three 64-bit `Long`s (each a BigInt) for the timestamp and offset arithmetic,
 * the two decimal strings, an array and a reduce for the headers. On a backlog those objects are most of
 * what the garbage collector collects (CPU profiles and per-thread CPU in the issue-10 notes). This decoder
 * reads the same bytes with one cursor over the response and gives one {@link FetchedRecord} per record:
 * the same message kafkajs builds (same values: offsets and timestamps as decimal strings, key and value as
 * Buffer views, headers as kafkajs groups them, the shared `batchContext`), with plain-number arithmetic
 * where the values are exact (|n| < 2^53, every real offset and epoch-ms timestamp) and BigInt otherwise;
 * key, value, headers and timestamp are read from the response when asked for.
 *
 * A compressed batch is decompressed by kafkajs's codec for it (gzip, and those of kafkajs-codecs.ts), then
 * read the same way. Whatever it does not handle exactly, it hands to kafkajs's own decoders unchanged: a
 * legacy message set (magic 0/1), codec bits kafkajs has no codec for, and any batch whose bytes do not add
 * up (a varint longer than this reader takes, a record that overruns its batch).
 * A record batch cut off at the end of the response (how `maxBytes` works) ends the decode, as in kafkajs.
 *
 * Installed by replacing the module kafkajs's Fetch v4–v11 responses require (`fetch/v4/decodeMessages`)
 * before any of them is loaded; only on the kafkajs version it was written against.
 */
import type { createRequire } from 'node:module';
import type { MessageBytes } from '../shared/message-bytes.js';

type Require = ReturnType<typeof createRequire>;

/** kafkajs's protocol `Decoder`, the part this module uses. */
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder;
type RecordBatchDecoder = (decoder: KafkajsDecoder) => Promise<{ records: KafkajsRecord[] }>;
interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}
/** kafkajs's codec for a batch's attributes: null for none; throws when kafkajs has no implementation. */
type LookupCodec = (attributes: number) => Codec | null;
type DecodeMessages = (decoder: KafkajsDecoder) => Promise<(KafkajsRecord | FetchedRecord)[]>;

type HeaderValue = Buffer | null;
type Headers = Record<string, HeaderValue | HeaderValue[]>;

/** One record as kafkajs's record decoder returns it (`recordBatch/record/v0/decoder.js`). */
export interface KafkajsRecord {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  isControlRecord: boolean;
  batchContext: BatchContext;
}

/**
 * A record this module decoded: kafkajs's message, and the engine's `SourceMessage` once the consumer
 * adapter has said where it came from ({@link FetchedRecord.from}; kafkajs does not know it at decode time).
 *
 * It holds only its record batch's shared part and where its bytes are; every field (`offset`, `key`,
 * `value`, `headers`, `timestamp`, …) is a getter reading the response's bytes again (a few varints) when
 * asked for. A fetch keeps all its records alive until the engine has handled every batch of it, so the
 * garbage collector copies them at each scavenge meanwhile: at three fields (against fifteen, and their
 * strings and boxed numbers, when the fields were values) there is little to copy. Each `key` or `value`
 * access returns a new view on the same bytes, each `headers` access a new object grouped as kafkajs
 * groups them; `locate` says where the key and value are without making views.
 */
export class FetchedRecord {
  /** What the records of its record batch share. */
  readonly batch: BatchSource;
  /** Where the record's attributes byte is in `batch.buf` (just after its length). */
  readonly at: number;
  /** Where the record ends in `batch.buf`. */
  readonly end: number;

  constructor(batch: BatchSource, at: number, end: number) {
    this.batch = batch;
    this.at = at;
    this.end = end;
  }

  get attributes(): number {
    return this.batch.buf.readInt8(this.at);
  }

  get isControlRecord(): boolean {
    return this.batch.context.isControlBatch;
  }

  get batchContext(): BatchContext {
    return this.batch.context;
  }

  get magicByte(): number {
    return this.batch.context.magicByte;
  }

  get offset(): string {
    return plus(this.batch.firstOffset, this.offsetDelta());
  }

  /** The offset as a number when it is a safe integer (every real one), else −1. */
  exactOffset(): number {
    const base = this.batch.firstOffset;
    if (typeof base !== 'number') return -1;
    const n = base + this.offsetDelta();
    return Number.isSafeInteger(n) && n >= 0 ? n : -1;
  }

  /** The record's offset delta from its batch's first offset. */
  private offsetDelta(): number {
    const c = this.head();
    varLong(c);
    return varInt(c);
  }

  /** Epoch ms, as `Number(timestamp)`. */
  get timestampMs(): number {
    const { batch } = this;
    if (batch.logAppendTime) return Number(batch.maxTimestamp);
    const delta = varLong(this.head());
    const base = batch.firstTimestamp;
    return typeof base === 'number' ? base + delta : Number(base + BigInt(delta));
  }

  get timestamp(): string {
    const { batch } = this;
    if (batch.logAppendTime) return batch.context.maxTimestamp;
    return plus(batch.firstTimestamp, varLong(this.head()));
  }

  get key(): Buffer | null {
    return varBytes(this.body());
  }

  get value(): Buffer | null {
    const c = this.body();
    skipBytes(c);
    return varBytes(c);
  }

  /** Where the key and value are in the response (the engine's `SourceMessage.locate`). */
  locate(out: MessageBytes): void {
    const c = this.body();
    const keyAt = skipBytes(c);
    out.key = keyAt < 0 ? null : c.buf;
    out.keyAt = keyAt;
    out.keyEnd = c.at;
    const valueAt = skipBytes(c);
    out.value = valueAt < 0 ? null : c.buf;
    out.valueAt = valueAt;
    out.valueEnd = c.at;
  }

  get headers(): Headers {
    const c = this.body();
    skipBytes(c);
    skipBytes(c);
    return readHeaders(c);
  }

  get topic(): string {
    return this.batch.topic;
  }

  get partition(): number {
    return this.batch.partition;
  }

  /** This record as the engine's message of `topic` partition `partition` (said of its whole batch). */
  from(topic: string, partition: number): this {
    this.batch.topic = topic;
    this.batch.partition = partition;
    return this;
  }

  /** The shared cursor at this record's timestamp delta. */
  private head(): Cursor {
    const c = SCRATCH;
    c.buf = this.batch.buf;
    c.at = this.at + 1;
    c.end = this.end;
    return c;
  }

  /** The shared cursor at this record's key. */
  private body(): Cursor {
    const c = this.head();
    varLong(c);
    varInt(c);
    return c;
  }
}

/**
 * What the records of one record batch share: the bytes, the bases of their deltas, kafkajs's batch
 * context, and (once the consumer adapter says) where they came from. A record holds only this and its
 * two positions, and reads everything else from the bytes when asked: the decode checked that they add up.
 */
class BatchSource {
  topic = '';
  partition = -1;

  constructor(
    readonly buf: Buffer,
    readonly firstOffset: number | bigint,
    readonly firstTimestamp: number | bigint,
    /** LOG_APPEND_TIME: every record's timestamp is the batch's max timestamp. */
    readonly logAppendTime: boolean,
    readonly maxTimestamp: number | bigint,
    readonly context: BatchContext,
  ) {}
}

/**
 * The one cursor every getter of {@link FetchedRecord} reads with: getters are synchronous and call no
 * other getter, so one suffices, and reading a field allocates nothing but what it returns.
 */
const SCRATCH: Cursor = { buf: Buffer.alloc(0), at: 0, end: 0 };

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
  magicByte: number;
}

const MAGIC_BYTE = 2;
/** Where the magic byte sits in a record batch (and in the legacy message sets). */
const MAGIC_OFFSET = 16;
/** kafkajs reads another batch only while at least this many bytes remain. */
const RECORD_BATCH_OVERHEAD = 49;
/** firstOffset (8) + length (4): the batch's `length` counts the bytes after these. */
const BATCH_LENGTH_PREFIX = 12;
/** Bytes from a batch's start to its first record (the header through the record count). */
const RECORDS_START = 61;
const CODEC_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG_MASK = 0x08;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;
const TWO_32 = 4294967296;

/** The batch's bytes do not fit this reader: kafkajs decodes this batch instead. */
export class NotMine extends Error {}
const NOT_MINE = new NotMine('handed to kafkajs');

/** A cursor over one response's record batches. */
export interface Cursor {
  buf: Buffer;
  at: number;
  end: number;
}

/** A zigzag varint of up to 4 bytes (|n| < 2^27: every length and delta a record batch holds). */
function varInt(c: Cursor): number {
  let n = 0;
  let shift = 0;
  for (let i = 0; i < 4; i++) {
    if (c.at >= c.end) throw NOT_MINE;
    const b = c.buf[c.at++] as number;
    n |= (b & 0x7f) << shift;
    if (b < 0x80) return (n >>> 1) ^ -(n & 1);
    shift += 7;
  }
  throw NOT_MINE;
}

/** A zigzag varlong of up to 7 bytes (|n| < 2^48), as a number; NotMine when it is longer. */
export function varLong(c: Cursor): number {
  let n = 0;
  let scale = 1;
  // The zigzag sign is the first byte's low bit: no `n % 2`, a floating-point modulo (a C call in V8's
  // optimised code) once n is past int32.
  const negative = c.at < c.end && ((c.buf[c.at] as number) & 1) === 1;
  for (let i = 0; i < 7; i++) {
    if (c.at >= c.end) throw NOT_MINE;
    const b = c.buf[c.at++] as number;
    n += (b & 0x7f) * scale;
    if (b < 0x80) return negative ? -(n + 1) / 2 : n / 2;
    scale *= 128;
  }
  throw NOT_MINE;
}

/** Bytes of a varint length (−1: null), as a view on the response. */
function varBytes(c: Cursor): Buffer | null {
  const length = varInt(c);
  if (length === -1) return null;
  if (length < 0 || c.at + length > c.end) throw NOT_MINE;
  const bytes = c.buf.subarray(c.at, c.at + length);
  c.at += length;
  return bytes;
}

/** Skips the bytes of a varint length (−1: null); their start, or −1 for null. */
function skipBytes(c: Cursor): number {
  const length = varInt(c);
  if (length === -1) return -1;
  if (length < 0 || c.at + length > c.end) throw NOT_MINE;
  const at = c.at;
  c.at += length;
  return at;
}

/** Checks the headers at the cursor as {@link readHeaders} will read them. */
function skipHeaders(c: Cursor): void {
  const count = varInt(c);
  // kafkajs reads −1 as no headers and fails on other negative counts.
  if (count < -1) throw NOT_MINE;
  for (let i = 0; i < count; i++) {
    skipBytes(c);
    skipBytes(c);
  }
}

/** A signed int64 at `at`: exact as a number when it is a safe integer, else as a BigInt. */
function int64(buf: Buffer, at: number): number | bigint {
  const hi = buf.readInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  const n = hi * TWO_32 + lo;
  return Number.isSafeInteger(n) ? n : (BigInt(hi) << 32n) + BigInt(lo);
}

/** `base + delta` as kafkajs's `Long` arithmetic would print it. */
function plus(base: number | bigint, delta: number): string {
  if (typeof base === 'number') {
    const n = base + delta;
    if (Number.isSafeInteger(n)) return String(n);
    return (BigInt(base) + BigInt(delta)).toString();
  }
  return (base + BigInt(delta)).toString();
}

/** Headers grouped as kafkajs groups them: a repeated key collects its values in an array, in order. */
function readHeaders(c: Cursor): Headers {
  const headers: Headers = {};
  const count = varInt(c);
  for (let i = 0; i < count; i++) {
    const key = varBytes(c);
    const value = varBytes(c);
    // kafkajs reads a null key as the property "null" (its readVarIntString returns null).
    const name = key === null ? 'null' : key.toString('utf8');
    // As kafkajs: the lookup sees inherited properties too, so a header named like one of Object's
    // (`toString`, `__proto__`) comes out as [that property, value], as it always did.
    const had = headers[name];
    const next = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    // An own property even for "__proto__" (kafkajs builds them with computed keys in object literals).
    Object.defineProperty(headers, name, {
      value: next,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return headers;
}

/**
 * One uncompressed record batch at `start`, whose bytes end at `end`: its records, appended to `out`.
 * Throws NOT_MINE (with `out` as it was) when kafkajs should decode it.
 */
function decodeBatch(
  buf: Buffer,
  start: number,
  end: number,
  out: (KafkajsRecord | FetchedRecord)[],
  decompressed?: Buffer,
): void {
  const attributes = buf.readInt16BE(start + 21);
  if (((attributes & CODEC_MASK) !== 0) !== (decompressed !== undefined)) throw NOT_MINE;
  const magicByte = buf.readInt8(start + MAGIC_OFFSET);
  const firstOffset = int64(buf, start);
  const firstTimestamp = int64(buf, start + 27);
  const maxTimestamp = int64(buf, start + 35).toString();
  const isControlBatch = (attributes & CONTROL_FLAG_MASK) > 0;
  const timestampType = (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : CREATE_TIME;
  const batchContext: BatchContext = {
    firstOffset: firstOffset.toString(),
    firstTimestamp: firstTimestamp.toString(),
    partitionLeaderEpoch: buf.readInt32BE(start + 12),
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch,
    lastOffsetDelta: buf.readInt32BE(start + 23),
    producerId: int64(buf, start + 43).toString(),
    producerEpoch: buf.readInt16BE(start + 51),
    firstSequence: buf.readInt32BE(start + 53),
    maxTimestamp,
    timestampType,
    magicByte,
  };
  const count = buf.readInt32BE(start + 57);
  if (count < 0) throw NOT_MINE;
  // The records: after the header, or all of the decompressed bytes.
  const rbuf = decompressed ?? buf;
  const rend = decompressed === undefined ? end : decompressed.length;
  const c: Cursor = { buf: rbuf, at: decompressed === undefined ? start + RECORDS_START : 0, end: rend };
  const source = new BatchSource(
    rbuf,
    firstOffset,
    firstTimestamp,
    timestampType === LOG_APPEND_TIME,
    int64(buf, start + 35),
    batchContext,
  );
  // Appended as they are read (no array of the batch's own to copy from); taken back if the batch is not ours.
  const before = out.length;
  try {
    for (let i = 0; i < count; i++) {
      const length = varInt(c);
      const recordEnd = c.at + length;
      // An empty record has no attributes byte: kafkajs fails on it, so it decides.
      if (length <= 0 || recordEnd > rend) throw NOT_MINE;
      c.end = recordEnd;
      const at = c.at++;
      // Checked here, read again by the record's getters: everything up to the record's end must add up.
      varLong(c);
      varInt(c);
      skipBytes(c);
      skipBytes(c);
      skipHeaders(c);
      out.push(new FetchedRecord(source, at, recordEnd));
      c.at = recordEnd;
      c.end = rend;
    }
  } catch (e) {
    out.length = before;
    throw e;
  }
}

/** The replacement for kafkajs's `fetch/v4/decodeMessages`, given kafkajs's own pieces to fall back on. */
export function createDecodeMessages(
  Decoder: DecoderClass,
  kafkajsDecodeMessages: DecodeMessages,
  kafkajsRecordBatch: RecordBatchDecoder,
  lookupCodec: LookupCodec,
): DecodeMessages {
  /**
   * A compressed batch's records, decompressed by kafkajs's codec for it (the one kafkajs would use).
   * Undefined, synchronously, for an uncompressed batch (no await per batch on the common path) and when
   * kafkajs should decode the batch (no codec for it: kafkajs fails the same way).
   */
  function decompress(buf: Buffer, start: number, end: number): Promise<Buffer> | undefined {
    const attributes = buf.readInt16BE(start + 21);
    if ((attributes & CODEC_MASK) === 0 || buf.readInt32BE(start + 57) <= 0) return undefined;
    let codec: Codec | null;
    try {
      codec = lookupCodec(attributes);
    } catch {
      return undefined;
    }
    return codec === null ? undefined : codec.decompress(buf.subarray(start + RECORDS_START, end));
  }

  return async function decodeMessages(decoder: KafkajsDecoder): Promise<(KafkajsRecord | FetchedRecord)[]> {
    const buf = decoder.buffer;
    const at = decoder.offset;
    // Anything but a complete message set of magic-2 batches: kafkajs, from the same position.
    if (buf.length - at < 4) return kafkajsDecodeMessages(decoder);
    const size = buf.readInt32BE(at);
    const start = at + 4;
    if (
      size <= MAGIC_OFFSET ||
      buf.length - start < size ||
      buf.readInt8(start + MAGIC_OFFSET) !== MAGIC_BYTE
    )
      return kafkajsDecodeMessages(decoder);
    decoder.offset = start + size;
    const end = start + size;
    const records: (KafkajsRecord | FetchedRecord)[] = [];
    let pos = start;
    while (end - pos >= RECORD_BATCH_OVERHEAD) {
      const length = buf.readInt32BE(pos + 8);
      const batchEnd = pos + BATCH_LENGTH_PREFIX + length;
      // Cut off by the response's size limit: the rest comes with the next fetch (kafkajs stops here too).
      if (batchEnd > end) break;
      try {
        if (length < RECORDS_START - BATCH_LENGTH_PREFIX) throw NOT_MINE;
        const decompressing = decompress(buf, pos, batchEnd);
        decodeBatch(
          buf,
          pos,
          batchEnd,
          records,
          decompressing === undefined ? undefined : await decompressing,
        );
        pos = batchEnd;
      } catch (e) {
        if (!(e instanceof NotMine)) throw e;
        const one = new Decoder(buf.subarray(pos, end));
        try {
          const batch = await kafkajsRecordBatch(one);
          for (const r of batch.records) records.push(r);
        } catch (error) {
          if (error instanceof Error && error.name === 'KafkaJSPartialMessageError') break;
          throw error;
        }
        // Where kafkajs's decoder left off; a length that does not move forward would loop for ever.
        if (one.offset <= 0)
          throw new Error(`record batch at byte ${pos - start} of a fetch response has length ${length}`);
        pos += one.offset;
      }
    }
    return records;
  };
}

const PATCHED = Symbol.for('pdm-stream.kafkajs-fetch-decode');
const FETCH_DIR = 'kafkajs/src/protocol/requests/fetch';
const FETCH_VERSIONS = [4, 5, 6, 7, 8, 9, 10, 11];

/**
 * Puts the decoder in place of kafkajs's `fetch/v4/decodeMessages` for the Fetch responses loaded from now
 * on. False (nothing changed) when a Fetch v4+ response module is already loaded, so that every fetch of
 * the process decodes the same way, or when kafkajs's layout is not the expected one. The caller checks
 * kafkajs's version.
 */
export function installFetchDecode(require: Require): boolean {
  try {
    const path = require.resolve(`${FETCH_DIR}/v4/decodeMessages.js`);
    const original = require(path) as DecodeMessages & { [PATCHED]?: true };
    if (original[PATCHED] === true) return true;
    const responses = FETCH_VERSIONS.map((v) => require.resolve(`${FETCH_DIR}/v${v}/response.js`));
    if (responses.some((p) => require.cache[p] !== undefined)) return false;
    const Decoder = require('kafkajs/src/protocol/decoder.js') as DecoderClass;
    const batch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as RecordBatchDecoder;
    const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression/index.js') as {
      lookupCodecByAttributes?: LookupCodec;
    };
    const loaded = require.cache[path];
    if (
      typeof original !== 'function' ||
      typeof Decoder !== 'function' ||
      typeof batch !== 'function' ||
      typeof lookupCodecByAttributes !== 'function'
    )
      return false;
    if (loaded === undefined) return false;
    loaded.exports = Object.assign(createDecodeMessages(Decoder, original, batch, lookupCodecByAttributes), {
      [PATCHED]: true as const,
    });
    return true;
  } catch {
    // Not the layout we know (a repackaged kafkajs): kafkajs decodes as it always did.
    return false;
  }
}
