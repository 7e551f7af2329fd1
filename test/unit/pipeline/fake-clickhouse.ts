/**
 * An in-memory ClickHouseConnection for unit tests of the commit path. Each insert attempt is recorded and
 * is acknowledged at once, held pending until the test acknowledges or fails it, or failed transiently a
 * given number of times. Only acknowledged rows count as stored; the one query the engine runs against
 * stored rows (the restore plan: last bucket and its source partition per machine) is answered from them.
 */
import { TransientError } from '../../../src/shared/errors.js';
import type { ClickHouseConnection, QueryParams, ServerCapabilities } from '../../../src/sink/index.js';

export const MODERN_CAPS: ServerCapabilities = {
  version: '24.8.1',
  major: 24,
  minor: 8,
  queryParams: true,
  modernTypes: true,
};

export type InsertState = 'pending' | 'acked' | 'failed';

export interface FakeInsert {
  /** Table name without database and quotes, e.g. `predictions`. */
  readonly table: string;
  readonly rows: readonly object[];
  state: InsertState;
  /** Acknowledges a pending insert: its rows become stored. */
  ack(): void;
  /** Fails a pending insert (a TransientError by default: the writer retries it). */
  fail(err?: Error): void;
}

export interface FakeClickHouse extends ClickHouseConnection {
  /** Every insert attempt in order, including failed and pending ones. */
  readonly inserts: FakeInsert[];
  readonly queries: { readonly sql: string; readonly params: QueryParams | undefined }[];
  /** Acknowledged rows of a table (`predictions`, `feature_vectors`, `dead_letters`), in insert order. */
  stored<R extends object = Record<string, unknown>>(table: string): R[];
  /** From now on inserts stay pending until `ack()`/`fail()` on them or {@link release}. */
  hold(): void;
  /** Acknowledges every pending insert and acknowledges later ones at once again. */
  release(): void;
  pendingInserts(): FakeInsert[];
  /**
   * The next `times` inserts (into `table` only, when given) fail with `error` (default: a retryable
   * TransientError, as the real connection raises when ClickHouse is down).
   */
  failNext(times: number, options?: { table?: string; error?: Error }): void;
  /**
   * Resolves once at least `n` insert attempts were made in total (or into `table`); rejects after
   * `timeoutMs`, so that a writer that stopped inserting fails the test with a message, not a timeout.
   */
  insertsReached(n: number, table?: string, timeoutMs?: number): Promise<void>;
  closed: boolean;
}

/** `"db".predictions`, `` `db`.predictions `` or `predictions` → `predictions`. */
export function bareTable(name: string): string {
  const last = name.slice(name.lastIndexOf('.') + 1);
  return last.replace(/^[`"]|[`"]$/g, '');
}

function parseDateTime(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

interface StoredPrediction {
  readonly machine_id: number;
  readonly bucket_ts: string;
  readonly model_version: string;
  readonly source_partition: number;
}

/** The restore query: per machine of the model version, its last bucket (s) and that bucket's partition. */
function answerRestoreQuery(rows: readonly StoredPrediction[], params: QueryParams | undefined): object[] {
  const mv = params?.['mv'];
  const last = new Map<number, { ms: number; partition: number }>();
  for (const r of rows) {
    if (typeof mv === 'string' && r.model_version !== mv) continue;
    const ms = parseDateTime(r.bucket_ts);
    const seen = last.get(r.machine_id);
    if (seen === undefined || ms >= seen.ms) last.set(r.machine_id, { ms, partition: r.source_partition });
  }
  // ClickHouse's JSON output quotes 64-bit integers: answer with strings like the server would.
  return [...last].map(([machineId, v]) => ({
    machine_id: String(machineId),
    last: String(v.ms / 1000),
    partition: String(v.partition),
    source_partition: String(v.partition),
    located: '1',
  }));
}

export function createFakeClickHouse(): FakeClickHouse {
  const inserts: FakeInsert[] = [];
  const queries: { sql: string; params: QueryParams | undefined }[] = [];
  const stored = new Map<string, object[]>();
  const failures: { table: string | undefined; error: Error }[] = [];
  const waiters: { n: number; table: string | undefined; resolve: () => void }[] = [];
  let holding = false;

  const count = (table: string | undefined) =>
    table === undefined ? inserts.length : inserts.filter((i) => i.table === table).length;

  function notify(): void {
    for (const w of waiters.splice(0)) {
      if (count(w.table) >= w.n) w.resolve();
      else waiters.push(w);
    }
  }

  const fake: FakeClickHouse = {
    inserts,
    queries,
    closed: false,
    stored<R extends object>(table: string) {
      return (stored.get(table) ?? []) as R[];
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const i of inserts) if (i.state === 'pending') i.ack();
    },
    pendingInserts: () => inserts.filter((i) => i.state === 'pending'),
    failNext(times, options = {}) {
      const error =
        options.error ??
        new TransientError('insert: ClickHouse unreachable: ECONNREFUSED (fake)', {
          code: 'CLICKHOUSE_UNAVAILABLE',
          stage: 'sink',
        });
      for (let i = 0; i < times; i++) failures.push({ table: options.table, error });
    },
    insertsReached(n, table, timeoutMs = 2_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `only ${count(table)} of ${n} inserts${table === undefined ? '' : ` into ${table}`} made`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          n,
          table,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        notify();
      });
    },
    capabilities: () => Promise.resolve(MODERN_CAPS),
    exec: () => Promise.resolve(),
    query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      queries.push({ sql, params });
      if (/\bpredictions\b/.test(sql) && /GROUP BY\s+machine_id/i.test(sql)) {
        return Promise.resolve(
          answerRestoreQuery(fake.stored<StoredPrediction>('predictions'), params) as T[],
        );
      }
      return Promise.reject(new Error(`fake ClickHouse cannot answer: ${sql}`));
    },
    insert(table, rows) {
      const name = bareTable(table);
      return new Promise<void>((resolve, reject) => {
        const entry: FakeInsert = {
          table: name,
          rows,
          state: 'pending',
          ack() {
            if (entry.state !== 'pending') throw new Error(`insert into ${name} already ${entry.state}`);
            entry.state = 'acked';
            const list = stored.get(name) ?? [];
            list.push(...rows);
            stored.set(name, list);
            resolve();
          },
          fail(err) {
            if (entry.state !== 'pending') throw new Error(`insert into ${name} already ${entry.state}`);
            entry.state = 'failed';
            reject(
              err ??
                new TransientError('insert: ClickHouse error 999 (fake)', {
                  code: 'CLICKHOUSE_UNAVAILABLE',
                  stage: 'sink',
                }),
            );
          },
        };
        inserts.push(entry);
        const f = failures.findIndex((x) => x.table === undefined || x.table === name);
        if (f >= 0) {
          const [failure] = failures.splice(f, 1);
          entry.fail(failure?.error);
        } else if (!holding) {
          entry.ack();
        }
        notify();
      });
    },
    ping: () => Promise.resolve(true),
    close() {
      fake.closed = true;
      return Promise.resolve();
    },
  };
  return fake;
}
