/**
 * Two fast paths for kafkajs's 64-bit `Long` on its per-record decode path.
 *
 * 1. A parse cache, once the largest single frame of a backlog's CPU profile.
 *
 * kafkajs 2.2.4 decodes every record with `Long.fromValue(firstOffset).add(delta).toString()` and the same
 * for `firstTimestamp`: two `BigInt(string)` parses per record of the very strings of its record batch
 * header, which are the same for every record of that batch. Nothing on our side triggers them, and no
 * option turns them off. Remembering the last two parsed strings answers both from the cache for every
 * record after the first of a record batch. Safe because kafkajs's `Long` is immutable (every operation
 * returns a new one; only the constructor assigns `value`): a shared instance cannot be changed by a user.
 *
 * Installed only on the kafkajs version it was written against and only when `Long` looks as expected;
 * otherwise nothing is changed (a newer kafkajs keeps its own behaviour, just without the cache).
 */
import { createRequire } from 'node:module';
import { NotMine, installFetchDecode, varLong, type Cursor } from './kafkajs-fetch-decode.js';
import { batchFastPath, partitionGroupsFastPath } from './kafkajs-preload.js';
import { isKnownKafkajs } from './kafkajs-version.js';

const NO_BYTES = Buffer.alloc(0);

interface KafkajsLong {
  readonly value: bigint;
}
interface KafkajsLongClass {
  fromString(str: string): KafkajsLong;
  fromNumber(n: number): KafkajsLong;
  readonly ZERO: KafkajsLong;
}
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readVarLong: (this: KafkajsDecoder) => KafkajsLong;
}

const PATCHED = Symbol.for('pdm-stream.kafkajs-long-cache');

export interface KafkajsFastPaths {
  /** The `Long` parse cache and varlong reader below. */
  readonly long: boolean;
  /** The record batch decoder of src/ingest/kafkajs-fetch-decode.ts. */
  readonly fetchDecode: boolean;
  /** The consumer's batches of src/ingest/kafkajs-batch.ts (installed by kafkajs-preload.ts). */
  readonly batch: boolean;
  /** The producers' grouping by partition of src/ingest/kafkajs-partition-groups.ts (kafkajs-preload.ts). */
  readonly partitionGroups: boolean;
}

/**
 * Every kafkajs fast path of this folder, once per process; called where the project creates its kafkajs
 * clients, so that they are in place before the first fetch. Each is installed only on the kafkajs version
 * it was written against; a path that is not installed leaves kafkajs's own behaviour.
 */
export function installKafkajsFastPaths(): KafkajsFastPaths {
  const require = createRequire(import.meta.url);
  const long = installLongFastPaths();
  const fetchDecode = isKnownKafkajs(require) && installFetchDecode(require);
  return { long, fetchDecode, batch: batchFastPath, partitionGroups: partitionGroupsFastPath };
}

/** Installs both Long fast paths once per process; true when they are (or already were) in place. */
export function installLongFastPaths(): boolean {
  const require = createRequire(import.meta.url);
  let Long: KafkajsLongClass & { [PATCHED]?: true };
  let Decoder: { prototype: KafkajsDecoder };
  if (!isKnownKafkajs(require)) return false;
  try {
    Long = require('kafkajs/src/utils/long.js') as typeof Long;
    Decoder = require('kafkajs/src/protocol/decoder.js') as typeof Decoder;
  } catch {
    // Not the layout we know (a repackaged kafkajs): run without them, nothing else depends on them.
    return false;
  }
  if (Long[PATCHED] === true) return true;
  if (
    typeof Long.fromString !== 'function' ||
    typeof Long.fromNumber !== 'function' ||
    typeof Long.ZERO.value !== 'bigint' ||
    typeof Decoder.prototype.readVarLong !== 'function'
  )
    return false;
  installParseCache(Long);
  installVarLong(Decoder.prototype, Long);
  Long[PATCHED] = true;
  return true;
}

function installVarLong(decoder: KafkajsDecoder, Long: KafkajsLongClass): void {
  const slow = decoder.readVarLong;
  // One cursor for every call: decoding is synchronous.
  const cursor: Cursor = { buf: NO_BYTES, at: 0, end: 0 };
  decoder.readVarLong = function readVarLong(this: KafkajsDecoder): KafkajsLong {
    cursor.buf = this.buffer;
    cursor.at = this.offset;
    cursor.end = this.buffer.length;
    try {
      const n = varLong(cursor);
      this.offset = cursor.at;
      return Long.fromNumber(n);
    } catch (e) {
      // Longer than 7 bytes (or cut off): kafkajs's own reader, with its own errors.
      if (e instanceof NotMine) return slow.call(this);
      throw e;
    } finally {
      cursor.buf = NO_BYTES;
    }
  };
}

function installParseCache(Long: KafkajsLongClass): void {
  const parse = Long.fromString.bind(Long);
  // Two entries, replaced in turn: a record decode asks for the timestamp, then the offset, of its batch.
  let key0: string | undefined;
  let key1: string | undefined;
  let long0 = Long.ZERO;
  let long1 = Long.ZERO;
  let replaceFirst = true;
  Long.fromString = function fromString(str: string): KafkajsLong {
    if (str === key0) return long0;
    if (str === key1) return long1;
    // Not cached: kafkajs's own parse, with its errors and special cases ('NaN', empty string).
    const long = parse(str);
    if (replaceFirst) {
      key0 = str;
      long0 = long;
    } else {
      key1 = str;
      long1 = long;
    }
    replaceFirst = !replaceFirst;
    return long;
  };
}
