import { describe, expect, it } from 'vitest';
import {
  FieldError,
  formatCsvDate,
  parseCsvDate,
  parseNonNegativeInt,
  parseSensor,
  splitCsvLine,
} from '../../../src/simulate/csv-format.js';

describe('parseCsvDate', () => {
  it.each([
    ['2015-01-01 06:00:00', Date.UTC(2015, 0, 1, 6)],
    ['2015-01-01T06:00:00', Date.UTC(2015, 0, 1, 6)],
    ['2015-01-01T06:00:00Z', Date.UTC(2015, 0, 1, 6)],
    ['2015-01-01T06:00:00.250Z', Date.UTC(2015, 0, 1, 6, 0, 0, 250)],
    ['2015-01-01 06:00:00.5', Date.UTC(2015, 0, 1, 6, 0, 0, 500)],
    ['2015-01-01T08:00:00+02:00', Date.UTC(2015, 0, 1, 6)],
    ['2015-01-01T01:30:00-0430', Date.UTC(2015, 0, 1, 6)],
    ['2015-01-01 06:00', Date.UTC(2015, 0, 1, 6)],
    ['2016-02-29 23:59:59', Date.UTC(2016, 1, 29, 23, 59, 59)],
    ['2000-02-29 00:00:00', Date.UTC(2000, 1, 29)],
    ['0050-03-01 00:00:00', new Date(0).setUTCFullYear(50, 2, 1)],
    ['1/1/2015 6:00:00 AM', Date.UTC(2015, 0, 1, 6)],
    ['12/31/2015 12:00:00 AM', Date.UTC(2015, 11, 31, 0)],
    ['12/31/2015 12:30:00 PM', Date.UTC(2015, 11, 31, 12, 30)],
    ['7/4/2015 11:15:00 pm', Date.UTC(2015, 6, 4, 23, 15)],
  ])('%s', (text, expected) => {
    expect(parseCsvDate(text)).toBe(expected);
  });

  it.each([
    ['2015-02-29 00:00:00', 'impossible'],
    ['1900-02-29 00:00:00', 'impossible'],
    ['2015-13-01 00:00:00', 'impossible'],
    ['2015-01-01 24:00:00', 'impossible'],
    ['2015-01-01 06:60:00', 'impossible'],
    ['2015-04-31T00:00:00Z', 'impossible'],
    ['13/1/2015 6:00:00 AM', 'impossible'],
    ['1/1/2015 13:00:00 PM', 'not 1..12'],
    ['2015-01-01', 'is not YYYY-MM-DD HH:MM:SS'],
    ['', 'is not YYYY-MM-DD HH:MM:SS'],
    ['yesterday', 'is not YYYY-MM-DD HH:MM:SS'],
    ['2015-01-0a 06:00:00', 'is not YYYY-MM-DD HH:MM:SS'],
  ])('refuses %s', (text, reason) => {
    expect(() => parseCsvDate(text)).toThrow(FieldError);
    expect(() => parseCsvDate(text)).toThrow(reason);
  });

  it('round-trips with formatCsvDate', () => {
    for (const ts of [Date.UTC(2015, 0, 1, 6), Date.UTC(2026, 5, 30, 23, 59, 59, 7), 0]) {
      expect(parseCsvDate(formatCsvDate(ts))).toBe(ts);
    }
    expect(formatCsvDate(Date.UTC(2015, 0, 1, 6))).toBe('2015-01-01 06:00:00');
    expect(formatCsvDate(Date.UTC(2015, 0, 1, 6, 0, 0, 7))).toBe('2015-01-01 06:00:00.007');
    expect(() => formatCsvDate(1.5)).toThrow(RangeError);
  });
});

describe('field parsers', () => {
  it('reads sensor values, with NaN and infinities as numbers rather than errors', () => {
    expect(parseSensor('176.217853015625', 'volt')).toBe(176.217853015625);
    expect(parseSensor('-1e-3', 'volt')).toBe(-0.001);
    expect(parseSensor('.5', 'volt')).toBe(0.5);
    expect(parseSensor('NaN', 'volt')).toBeNaN();
    expect(parseSensor('nan', 'volt')).toBeNaN();
    expect(parseSensor('inf', 'volt')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSensor('-Infinity', 'volt')).toBe(Number.NEGATIVE_INFINITY);
    expect(() => parseSensor('', 'volt')).toThrow('volt is missing');
    expect(() => parseSensor('0x10', 'volt')).toThrow('volt "0x10" is not a number');
    expect(() => parseSensor('1,5', 'volt')).toThrow(FieldError);
  });

  it('reads non-negative int32 values strictly', () => {
    expect(parseNonNegativeInt('17', 'machineID')).toBe(17);
    expect(parseNonNegativeInt('+3', 'age')).toBe(3);
    expect(parseNonNegativeInt('2147483647', 'machineID')).toBe(2147483647);
    expect(() => parseNonNegativeInt('2147483648', 'machineID')).toThrow('larger than');
    expect(() => parseNonNegativeInt('1.0', 'machineID')).toThrow('not a non-negative integer');
    expect(() => parseNonNegativeInt('-1', 'age')).toThrow('not a non-negative integer');
    expect(() => parseNonNegativeInt('', 'age')).toThrow('age is missing');
  });

  it('splits lines, trimming and unwrapping plain quotes', () => {
    expect(splitCsvLine(' 2015-01-01 06:00:00 ,"1", error1')).toEqual(['2015-01-01 06:00:00', '1', 'error1']);
    expect(splitCsvLine('a,,b')).toEqual(['a', '', 'b']);
  });
});
