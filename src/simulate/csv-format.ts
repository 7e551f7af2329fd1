/**
 * The public predictive-maintenance data set's CSV dialect: file names, headers, dates and field parsing.
 * Pure functions shared by the reader and the writer so that what we write is exactly what we accept.
 */
import { COMPONENTS, ERROR_IDS, MODELS } from '../features/index.js';
import type { RecordKind } from '../shared/records.js';

/** File name of each record kind without the optional `PdM_` prefix of the Kaggle/Azure distribution. */
export const CSV_FILE_NAMES = {
  telemetry: 'telemetry.csv',
  errors: 'errors.csv',
  maintenance: 'maint.csv',
  machines: 'machines.csv',
  failures: 'failures.csv',
} as const satisfies { readonly [K in RecordKind]: string };

/** Header columns of each file, as in the public data set (matched case-insensitively on read). */
export const CSV_HEADERS = {
  telemetry: ['datetime', 'machineID', 'volt', 'rotate', 'pressure', 'vibration'],
  errors: ['datetime', 'machineID', 'errorID'],
  maintenance: ['datetime', 'machineID', 'comp'],
  machines: ['machineID', 'model', 'age'],
  failures: ['datetime', 'machineID', 'failure'],
} as const satisfies { readonly [K in RecordKind]: readonly string[] };

/**
 * Tie order of timed records with equal `ts` across files; also the order in which the simulator emits
 * records of one instant, so that a fleet written with --out-csv reads back in exactly its original order.
 */
export const TIMED_KINDS = ['telemetry', 'errors', 'maintenance', 'failures'] as const;
export type TimedKind = (typeof TIMED_KINDS)[number];

export const VALID_ERROR_IDS: ReadonlySet<string> = new Set(ERROR_IDS);
export const VALID_COMPONENTS: ReadonlySet<string> = new Set(COMPONENTS);
export const VALID_MODELS: ReadonlySet<string> = new Set(MODELS);

const INT32_MAX = 2_147_483_647;

/** Thrown by the field parsers; the reader turns it into a rejection with file and line. */
export class FieldError extends Error {}

const ISO_OR_PLAIN =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
const KAGGLE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])$/;

function checkedUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  // Date.UTC silently rolls 2015-02-30 over into March: compare the fields to refuse impossible dates.
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  ) {
    throw new FieldError('impossible date or time');
  }
  return t;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * The reference form `YYYY-MM-DD HH:MM:SS` (or with `T`) without regex or Date objects: it is most of the
 * cost of reading a telemetry file. Undefined when `text` is not exactly that form (the general parser
 * then decides); throws for that form with impossible values.
 */
function parsePlainDate(text: string): number | undefined {
  if (text.length !== 19) return undefined;
  const sep = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    (sep !== 32 && sep !== 84) ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return undefined;
  }
  const y = digits(text, 0, 4);
  const mo = digits(text, 5, 2);
  const d = digits(text, 8, 2);
  const h = digits(text, 11, 2);
  const mi = digits(text, 14, 2);
  const sec = digits(text, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDays = mo === 2 && leap ? 29 : (DAYS_IN_MONTH[mo - 1] ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > monthDays || h > 23 || mi > 59 || sec > 59) {
    throw new FieldError('impossible date or time');
  }
  // Date.UTC maps years 0..99 to 1900..1999; setting the year explicitly avoids that quirk.
  return y >= 100
    ? Date.UTC(y, mo - 1, d, h, mi, sec)
    : new Date(0).setUTCFullYear(y, mo - 1, d) + ((h * 60 + mi) * 60 + sec) * 1000;
}

/**
 * Parses `YYYY-MM-DD HH:MM:SS` (UTC), the ISO forms `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` and the Kaggle
 * form `M/D/YYYY H:MM:SS AM`. Dates without an offset are UTC, as in the reference data set.
 */
