/**
 * Reading dead letters and writing their resolutions (migration 5: `dead_letter_resolutions`, the views
 * `dead_letters_unresolved` and `dead_letter_depth`). Depth = dead letters without a resolution row.
 */
import { ENGINE_VERSION } from '../shared/version.js';
import {
  formatInstant,
  quoteIdent,
  type ClickHouseConnection,
  type ServerCapabilities,
} from '../sink/index.js';
import { filterSql, MAX_IDS, type DeadLetterFilter } from './filters.js';

const DLQ_TABLES = {
  resolutions: 'dead_letter_resolutions',
  unresolved: 'dead_letters_unresolved',
  depth: 'dead_letter_depth',
} as const;

export type ResolutionAction = 'replayed' | 'dismissed';

export interface DepthRow {
  readonly reason: string;
  readonly topic: string;
  readonly depth: number;
  /** When the oldest unresolved one was dead-lettered (`YYYY-MM-DD hh:mm:ss[.mmm]` UTC). */
  readonly oldestAt: string;
  readonly newestAt: string;
}

export interface TopRow {
  readonly reason: string;
  readonly topic: string;
  readonly schemaId: number;
  readonly count: number;
  readonly firstAt: string;
  readonly lastAt: string;
  /** One error message of the group (scrubbed when written). */
  readonly example: string;
}

/** One dead letter as the lifecycle commands read it. */
export interface StoredDeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  /** Exact key bytes; null for rows written before migration 5 (then `key` is all there is). */
  readonly keyBase64: string | null;
  readonly payloadBase64: string;
  readonly payloadBytes: number;
  readonly reason: string;
  readonly stage: string;
  readonly errorMessage: string;
  readonly schemaId: number;
  readonly machineId: number;
  readonly messageTs: string;
  readonly messageTsMs: number;
  readonly deadLetteredAt: string;
  readonly replayCount: number;
  readonly replayedFrom: string;
}

export interface ResolutionRow {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly action: ResolutionAction;
  readonly note: string;
  /** Replay count the re-published record carries (replayed), or the dead letter's own (dismissed). */
  readonly replayCount: number;
  /** Where the replay landed; -1 when dismissed. */
  readonly replayedToPartition: number;
  readonly replayedToOffset: string;
}

export interface DeadLetterStore {
  depth(sinceMs?: number): Promise<DepthRow[]>;
  top(filter: DeadLetterFilter, limit: number, includeResolved?: boolean): Promise<TopRow[]>;
  /** Oldest first; unresolved only unless `includeResolved`. */
  list(filter: DeadLetterFilter, limit: number, includeResolved?: boolean): Promise<StoredDeadLetter[]>;
  resolve(rows: readonly ResolutionRow[], nowMs?: number): Promise<void>;
  /** Resolutions of these records (for `show --all`). */
  resolutions(ids: readonly { topic: string; partition: number; offset: string }[]): Promise<ResolutionRow[]>;
}

/** Widest `LIMIT` a command may ask for (UInt32 parameter). */
export const MAX_LIMIT = 1_000_000;

