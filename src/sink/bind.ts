/**
 * Typed literal binding for `{name:Type}` placeholders, used ONLY when the server predates ClickHouse query
 * parameters (18.x). Modern servers get the same SQL and the values as real query parameters. Each value
 * is checked against its declared type and rendered as a literal of that type; nothing else of the SQL is
 * touched, so user input can never become SQL syntax.
 */
export type QueryParamValue = string | number | bigint | boolean | Date | readonly (string | number)[];
export type QueryParams = Readonly<Record<string, QueryParamValue>>;

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9_(), ]+)\}/g;
const INT = /^U?Int(8|16|32|64)$/;
const FLOAT = /^Float(32|64)$/;

/** Identifiers cannot be query parameters; the database name is validated by the config schema and quoted. */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`not a plain identifier: ${name}`);
  return `\`${name}\``;
}

/** ClickHouse single-quoted string literal: backslash escapes for quote, backslash and control bytes. */
export function quoteString(s: string): string {
  let out = "'";
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

function literal(name: string, type: string, value: QueryParamValue): string {
  const t = type.trim();
  const arr = /^Array\((.+)\)$/.exec(t);
  if (arr?.[1] !== undefined) {
    if (!Array.isArray(value)) throw new TypeError(`query parameter ${name}: ${t} needs an array`);
    const inner = arr[1];
    return `[${(value as readonly (string | number)[]).map((v) => literal(name, inner, v)).join(', ')}]`;
  }
  if (t === 'String') {
    if (typeof value !== 'string') throw new TypeError(`query parameter ${name}: String needs a string`);
    return quoteString(value);
  }
  if (INT.test(t)) {
    const text =
      typeof value === 'bigint' ? value.toString() : typeof value === 'number' ? String(value) : '';
    if (!/^-?\d+$/.test(text)) throw new TypeError(`query parameter ${name}: ${t} needs an integer`);
    if (t.startsWith('U') && text.startsWith('-'))
      throw new TypeError(`query parameter ${name}: ${t} is unsigned`);
    // A bare literal: validated digits only, and LIMIT/OFFSET accept nothing else on 18.x.
    return text;
  }
  if (FLOAT.test(t)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError(`query parameter ${name}: ${t} needs a finite number`);
    }
    return `to${t}(${String(value)})`;
  }
  if (t === 'DateTime') {
    const secs = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
    if (typeof secs !== 'number' || !Number.isSafeInteger(secs)) {
      throw new TypeError(`query parameter ${name}: DateTime needs a Date or epoch seconds`);
    }
    return `toDateTime(${secs})`;
  }
  throw new TypeError(`query parameter ${name}: type ${t} is not supported by the legacy binder`);
}

/** Replaces every `{name:Type}` with a typed literal. Throws when a parameter is missing or of the wrong type. */
export function bindParams(sql: string, params: QueryParams): string {
  return sql.replace(PLACEHOLDER, (_m, name: string, type: string) => {
    if (!Object.hasOwn(params, name)) throw new TypeError(`query parameter ${name} has no value`);
    return literal(name, type, params[name] as QueryParamValue);
  });
}

/**
 * Values as the HTTP interface expects them for real query parameters. A `{name:DateTime}` value goes as
 * epoch seconds padded to 10 digits: current servers refuse a Unix time of fewer than 5 digits (`0`).
 */
export function paramsForServer(sql: string, params: QueryParams): Record<string, unknown> {
  const dateTimes = new Set<string>();
  for (const m of sql.matchAll(PLACEHOLDER))
    if (m[2]?.trim() === 'DateTime' && m[1] !== undefined) dateTimes.add(m[1]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    const value = v instanceof Date ? Math.floor(v.getTime() / 1000) : v;
    out[k] =
      dateTimes.has(k) && typeof value === 'number' && value >= 0 ? String(value).padStart(10, '0') : value;
  }
  return out;
}

/** Largest value of a DateTime (seconds): 18.16 wraps larger parameters modulo 2^32, current servers clamp. */
const MAX_DATETIME_S = 0xffff_ffff;

/**
 * `column >= {from:DateTime}` and `column < {to:DateTime}` for bounds in whole seconds (the caller rounds:
 * inward or outward depends on the column's meaning), appended to `clauses` and `params`. Bounds outside
 * what a DateTime holds are not sent (18.16 would wrap them): at or before the epoch there is no lower
 * bound (current servers also refuse the DateTime parameter `0`) and an upper bound there selects nothing;
 * past 2106-02-07 a lower bound selects nothing and there is no upper bound.
 */
export function dateTimeRange(
  column: string,
  fromS: number | undefined,
  toS: number | undefined,
  clauses: string[],
  params: Record<string, QueryParamValue>,
): void {
  if (fromS !== undefined && fromS > MAX_DATETIME_S) {
    clauses.push('0');
    return;
  }
  if (fromS !== undefined && fromS > 0) {
    clauses.push(`${column} >= {from:DateTime}`);
    params['from'] = fromS;
  }
  if (toS !== undefined && toS <= MAX_DATETIME_S) {
    if (toS > 0) {
      clauses.push(`${column} < {to:DateTime}`);
      params['to'] = toS;
    } else clauses.push('0');
  }
}
