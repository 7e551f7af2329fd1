/**
 * Decompression of snappy, lz4 and zstd record batches for kafkajs, which ships only gzip and otherwise
 * fails the whole fetch ("Snappy compression not implemented": the consumer crashes, and again after every
 * restart). librdkafka producers compress when `compression.type` says so, and lz4, zstd and snappy are
 * the usual choices. Pure JavaScript decoders (snappyjs, lz4js, fzstd): nothing to build on install.
 *
 * The engine consumes compressed batches; it never produces them, so `compress` refuses with a clear
 * error rather than writing something kafkajs's other clients might not read.
 */
import { createRequire } from 'node:module';
import type { CompressionCodecs as KafkajsCodecs, CompressionTypes as KafkajsTypes } from 'kafkajs';
import { decompress as zstdDecompress } from 'fzstd';

interface Lz4js {
  decompress(src: Uint8Array, maxSize?: number): Uint8Array;
}
interface Snappyjs {
  uncompress(compressed: Buffer, maxLength?: number): Buffer;
}

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** snappy-java's stream header (Java producers): magic, then version and compatible version (int32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/**
 * Snappy as Kafka clients write it: one raw block (librdkafka), or snappy-java's framing (a header, then
 * blocks each prefixed by its int32 length).
 */
export function snappyUncompress(snappy: Snappyjs, buf: Buffer): Buffer {
  if (buf.length < XERIAL_HEADER_BYTES || !buf.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC))
    return Buffer.from(snappy.uncompress(buf));
  const parts: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new Error('snappy: truncated block length');
    const length = buf.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > buf.length) throw new Error('snappy: block runs past the batch');
    parts.push(Buffer.from(snappy.uncompress(buf.subarray(at, at + length))));
    at += length;
  }
  return Buffer.concat(parts);
}

function decompressOnly(name: string, decompress: (buf: Buffer) => Buffer): () => Codec {
  const codec: Codec = {
    compress() {
      return Promise.reject(
        new Error(`pdm-stream decompresses ${name} record batches but does not produce them`),
      );
    },
    decompress(buffer) {
      return Promise.resolve().then(() => decompress(buffer));
    },
  };
  return () => codec;
}

let installed = false;

/** Registers the three codecs with kafkajs once per process (gzip is kafkajs's own). */
export function installCompressionCodecs(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const snappy = require('snappyjs') as Snappyjs;
  const lz4 = require('lz4js') as Lz4js;
  // kafkajs is CommonJS and Node's ESM loader does not see these two as named exports: read them off
  // the module object (the same objects kafkajs's record batch decoder looks codecs up in).
  const { CompressionCodecs, CompressionTypes } = require('kafkajs') as {
    CompressionCodecs: typeof KafkajsCodecs;
    CompressionTypes: typeof KafkajsTypes;
  };
  CompressionCodecs[CompressionTypes.Snappy] = decompressOnly('snappy', (b) => snappyUncompress(snappy, b));
  CompressionCodecs[CompressionTypes.LZ4] = decompressOnly('lz4', (b) => Buffer.from(lz4.decompress(b)));
  CompressionCodecs[CompressionTypes.ZSTD] = decompressOnly('zstd', (b) => Buffer.from(zstdDecompress(b)));
  installed = true;
}
