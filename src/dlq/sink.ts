import type { Logger } from '../shared/logger.js';
import {
  createBatchWriter,
  quoteIdent,
  TABLES,
  type ClickHouseConnection,
  type DeadLetterRow,
  type ServerCapabilities,
} from '../sink/index.js';
import { toDeadLetterRow, type DeadLetter } from './dead-letter.js';

export interface DeadLetterSink {
  /** Resolves when ClickHouse acknowledged the rows: offsets they cover may then be committed. */
  write(deadLetters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

export interface DeadLetterSinkOptions {
  readonly ch: ClickHouseConnection;
  readonly database: string;
  readonly caps: ServerCapabilities;
  readonly maxRows?: number;
  readonly flushMs?: number;
  readonly log?: Logger;
  readonly onInsert?: (rows: number, ms: number) => void;
  readonly onError?: (err: unknown) => void;
}

export function createDeadLetterSink(options: DeadLetterSinkOptions): DeadLetterSink {
  const writer = createBatchWriter<DeadLetterRow>({
    ch: options.ch,
    table: `${quoteIdent(options.database)}.${TABLES.deadLetters}`,
    ...(options.maxRows !== undefined ? { maxRows: options.maxRows } : {}),
    ...(options.flushMs !== undefined ? { flushMs: options.flushMs } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
    ...(options.onInsert !== undefined ? { onInsert: options.onInsert } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
  });
  return {
    write(deadLetters) {
      const now = Date.now();
      return writer.write(deadLetters.map((d) => toDeadLetterRow(d, options.caps, now)));
    },
    close: () => writer.close(),
  };
}

export interface DeadLetterDepth {
  readonly reason: string;
  readonly topic: string;
  readonly count: number;
  readonly lastAt: string;
}

/**
 * All dead letters by reason and topic (deduplicated, resolved or not), optionally dead-lettered since an
 * instant (`dead_lettered_at`: `message_ts` is the producer's clock, 1970 when absurd). The depth ops alert
 * on (unresolved only) is `createDeadLetterStore().depth()`.
 */
export async function deadLetterDepth(
  ch: ClickHouseConnection,
  database: string,
  sinceMs?: number,
): Promise<DeadLetterDepth[]> {
  // No bound at all rather than `>= 0`: current servers refuse the DateTime parameter `0`.
  const since = sinceMs === undefined || sinceMs <= 0 ? undefined : Math.floor(sinceMs / 1000);
  const rows = await ch.query<{ reason: string; topic: string; count: string; lastAt: string }>(
    `SELECT reason, topic, count() AS count, toString(max(dead_lettered_at)) AS lastAt
FROM ${quoteIdent(database)}.${TABLES.deadLetters} FINAL
${since === undefined ? '' : 'WHERE dead_lettered_at >= {since:DateTime}\n'}GROUP BY reason, topic
ORDER BY count DESC`,
    since === undefined ? {} : { since },
  );
  return rows.map((r) => ({ reason: r.reason, topic: r.topic, count: Number(r.count), lastAt: r.lastAt }));
}
