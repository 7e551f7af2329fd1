/**
 * The record batch decoder (src/ingest/kafkajs-fetch-decode.ts) against kafkajs's own `decodeMessages`, the
 * oracle: on every fetch message set, hand-built or mutated at random, both give the same messages (deep
 * equal: offsets, timestamps, keys, values, headers, batch context) and leave the response decoder at the
 * same position, or both fail.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  FetchedRecord,
  createDecodeMessages,
  installFetchDecode,
  type KafkajsRecord,
} from '../../../src/ingest/kafkajs-fetch-decode.js';
import { installCompressionCodecs } from '../../../src/ingest/kafkajs-codecs.js';
import { installKafkajsFastPaths } from '../../../src/ingest/kafkajs-long.js';
import { batch, int32, int64, messageSet, varint, type TestRecord } from './record-batch-writer.js';

const require = createRequire(import.meta.url);
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder;
type DecodeMessages = (d: KafkajsDecoder) => Promise<(KafkajsRecord | FetchedRecord)[]>;

const DECODE_MESSAGES = 'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js';
const Decoder = require('kafkajs/src/protocol/decoder.js') as DecoderClass;
const batchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  d: KafkajsDecoder,
) => Promise<{ records: KafkajsRecord[] }>;

/** kafkajs's own decodeMessages, loaded afresh (the module cache may hold the installed one). */
function pristineDecodeMessages(): DecodeMessages {
  const path = require.resolve(DECODE_MESSAGES);
  const cached = require.cache[path];
  Reflect.deleteProperty(require.cache, path);
  try {
    return require(path) as DecodeMessages;
  } finally {
    if (cached !== undefined) require.cache[path] = cached;
  }
}
const kafkajs = pristineDecodeMessages();
const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodecByAttributes: (attributes: number) => { decompress(b: Buffer): Promise<Buffer> } | null;
};
// snappy, lz4 and zstd as the engine has them; kafkajs's own decoder (the oracle) uses the same registry.
installCompressionCodecs();
const fast = createDecodeMessages(Decoder, kafkajs, batchDecoder, lookupCodecByAttributes);

interface Outcome {
  readonly records?: KafkajsRecord[];
  readonly offset?: number;
  readonly error?: string;
}

/** A message as kafkajs's consumer and ours read it: its fields, whether data properties or getters. */
function view(r: KafkajsRecord | FetchedRecord): KafkajsRecord {
  const { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord, batchContext } = r;
  return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord, batchContext };
}

async function run(decode: DecodeMessages, buf: Buffer, at = 0): Promise<Outcome & { ours: number }> {
  const d = new Decoder(buf);
  d.offset = at;
  try {
    const records = await decode(d);
    const ours = records.filter((r): r is FetchedRecord => r instanceof FetchedRecord);
    // The engine's view of ours: the timestamp as a number, a fresh headers object on each access.
    for (const r of ours) {
      expect(r.timestampMs).toBe(Number(r.timestamp));
      expect(r.headers).not.toBe(r.headers);
    }
    return { records: records.map(view), offset: d.offset, ours: ours.length };
  } catch (e) {
    return { error: e instanceof Error ? e.name : String(e), ours: 0 };
  }
}

/** Both decoders on `buf`: the same outcome; returns ours, with how many records this module decoded. */
async function same(buf: Buffer, at = 0): Promise<Outcome & { ours: number }> {
  const { ours: none, ...expected } = await run(kafkajs, buf, at);
  expect(none).toBe(0);
  const { ours, ...actual } = await run(fast, buf, at);
  expect(actual).toEqual(expected);
  return { ...actual, ours };
}

const b = (s: string): Buffer => Buffer.from(s);

