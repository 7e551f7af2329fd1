/**
 * A parse cache for kafkajs's 64-bit `Long`, the largest single frame of a backlog's CPU profile.
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

interface KafkajsLong {
  readonly value: bigint;
}
interface KafkajsLongClass {
  fromString(str: string): KafkajsLong;
  readonly ZERO: KafkajsLong;
}

const PATCHED = Symbol.for('pdm-stream.kafkajs-long-cache');
const KAFKAJS_VERSION = '2.2.4';

/** Installs the cache once per process; true when it is (or already was) in place. */
export function installLongParseCache(): boolean {
  const require = createRequire(import.meta.url);
  let Long: KafkajsLongClass & { [PATCHED]?: true };
  try {
    const version = (require('kafkajs/package.json') as { version?: string }).version;
    if (version !== KAFKAJS_VERSION) return false;
    Long = require('kafkajs/src/utils/long.js') as typeof Long;
  } catch {
    // Not the layout we know (a repackaged kafkajs): run without the cache, nothing else depends on it.
    return false;
  }
  if (Long[PATCHED] === true) return true;
  if (typeof Long.fromString !== 'function' || typeof Long.ZERO.value !== 'bigint') return false;
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
  Long[PATCHED] = true;
  return true;
}
