/**
 * Which dead letters a `dlq` command acts on, and the WHERE clause that selects them. User input reaches
 * SQL only as `{name:Type}` query parameters; the parameter names are ours (`reasons`, `id3_offset`, …).
 */
import { parseIsoInstant } from '../shared/instant.js';
import { dateTimeRange, type QueryParams } from '../sink/index.js';

/** A dead letter's place in Kafka (`--ids topic:partition:offset`). */
export interface RecordId {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  readonly offset: string;
}

export interface DeadLetterFilter {
  readonly reasons?: readonly string[] | undefined;
  readonly topics?: readonly string[] | undefined;
  /** `dead_lettered_at >= fromMs` (not `message_ts`: a producer's clock may put that anywhere, even 1970). */
  readonly fromMs?: number | undefined;
  /** `dead_lettered_at < toMs`. */
  readonly toMs?: number | undefined;
  readonly ids?: readonly RecordId[] | undefined;
}

/** At most this many `--ids` per command: each becomes three query parameters. */
export const MAX_IDS = 1_000;

/** Kafka's legal topic names (and so no `:` or `/`, the separators of ids and `pdm-replayed-from`). */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const OFFSET = /^(0|[1-9][0-9]{0,18})$/;
const INT64_MAX = 9_223_372_036_854_775_807n;

export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
}

/** `topic:partition:offset[,topic:partition:offset…]`. Throws {@link FilterSyntaxError}. */
export function parseRecordIds(text: string): RecordId[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new FilterSyntaxError('no ids given (topic:partition:offset,…)');
  if (parts.length > MAX_IDS) throw new FilterSyntaxError(`more than ${MAX_IDS} ids; use other filters`);
  return parts.map((p) => {
    const m = /^(.+):(\d{1,10}):(\d+)$/.exec(p);
    const topic = m?.[1];
    const partition = Number(m?.[2]);
    const offset = m?.[3];
    if (topic === undefined || offset === undefined || !TOPIC.test(topic)) {
      throw new FilterSyntaxError(`"${p}" is not topic:partition:offset`);
    }
    if (!Number.isSafeInteger(partition) || partition > 2_147_483_647) {
      throw new FilterSyntaxError(`"${p}": partition out of range`);
    }
    if (!OFFSET.test(offset) || BigInt(offset) > INT64_MAX) {
      throw new FilterSyntaxError(`"${p}": offset out of range`);
    }
    return { topic, partition, offset };
  });
}

/** Comma-separated names (`--reason A,B`), each non-empty; duplicates dropped. */
export function parseNameList(text: string, what: string): string[] {
  const names = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
  if (names.length === 0) throw new FilterSyntaxError(`no ${what} given`);
  for (const n of names) {
    if (n.length > 249) throw new FilterSyntaxError(`${what} "${n.slice(0, 20)}…" is too long`);
  }
  return names;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `90s`, `15m`, `2h`, `7d`, `1w` → milliseconds. Throws {@link FilterSyntaxError}. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d{1,9})\s*([smhdw])\s*$/.exec(text);
  const n = Number(m?.[1]);
  const unit = m?.[2] as keyof typeof UNIT_MS | undefined;
  if (unit === undefined || !Number.isSafeInteger(n) || n < 1) {
    throw new FilterSyntaxError(`"${text}" is not a duration like 90s, 15m, 2h, 7d`);
  }
  return n * UNIT_MS[unit];
}

/**
 * An instant: ISO 8601 (`2026-11-30T10:00:00Z`; without a zone it is UTC), `YYYY-MM-DD hh:mm:ss` (UTC,
 * as ClickHouse prints it), or a duration meaning that long before `nowMs` (`2h`).
 */
export function parseInstantMs(text: string, nowMs: number): number {
  const t = text.trim();
  if (/^\d+\s*[smhdw]$/.test(t)) return nowMs - parseDurationMs(t);
  const ms = parseIsoInstant(t);
  if (ms !== undefined) return ms;
  throw new FilterSyntaxError(
    `"${text}" is not a time (2026-11-30T10:00:00Z, "2026-11-30 10:00:00" UTC, or 2h ago)`,
  );
}

/** True when the filter selects by nothing: replay and dismiss refuse that unless `--all` is given. */
export function isEmptyFilter(f: DeadLetterFilter): boolean {
  return (
    (f.reasons?.length ?? 0) === 0 &&
    (f.topics?.length ?? 0) === 0 &&
    f.fromMs === undefined &&
    f.toMs === undefined &&
    (f.ids?.length ?? 0) === 0
  );
}

/** `WHERE …` (or '') for `filter` with its parameters; columns are those of `dead_letters`. */
export function filterSql(filter: DeadLetterFilter): { where: string; params: QueryParams } {
  const clauses: string[] = [];
  const params: Record<string, QueryParams[string]> = {};
  if (filter.reasons !== undefined && filter.reasons.length > 0) {
    clauses.push('has({reasons:Array(String)}, reason)');
    params['reasons'] = filter.reasons;
  }
  if (filter.topics !== undefined && filter.topics.length > 0) {
    clauses.push('has({topics:Array(String)}, topic)');
    params['topics'] = filter.topics;
  }
  // Whole seconds, rounded outward to include the edges: 18.16 stores dead_lettered_at in seconds.
  dateTimeRange(
    'dead_lettered_at',
    filter.fromMs === undefined ? undefined : Math.floor(filter.fromMs / 1000),
    filter.toMs === undefined ? undefined : Math.ceil(filter.toMs / 1000),
    clauses,
    params,
  );
  if (filter.ids !== undefined && filter.ids.length > 0) {
    const any = filter.ids.map((id, i) => {
      params[`id${i}_topic`] = id.topic;
      params[`id${i}_partition`] = id.partition;
      params[`id${i}_offset`] = BigInt(id.offset);
      return `(topic = {id${i}_topic:String} AND partition = {id${i}_partition:Int32} AND offset = {id${i}_offset:Int64})`;
    });
    clauses.push(`(${any.join(' OR ')})`);
  }
  return { where: clauses.length === 0 ? '' : `WHERE ${clauses.join('\n  AND ')}`, params };
}
