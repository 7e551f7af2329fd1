import { describe, expect, it } from 'vitest';
import { bindParams, quoteString } from '../../../src/sink/index.js';
import { paramsForServer } from '../../../src/sink/bind.js';

describe('legacy typed binder (ClickHouse 18.x has no query parameters)', () => {
  it.each([
    ['plain', 'abc', "'abc'"],
    ['quote', "it's", "'it\\'s'"],
    ['backslash', 'a\\b', "'a\\\\b'"],
    ['injection attempt', "x'); DROP TABLE t; --", "'x\\'); DROP TABLE t; --'"],
    ['control bytes', 'a\nb\u0000', "'a\\x0ab\\x00'"],
    ['unicode', 'zürich ✓', "'zürich ✓'"],
  ])('quotes %s', (_n, input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });

  it('binds each placeholder as a literal of its declared type', () => {
    const sql = bindParams(
      'SELECT * FROM t WHERE a = {a:String} AND b > {b:UInt32} AND c < {c:Float64} AND d >= {d:DateTime} AND e IN {e:Array(String)}',
      {
        a: "o'k",
        b: 7,
        c: 1.5,
        d: new Date(1_000_000),
        e: ['x', "y'"],
      },
    );
    expect(sql).toBe(
      "SELECT * FROM t WHERE a = 'o\\'k' AND b > 7 AND c < toFloat64(1.5) AND d >= toDateTime(1000) AND e IN ['x', 'y\\'']",
    );
  });

  it.each([
    ['missing value', 'SELECT {a:String}', {}, /has no value/],
    ['string for an integer', 'SELECT {a:UInt32}', { a: '1 OR 1=1' }, /needs an integer/],
    ['negative unsigned', 'SELECT {a:UInt32}', { a: -1 }, /unsigned/],
    ['fractional integer', 'SELECT {a:Int64}', { a: 1.5 }, /needs an integer/],
    ['NaN float', 'SELECT {a:Float64}', { a: Number.NaN }, /finite/],
    ['number for a string', 'SELECT {a:String}', { a: 5 }, /needs a string/],
    ['unsupported type', 'SELECT {a:Map(String,String)}', { a: 'x' }, /not supported/],
  ])('refuses %s', (_n, sql, params, err) => {
    expect(() => bindParams(sql, params)).toThrow(err);
  });

  it('leaves SQL without placeholders untouched', () => {
    expect(bindParams("SELECT 'a{b}' FROM t", {})).toBe("SELECT 'a{b}' FROM t");
  });
});

describe('paramsForServer (real query parameters of current servers)', () => {
  it('sends DateTime parameters as 10-digit epoch seconds (current servers refuse `0`)', () => {
    const sql = 'SELECT 1 WHERE t >= {since:DateTime} AND n = {n:UInt32} AND d = {d:Date}';
    expect(paramsForServer(sql, { since: new Date(0), n: 7, d: new Date(86_400_000) })).toEqual({
      since: '0000000000',
      n: 7,
      d: 86_400,
    });
    expect(paramsForServer(sql, { since: new Date(1_700_000_000_000), n: 0, d: 'x' }).since).toBe(
      '1700000000',
    );
  });
});
