import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { installLongFastPaths } from '../../../src/ingest/kafkajs-long.js';

interface Long {
  readonly value: bigint;
  add(n: number): Long;
  toString(): string;
}
const Long = createRequire(import.meta.url)('kafkajs/src/utils/long.js') as {
  fromValue(v: string): Long;
  fromString(v: string): Long;
};

describe('kafkajs Long parse cache', () => {
  it('installs once on kafkajs 2.2.4', () => {
    expect(installLongFastPaths()).toBe(true);
    expect(installLongFastPaths()).toBe(true);
  });

  it('answers like BigInt for interleaved, repeated and new strings', () => {
    installLongFastPaths();
    const strings = ['0', '9007199254740993', '1767225600000', '-1', '42', '9223372036854775807'];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < strings.length; i++) {
        // The record decoder's pattern: timestamp, then offset, of the same batch header, many times.
        for (const s of [strings[i], strings[(i + 1) % strings.length], strings[i]] as string[]) {
          expect(Long.fromValue(s).value).toBe(BigInt(s));
          expect(Long.fromString(s).add(3).toString()).toBe(String(BigInt(s) + 3n));
        }
      }
    }
  });

  it("keeps kafkajs's own special cases and errors", () => {
    installLongFastPaths();
    expect(Long.fromString('NaN').value).toBe(0n);
    expect(() => Long.fromString('')).toThrow('empty string');
    expect(() => Long.fromString('12x')).toThrow(SyntaxError);
  });

  it('hands out instances that operations do not change', () => {
    installLongFastPaths();
    const a = Long.fromString('100');
    a.add(5);
    expect(Long.fromString('100').value).toBe(100n);
  });
});

/** The Kafka wire encoding of a record's varlong (zigzag, 7 bits per byte, low bits first). */
function varlong(v: bigint): number[] {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return out;
}

const Decoder = createRequire(import.meta.url)('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => {
  offset: number;
  readVarLong(): Long;
  readInt8(): number;
};

describe('kafkajs readVarLong fast path', () => {
  const values: bigint[] = [0n, 1n, -1n, 63n, -64n, 64n, -65n, 1767225600000n, -1767225600000n, 3_600_000n];
  for (let k = 1; k < 63; k++) values.push(1n << BigInt(k), (1n << BigInt(k)) - 1n, -(1n << BigInt(k)));
  values.push(-(1n << 63n), (1n << 63n) - 1n); // the int64 range's ends
  // 6, 7 and 8 encoded bytes: the edges of the number path (7 bytes, 49 bits) and of the fallback.
  for (const bits of [41, 42, 48, 49, 50, 55, 56])
    values.push((1n << BigInt(bits)) - 1n, -(1n << BigInt(bits)));

  it('decodes every size of varlong to the value encoded, and leaves the decoder after it', () => {
    installLongFastPaths();
    // All values back to back, then a marker byte: each read must end exactly where the next begins.
    const bytes = values.flatMap(varlong);
    const d = new Decoder(Buffer.from([...bytes, 0x2a]));
    for (const v of values) expect(d.readVarLong().value).toBe(v);
    expect(d.readInt8()).toBe(0x2a);
    expect(new Set(values.map((v) => varlong(v).length))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  });

  it('returns a kafkajs Long that behaves like one', () => {
    installLongFastPaths();
    const d = new Decoder(Buffer.from(varlong(-5n)));
    const l = d.readVarLong();
    expect(l.add(7).toString()).toBe('2');
    expect(Object.getPrototypeOf(l)).toBe(Object.getPrototypeOf(Long.fromString('1')));
  });

  it("hands a varlong that runs past the buffer's end to kafkajs's own method", () => {
    installLongFastPaths();
    // kafkajs reads past the end as zero bits and stops: 0x81 0x81 → 1 + 128 = 129 → zigzag −65.
    const d = new Decoder(Buffer.from([0x81, 0x81]));
    expect(d.readVarLong().value).toBe(-65n);
    expect(d.offset).toBe(3);
  });
});
