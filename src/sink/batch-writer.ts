import type { Logger } from '../shared/logger.js';
import { withRetry } from '../shared/retry.js';
import type { ClickHouseConnection } from './clickhouse.js';
import type { RowBinaryFormat } from './row-binary.js';

export interface BatchWriterOptions<R extends object = object> {
  readonly ch: ClickHouseConnection;
  /** `db.table`, already quoted/validated by the caller. */
  readonly table: string;
  /** Flush when this many rows are queued. @default 10_000 */
  readonly maxRows?: number;
  /**
   * Flush queued rows at the latest this long after the first was queued; 0 sends them on the next turn of
   * the event loop (rows queued in the same turn share one insert). @default 1_000
   */
  readonly flushMs?: number;
  readonly log?: Logger;
  /** Send rows as RowBinary of these columns. @default JSONEachRow */
  readonly format?: RowBinaryFormat<R>;
  /** Observes each acknowledged insert (metrics). */
  readonly onInsert?: (rows: number, ms: number) => void;
  /** Observes each failed attempt (metrics); the writer keeps retrying transient failures. */
  readonly onError?: (err: unknown, attempt: number) => void;
}

export interface BatchWriter<R extends object> {
  /**
   * Queues rows. The promise resolves once ClickHouse has acknowledged them: callers commit Kafka offsets
   * only after that. Transient failures (ClickHouse down) are retried with backoff, so the promise simply
   * takes longer; only a non-retryable failure (e.g. a schema mismatch) rejects it.
   */
  write(rows: readonly R[]): Promise<void>;
  /** Sends everything queued now and waits for the acknowledgement. */
  flush(): Promise<void>;
  /** Flushes, then stops; retries in progress give up at `close`. */
  close(): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export function createBatchWriter<R extends object>(options: BatchWriterOptions<R>): BatchWriter<R> {
  const maxRows = options.maxRows ?? 10_000;
  const flushMs = options.flushMs ?? 1_000;
  const abort = new AbortController();
  let queue: R[] = [];
  let waiters: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;
  // One insert at a time keeps rows in order and bounds the load on ClickHouse.
  let chain: Promise<void> = Promise.resolve();

  function send(): Promise<void> {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (queue.length === 0) return chain;
    const rows = queue;
    const ws = waiters;
    queue = [];
    waiters = [];
    chain = chain.then(async () => {
      const started = performance.now();
      try {
        await withRetry(() => options.ch.insert(options.table, rows, options.format), {
          initialMs: 250,
          maxMs: 15_000,
          signal: abort.signal,
          onRetry: (err, attempt, delayMs) => {
            options.onError?.(err, attempt);
            options.log?.warn(
              { table: options.table, rows: rows.length, attempt, delayMs, err: (err as Error).message },
              'ClickHouse insert failed; retrying',
            );
          },
        });
        options.onInsert?.(rows.length, performance.now() - started);
        for (const w of ws) w.resolve();
      } catch (err) {
        for (const w of ws) w.reject(err);
      }
    });
    return chain;
  }

  return {
    write(rows) {
      if (abort.signal.aborted) return Promise.reject(new Error(`writer for ${options.table} is closed`));
      if (rows.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        for (const r of rows) queue.push(r);
        waiters.push({ resolve, reject });
        if (queue.length >= maxRows) void send();
        else timer ??= setTimeout(() => void send(), flushMs);
      });
    },
    flush: () => send(),
    async close() {
      await send();
      abort.abort();
    },
  };
}
