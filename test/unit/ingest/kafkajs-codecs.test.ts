/**
 * The codecs kafkajs lacks (src/ingest/kafkajs-codecs.ts). The end-to-end test (issue-9-compression)
 * consumes what librdkafka writes; here: snappy in both framings Kafka clients use, and the registration.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { installCompressionCodecs, snappyUncompress } from '../../../src/ingest/kafkajs-codecs.js';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as {
  compress(b: Buffer): Buffer;
  uncompress(b: Buffer): Buffer;
};
const lz4 = require('lz4js') as { compress(b: Uint8Array): Uint8Array };

const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => `record ${i % 97};`).join(''));

/** snappy-java's stream format, as Java producers write it: header, then length-prefixed blocks. */
function xerial(parts: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const blocks = parts.map((p) => {
    const c = snappy.compress(p);
    const len = Buffer.alloc(4);
    len.writeInt32BE(c.length);
    return Buffer.concat([len, c]);
  });
  return Buffer.concat([header, ...blocks]);
}

describe('kafkajs compression codecs', () => {
  it('snappy: a raw block (librdkafka) and snappy-java framing (Java clients)', () => {
    expect(snappyUncompress(snappy, snappy.compress(data)).equals(data)).toBe(true);
    const framed = xerial([data.subarray(0, 7000), data.subarray(7000)]);
    expect(snappyUncompress(snappy, framed).equals(data)).toBe(true);
    expect(() => snappyUncompress(snappy, framed.subarray(0, framed.length - 3))).toThrow(/past the batch/);
    expect(() => snappyUncompress(snappy, Buffer.concat([framed, Buffer.from([0, 0])]))).toThrow(
      /truncated block length/,
    );
  });

  it('registers snappy, lz4 and zstd with kafkajs: they decompress, and refuse to compress', async () => {
    installCompressionCodecs();
    const { CompressionCodecs, CompressionTypes } = require('kafkajs') as {
      CompressionCodecs: Record<
        number,
        () => { decompress(b: Buffer): Promise<Buffer>; compress(e: object): Promise<Buffer> }
      >;
      CompressionTypes: Record<string, number>;
    };
    const codec = (t: string) => CompressionCodecs[CompressionTypes[t] as number]?.();
    expect((await codec('Snappy')?.decompress(snappy.compress(data)))?.equals(data)).toBe(true);
    expect((await codec('LZ4')?.decompress(Buffer.from(lz4.compress(data))))?.equals(data)).toBe(true);
    // zstd: a frame written by the reference implementation (`printf 'pdm-stream zstd\n' | zstd -c`).
    const frame = Buffer.from('KLUv/QRYgQAAcGRtLXN0cmVhbSB6c3RkCrb5CoE=', 'base64');
    expect((await codec('ZSTD')?.decompress(frame))?.toString()).toBe('pdm-stream zstd\n');
    await expect(codec('LZ4')?.compress({ buffer: data })).rejects.toThrow(/does not produce them/);
  });
});
