import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { installLongParseCache } from '../../../src/ingest/kafkajs-long.js';

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
    expect(installLongParseCache()).toBe(true);
    expect(installLongParseCache()).toBe(true);
  });

  it('answers like BigInt for interleaved, repeated and new strings', () => {
    installLongParseCache();
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
    installLongParseCache();
    expect(Long.fromString('NaN').value).toBe(0n);
    expect(() => Long.fromString('')).toThrow('empty string');
    expect(() => Long.fromString('12x')).toThrow(SyntaxError);
  });

  it('hands out instances that operations do not change', () => {
    installLongParseCache();
    const a = Long.fromString('100');
    a.add(5);
    expect(Long.fromString('100').value).toBe(100n);
  });
});
