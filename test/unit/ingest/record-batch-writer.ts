/**
 * A minimal writer of Kafka's record batch wire format (magic 2) for tests of the fetch decoder and the
 * consumer batches, independent of kafkajs and of the project's decoder.
 */

export function zigzag(n: bigint): bigint {
  return n >= 0n ? n * 2n : -n * 2n - 1n;
}
export function varint(n: number | bigint): number[] {
  let u = zigzag(BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(u & 0x7fn);
    u >>= 7n;
    if (u > 0n) b |= 0x80;
    out.push(b);
  } while (u > 0n);
  return out;
}
export function bytes(b: Buffer | null): number[] {
  return b === null ? varint(-1) : [...varint(b.length), ...b];
}
export function int64(n: bigint): number[] {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return [...b];
}
export function int32(n: number): number[] {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return [...b];
}
export function int16(n: number): number[] {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return [...b];
}

export interface TestRecord {
  readonly timestampDelta?: number | bigint;
  readonly offsetDelta?: number;
  readonly key?: Buffer | null;
  readonly value?: Buffer | null;
  readonly headers?: ReadonlyArray<readonly [Buffer | null, Buffer | null]>;
  readonly attributes?: number;
  /** The header count as written, instead of the number of `headers`. */
  readonly headerCount?: number;
}

export function record(r: TestRecord): number[] {
  const headers = r.headers ?? [];
  const body = [
    (r.attributes ?? 0) & 0xff,
    ...varint(r.timestampDelta ?? 0),
    ...varint(r.offsetDelta ?? 0),
    ...bytes(r.key === undefined ? Buffer.from('k') : r.key),
    ...bytes(r.value === undefined ? Buffer.from('v') : r.value),
    ...varint(r.headerCount ?? headers.length),
    ...headers.flatMap(([k, v]) => [...bytes(k), ...bytes(v)]),
  ];
  return [...varint(body.length), ...body];
}

export interface TestBatch {
  readonly firstOffset?: bigint;
  readonly firstTimestamp?: bigint;
  readonly maxTimestamp?: bigint;
  readonly attributes?: number;
  readonly producerId?: bigint;
  readonly records: readonly TestRecord[];
  /** Raw record bytes instead of `records` (count still records.length unless given). */
  readonly count?: number;
  /** Compresses the records' bytes; the codec's id goes into the attributes. */
  readonly compress?: { readonly codec: number; readonly bytes: (records: Buffer) => Buffer };
}

export function batch(b: TestBatch): number[] {
  const plain = b.records.flatMap(record);
  const recs = b.compress === undefined ? plain : [...b.compress.bytes(Buffer.from(plain))];
  const afterLength = [
    ...int32(7), // partition leader epoch
    2, // magic
    ...int32(0), // crc: neither decoder checks it
    ...int16((b.attributes ?? 0) | (b.compress?.codec ?? 0)),
    ...int32(Math.max(0, b.records.length - 1)),
    ...int64(b.firstTimestamp ?? 1_767_225_600_000n),
    ...int64(b.maxTimestamp ?? 1_767_225_601_000n),
    ...int64(b.producerId ?? -1n),
    ...int16(0),
    ...int32(-1),
    ...int32(b.count ?? b.records.length),
    ...recs,
  ];
  return [...int64(b.firstOffset ?? 0n), ...int32(afterLength.length), ...afterLength];
}

/** A fetch partition's record set as kafkajs reads it: int32 size, then the batches (maybe cut off). */
export function messageSet(batches: number[][], cutTail = 0): Buffer {
  const body = batches.flat();
  const kept = body.slice(0, body.length - cutTail);
  // A trailing field after the set, so that the position each decoder leaves matters.
  return Buffer.from([...int32(kept.length), ...kept, 0x00, 0xad]);
}