describe('kafkajs fetch decode: the same messages as kafkajs', () => {
  it('plain batches: keys, values, null key and value, deltas, several batches, the position after', async () => {
    const out = await same(
      messageSet([
        batch({
          firstOffset: 41n,
          records: [
            { key: b('machine-1'), value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]) },
            { offsetDelta: 1, timestampDelta: 1500, key: null, value: b('x') },
            { offsetDelta: 2, timestampDelta: -20, key: b(''), value: null },
          ],
        }),
        batch({ firstOffset: 44n, firstTimestamp: 0n, records: [{ timestampDelta: 3 }] }),
      ]),
    );
    expect(out.records?.map((r) => [r.offset, r.timestamp])).toEqual([
      ['41', '1767225600000'],
      ['42', '1767225601500'],
      ['43', '1767225599980'],
      ['44', '3'],
    ]);
    expect(out.records?.[1]?.key).toBeNull();
    expect(out.records?.[2]?.value).toBeNull();
    expect(out.ours).toBe(4);
  });

  it('headers: repeated keys grouped, null values, a null key, names of Object properties', async () => {
    const out = await same(
      messageSet([
        batch({
          records: [
            {
              headers: [
                [b('pdm-replay-count'), b('1')],
                [b('trace'), null],
                [b('trace'), b('a')],
                [b('trace'), b('b')],
                [null, b('n')],
                [b('__proto__'), b('p')],
                [b('toString'), b('t')],
                [b('ü'), b('utf8')],
              ],
            },
          ],
        }),
      ]),
    );
    const h = out.records?.[0]?.headers ?? {};
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
    expect(Object.keys(h)).toContain('__proto__');
    expect(h['trace']).toEqual([null, b('a'), b('b')]);
    expect(out.ours).toBe(1);
  });

  it('offsets and timestamps beyond 2^53, negative ones, log-append time, control and transactional batches', async () => {
    await same(
      messageSet([
        batch({ firstOffset: 9_007_199_254_740_990n, records: [{}, { offsetDelta: 1 }, { offsetDelta: 5 }] }),
        batch({ firstOffset: 2n ** 62n, firstTimestamp: -1n, records: [{ timestampDelta: -7 }] }),
        batch({ attributes: 0x08, maxTimestamp: 1_800_000_000_000n, records: [{ timestampDelta: 5 }] }),
        batch({
          attributes: 0x30,
          producerId: 123_456_789_012n,
          records: [{ key: Buffer.from([0, 0, 0, 1]) }],
        }),
        batch({ attributes: 0x10, producerId: 2n ** 60n, records: [{ offsetDelta: 0 }] }),
        batch({
          records: [{ timestampDelta: 2n ** 50n }, { offsetDelta: 2 ** 28, timestampDelta: -(2n ** 49n) }],
        }),
        batch({ records: [{ attributes: 0xff }] }),
        batch({ records: [] }),
      ]),
    );
  });

  it('a batch cut off at the end of the response ends the decode; the set is consumed whole', async () => {
    const sets = [batch({ records: [{}, { offsetDelta: 1 }] }), batch({ firstOffset: 2n, records: [{}] })];
    for (const cut of [1, 10, 40, 60]) {
      const out = await same(messageSet(sets, cut));
      expect(out.records?.length).toBe(2);
    }
  });

  it("compressed batches (decompressed by kafkajs's codecs, read here); a legacy set, short or empty sets go to kafkajs", async () => {
    const { RecordBatch: encode } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
      RecordBatch: (o: object) => Promise<{ buffer: Buffer }>;
    };
    const recordEncoder = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
      o: object,
    ) => unknown;
    const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as {
      Types: { GZIP: number };
    };
    const gzip = await encode({
      compression: Types.GZIP,
      firstOffset: 10n,
      records: [0, 1, 2].map((i) => recordEncoder({ offsetDelta: i, key: b(`k${i}`), value: b(`v${i}`) })),
    });
    const out = await same(
      messageSet([batch({ records: [{}] }), [...gzip.buffer], batch({ firstOffset: 13n, records: [{}] })]),
    );
    expect(out.records?.map((r) => r.offset)).toEqual(['0', '10', '11', '12', '13']);
    expect(out.ours).toBe(5); // the gzip batch decompressed by kafkajs's codec, then read here

    // snappy (raw, as librdkafka writes it) and lz4 frames, with headers, null keys, several records.
    const snappy = require('snappyjs') as { compress(b: Buffer): Buffer };
    const lz4 = require('lz4js') as { compress(b: Uint8Array): Uint8Array };
    const records: TestRecord[] = [
      { key: null, value: b('a'), headers: [[b('h'), null]] },
      { offsetDelta: 1, timestampDelta: 5, key: b('7') },
      { offsetDelta: 2, timestampDelta: -3, value: null },
    ];
    const compressed = await same(
      messageSet([
        batch({ firstOffset: 20n, records, compress: { codec: 2, bytes: (r) => snappy.compress(r) } }),
        batch({
          firstOffset: 23n,
          records,
          compress: { codec: 3, bytes: (r) => Buffer.from(lz4.compress(r)) },
        }),
        batch({
          firstOffset: 26n,
          records: [],
          compress: { codec: 3, bytes: (r) => Buffer.from(lz4.compress(r)) },
        }),
      ]),
    );
    expect(compressed.records?.map((r) => r.offset)).toEqual(['20', '21', '22', '23', '24', '25']);
    expect(compressed.ours).toBe(6);
    // Codec bits kafkajs has no codec for (5, 6, 7): kafkajs reads the records as uncompressed; here, too.
    const unknown = await same(messageSet([batch({ records, compress: { codec: 5, bytes: (r) => r } })]));
    expect([unknown.records?.length, unknown.ours]).toEqual([3, 0]);
    // Bytes the codec cannot decompress: the same failure.
    const corrupt = await same(
      messageSet([
        batch({ records, compress: { codec: 3, bytes: () => Buffer.from([1, 2, 3, 4, 5, 6, 7]) } }),
      ]),
    );
    expect(corrupt.error).toBeDefined();

    // Magic 0 message set, an empty set, a negative size, a size past the buffer, a set too short for a magic.
    const legacy = [...int64(0n), ...int32(14), ...int32(0), 0, 0, ...int32(-1), ...int32(0)];
    await same(Buffer.from([...int32(legacy.length), ...legacy]));
    await same(Buffer.from([...int32(0), 1, 2]));
    await same(Buffer.from([...int32(-1), 1, 2]));
    await same(Buffer.from([...int32(500), 1, 2, 3]));
    await same(Buffer.from([...int32(5), 1, 2, 3, 4, 5]));
    await same(Buffer.from([0, 0]));
  });

  it('a record whose bytes do not add up goes to kafkajs, with the same result or the same failure', async () => {
    const good = batch({ records: [{}, { offsetDelta: 1 }] });
    const cases: number[][] = [
      batch({ records: [{}], count: 3 }), // fewer records than the count says
      batch({ records: [{}], count: -2 }),
      batch({ records: [{ headerCount: -2 }] }), // kafkajs fails on a negative header count
      batch({ records: [{ headerCount: -1 }] }), // and reads −1 as none
      [...good.slice(0, 61), 0, ...good.slice(61)], // an empty record (length 0)
      [...good.slice(0, 61), ...varint(200), ...good.slice(62)], // a record longer than its batch
      [...good.slice(0, 61), 0x80, 0x80, 0x80, 0x80, 0x01, ...good.slice(62)], // a 5-byte varint length
      batch({ records: [{ key: Buffer.alloc(3) }] }).map((x, i, a) => (i === a.length - 8 ? 0x7e : x)),
    ];
    for (const c of cases) await same(messageSet([c]));
  });

  it('random mutations of valid responses: the same messages or the same failure as kafkajs', async () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed % n;
    };
    const valid = messageSet([
      batch({
        firstOffset: 100n,
        records: [
          { key: b('m-1'), value: Buffer.alloc(30, 1), headers: [[b('h'), b('1')]] },
          { offsetDelta: 1, timestampDelta: 99, key: null, value: Buffer.alloc(12, 2) },
          {
            offsetDelta: 2,
            timestampDelta: 300,
            headers: [
              [b('h'), b('2')],
              [b('h'), null],
            ],
          },
        ],
      }),
      batch({ firstOffset: 103n, records: [{ key: b('m-2') }, { offsetDelta: 1 }] }),
    ]);
    let decoded = 0;
    let ours = 0;
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(valid);
      // Mutations inside the records only: a mutated batch length makes kafkajs itself loop for ever.
      const recordsFrom = 4 + 61;
      for (let k = 0; k <= rand(3); k++) m[recordsFrom + rand(m.length - 2 - recordsFrom)] = rand(256);
      const out = await same(m);
      if (out.records !== undefined) decoded++;
      ours += out.ours;
    }
    // Most mutations still decode (into other values), most of them here: the comparison covered them.
    expect(decoded).toBeGreaterThan(100);
    expect(ours).toBeGreaterThan(500);
  });
});

describe('installFetchDecode', () => {
  it('is in place after the project creates a client, and kafkajs Fetch v4+ responses then use it', () => {
    expect(installKafkajsFastPaths()).toMatchObject({ long: true, fetchDecode: true });
    expect(installFetchDecode(require)).toBe(true);
    const response = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as { decode: unknown };
    expect(typeof response.decode).toBe('function');
    const installed = require(DECODE_MESSAGES) as object;
    expect(installed).not.toBe(kafkajs);
    expect(Object.getOwnPropertySymbols(installed).map(String)).toEqual([
      'Symbol(pdm-stream.kafkajs-fetch-decode)',
    ]);
  });
});