export function parseCsvDate(text: string): number {
  const fast = parsePlainDate(text);
  if (fast !== undefined) return fast;
  const m = ISO_OR_PLAIN.exec(text);
  if (m) {
    const frac = m[7] ?? '';
    const ms = frac === '' ? 0 : Math.floor(Number(frac.padEnd(3, '0').slice(0, 3)));
    const t = checkedUtc(
      Number(m[1]),
      Number(m[2]),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6] ?? '0'),
      ms,
    );
    const zone = m[8];
    if (zone === undefined || zone === 'Z') return t;
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    return t - sign * offsetMin * 60_000;
  }
  const k = KAGGLE.exec(text);
  if (k) {
    const h12 = Number(k[4]);
    if (h12 < 1 || h12 > 12) throw new FieldError(`hour ${h12} is not 1..12 in "${text}"`);
    const pm = (k[7] ?? '').toUpperCase() === 'PM';
    const h = (h12 % 12) + (pm ? 12 : 0);
    return checkedUtc(Number(k[3]), Number(k[1]), Number(k[2]), h, Number(k[5]), Number(k[6] ?? '0'), 0);
  }
  throw new FieldError(`datetime "${text}" is not YYYY-MM-DD HH:MM:SS`);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DD HH:MM:SS`, with `.mmm` appended only when the instant has milliseconds. */
export function formatCsvDate(ts: number): string {
  const d = new Date(ts);
  const y = d.getUTCFullYear();
  if (!Number.isInteger(ts) || y < 0 || y > 9999) {
    throw new RangeError(`timestamp ${ts} cannot be written as YYYY-MM-DD HH:MM:SS`);
  }
  const base = `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  const ms = d.getUTCMilliseconds();
  return ms === 0 ? base : `${base}.${pad(ms, 3)}`;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i;

/**
 * A sensor value. `NaN`/`Infinity` (any case, also pandas' `inf`) are numbers, not format errors: the
 * feature engine must see them to record INVALID_VALUE. Empty or non-numeric text is a format error.
 */
export function parseSensor(text: string, column: string): number {
  if (DECIMAL.test(text)) return Number(text);
  const nf = NON_FINITE.exec(text);
  if (nf) {
    if ((nf[2] ?? '').toLowerCase() === 'nan') return Number.NaN;
    return nf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  throw new FieldError(text === '' ? `${column} is missing` : `${column} "${text}" is not a number`);
}

/** A non-negative Avro `int` (machineID, age). */
export function parseNonNegativeInt(text: string, column: string): number {
  // Fast path for the usual short unsigned decimal; anything else goes through the strict check below.
  if (text.length > 0 && text.length < 10) {
    const n = digits(text, 0, text.length);
    if (n >= 0) return n;
  }
  if (!/^\+?\d+$/.test(text)) {
    throw new FieldError(
      text === '' ? `${column} is missing` : `${column} "${text}" is not a non-negative integer`,
    );
  }
  const n = Number(text);
  if (n > INT32_MAX) throw new FieldError(`${column} ${text} is larger than ${INT32_MAX}`);
  return n;
}

export function parseCode(text: string, column: string, valid: ReadonlySet<string>): string {
  if (!valid.has(text)) {
    throw new FieldError(
      text === '' ? `${column} is missing` : `${column} "${text}" is not one of ${[...valid].join(', ')}`,
    );
  }
  return text;
}

/** Splits one CSV line; the reference files never quote, but a field wrapped in plain quotes is unwrapped. */
export function splitCsvLine(line: string): string[] {
  const fields = line.split(',');
  for (let i = 0; i < fields.length; i++) {
    let f = (fields[i] ?? '').trim();
    if (f.length >= 2 && f.startsWith('"') && f.endsWith('"')) f = f.slice(1, -1).trim();
    fields[i] = f;
  }
  return fields;
}

/** A sensor value as CSV text: shortest round-trip form, so reading it back gives the same double. */
export function formatNumber(n: number): string {
  return String(n);
}