export function createDeadLetterStore(
  ch: ClickHouseConnection,
  database: string,
  caps: Pick<ServerCapabilities, 'modernTypes'>,
): DeadLetterStore {
  const d = quoteIdent(database);
  // Not the view dead_letters_latest: ClickHouse 18.16 fixed its columns when migration 4 created it, so it
  // lacks the columns of migration 5.
  const source = (includeResolved: boolean) =>
    includeResolved ? `${d}.dead_letters FINAL` : `${d}.${DLQ_TABLES.unresolved}`;
  return {
    async depth(sinceMs) {
      const rows = await ch.query<{
        reason: string;
        topic: string;
        depth: string;
        oldest: string;
        newest: string;
      }>(
        `SELECT reason, topic, toString(count()) AS depth,
  toString(min(dead_lettered_at)) AS oldest, toString(max(dead_lettered_at)) AS newest
FROM ${d}.${DLQ_TABLES.unresolved}
${sinceMs === undefined ? '' : 'WHERE dead_lettered_at >= {since:DateTime}'}
GROUP BY reason, topic
ORDER BY count() DESC, reason, topic`,
        sinceMs === undefined ? {} : { since: Math.floor(sinceMs / 1000) },
      );
      return rows.map((r) => ({
        reason: r.reason,
        topic: r.topic,
        depth: Number(r.depth),
        oldestAt: r.oldest,
        newestAt: r.newest,
      }));
    },
    async top(filter, limit, includeResolved = false) {
      const { where, params } = filterSql(filter);
      const rows = await ch.query<{
        reason: string;
        topic: string;
        schema_id: string | number;
        n: string;
        first: string;
        last: string;
        example: string;
      }>(
        `SELECT reason, topic, schema_id, toString(count()) AS n,
  toString(min(dead_lettered_at)) AS first, toString(max(dead_lettered_at)) AS last, any(error_message) AS example
FROM ${source(includeResolved)}
${where}
GROUP BY reason, topic, schema_id
ORDER BY count() DESC, reason, topic, schema_id
LIMIT {limit:UInt32}`,
        { ...params, limit },
      );
      return rows.map((r) => ({
        reason: r.reason,
        topic: r.topic,
        schemaId: Number(r.schema_id),
        count: Number(r.n),
        firstAt: r.first,
        lastAt: r.last,
        example: r.example,
      }));
    },
    async list(filter, limit, includeResolved = false) {
      const { where, params } = filterSql(filter);
      const rows = await ch.query<Record<string, string | number | null>>(
        // Raw columns, no `toString(x) AS x`: an alias shadows the column in WHERE. JSONEachRow prints
        // 64-bit integers quoted and DateTime as text on every version.
        `SELECT topic, partition, offset, key, key_base64, payload_base64, payload_bytes, reason, stage,
  error_message, schema_id, machine_id, message_ts, message_ts_ms, dead_lettered_at, replay_count, replayed_from
FROM ${source(includeResolved)}
${where}
ORDER BY dead_lettered_at, topic, partition, offset, reason
LIMIT {limit:UInt32}`,
        { ...params, limit },
      );
      return rows.map(toStored);
    },
    async resolve(rows, nowMs = Date.now()) {
      if (rows.length === 0) return;
      const at = formatInstant(nowMs, caps);
      await ch.insert(
        `${d}.${DLQ_TABLES.resolutions}`,
        rows.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          reason: r.reason,
          action: r.action,
          note: r.note,
          resolved_at: at,
          replay_count: r.replayCount,
          replayed_to_partition: r.replayedToPartition,
          replayed_to_offset: r.replayedToOffset,
          engine_version: ENGINE_VERSION,
        })),
      );
    },
    async resolutions(ids) {
      const rows: Record<string, string | number>[] = [];
      // In slices: each id is three parameters, and 18.16 binds them into the SQL text (max_query_size).
      for (let i = 0; i < ids.length; i += MAX_IDS) {
        const { where, params } = filterSql({ ids: ids.slice(i, i + MAX_IDS) });
        rows.push(
          ...(await ch.query<Record<string, string | number>>(
            `SELECT topic, partition, offset, reason, action, note, replay_count, replayed_to_partition, replayed_to_offset
FROM ${d}.${DLQ_TABLES.resolutions} FINAL
${where}`,
            params,
          )),
        );
      }
      return rows.map((r) => ({
        topic: String(r['topic']),
        partition: Number(r['partition']),
        offset: String(r['offset']),
        reason: String(r['reason']),
        action: r['action'] === 'replayed' ? 'replayed' : 'dismissed',
        note: String(r['note']),
        replayCount: Number(r['replay_count']),
        replayedToPartition: Number(r['replayed_to_partition']),
        replayedToOffset: String(r['replayed_to_offset']),
      }));
    },
  };
}

function toStored(r: Record<string, string | number | null>): StoredDeadLetter {
  const str = (k: string) => String(r[k] ?? '');
  const nullable = (k: string) => (r[k] === null || r[k] === undefined ? null : String(r[k]));
  return {
    topic: str('topic'),
    partition: Number(r['partition']),
    offset: str('offset'),
    key: nullable('key'),
    keyBase64: nullable('key_base64'),
    payloadBase64: str('payload_base64'),
    payloadBytes: Number(r['payload_bytes']),
    reason: str('reason'),
    stage: str('stage'),
    errorMessage: str('error_message'),
    schemaId: Number(r['schema_id']),
    machineId: Number(r['machine_id']),
    messageTs: str('message_ts'),
    messageTsMs: Number(r['message_ts_ms']),
    deadLetteredAt: str('dead_lettered_at'),
    replayCount: Number(r['replay_count']),
    replayedFrom: str('replayed_from'),
  };
}

/** A missing view or table (code 60) means the database predates migration 5. */
export function isMissingTable(err: unknown): boolean {
  return (
    err instanceof Error &&
    /\berror (60|81)\b|Code: (60|81)\b|UNKNOWN_TABLE|UNKNOWN_DATABASE/.test(err.message)
  );
}
