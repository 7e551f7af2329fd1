/**
 * `pdm_dead_letter_depth{reason,topic}`: unresolved dead letters, read from ClickHouse when Prometheus
 * scrapes (not per batch: resolutions are written by `dlq replay`/`dismiss`, outside the engine). One query
 * per `cacheMs` at most, whatever the number of scrapers. A failing or slow query never fails the scrape:
 * the last known values stay exported, `pdm_dead_letter_depth_errors_total` counts the failure and
 * `pdm_dead_letter_depth_age_seconds` says how old the values are.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ClickHouseConnection, ServerCapabilities } from '../sink/index.js';
import { createDeadLetterStore, type DepthRow } from './store.js';

export interface DeadLetterDepthGaugeOptions {
  readonly registry: Registry;
  readonly ch: ClickHouseConnection;
  readonly database: string;
  readonly caps?: Pick<ServerCapabilities, 'modernTypes'>;
  /** A query result is reused for this long. @default 5_000 */
  readonly cacheMs?: number;
  /** A query slower than this is abandoned for this scrape (values stay as they were). @default 2_000 */
  readonly timeoutMs?: number;
  readonly log?: Logger;
  /** Injected for tests. @default Date.now */
  readonly now?: () => number;
  /** Injected for tests. @default unresolved depth from `dead_letters_unresolved` */
  readonly readDepth?: () => Promise<readonly DepthRow[]>;
}

export interface DeadLetterDepthGauge {
  readonly gauge: Gauge<'reason' | 'topic'>;
  readonly errors: Counter;
  readonly age: Gauge;
  /** Refreshes now if the cache is stale; what a scrape does. Never rejects. */
  refresh(): Promise<void>;
}

/** Registers the depth gauge (and its error counter and age gauge) on `registry`. */
export function registerDeadLetterDepthGauge(options: DeadLetterDepthGaugeOptions): DeadLetterDepthGauge {
  const cacheMs = options.cacheMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const now = options.now ?? Date.now;
  const store = createDeadLetterStore(options.ch, options.database, options.caps ?? { modernTypes: false });
  const readDepth = options.readDepth ?? (() => store.depth());
  const registers = [options.registry];

  let values: readonly DepthRow[] = [];
  let readAtMs: number | undefined;
  let inFlight: Promise<void> | undefined;
  /** Every (reason, topic) exported so far; reason × topic is a small set (reasons are a closed list). */
  const seen = new Map<string, { reason: string; topic: string }>();

  const errors = new Counter({
    name: 'pdm_dead_letter_depth_errors_total',
    help: 'Failed or timed-out ClickHouse reads of the dead-letter depth (the gauge keeps its last values)',
    registers,
    // Each metric of the three refreshes on collect: the registry collects them in registration order.
    async collect() {
      await refresh();
    },
  });
  async function read(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    });
    try {
      values = await Promise.race([readDepth(), timeout]);
      readAtMs = now();
    } catch (err) {
      // Counted, logged and otherwise swallowed: a scrape must not fail because ClickHouse is slow or
      // down (pdm_paused and the ClickHouse alerts report that); the depth keeps its last values.
      errors.inc();
      options.log?.warn({ err: errorMessage(err) }, 'reading the dead-letter depth failed');
    } finally {
      clearTimeout(timer);
    }
  }

  function refresh(): Promise<void> {
    if (readAtMs !== undefined && now() - readAtMs < cacheMs) return Promise.resolve();
    inFlight ??= read().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const gauge = new Gauge({
    name: 'pdm_dead_letter_depth',
    help: 'Dead letters not yet replayed or dismissed (ClickHouse view dead_letters_unresolved), by reason and topic',
    labelNames: ['reason', 'topic'] as const,
    registers,
    async collect() {
      await refresh();
      // A (reason, topic) resolved entirely reads 0 rather than vanishing, so graphs and alerts see it drop.
      for (const labels of seen.values()) this.set(labels, 0);
      for (const v of values) {
        const labels = { reason: v.reason, topic: v.topic };
        seen.set(`${v.reason}\u0000${v.topic}`, labels);
        this.set(labels, v.depth);
      }
    },
  });
  const age = new Gauge({
    name: 'pdm_dead_letter_depth_age_seconds',
    help: 'Age of the values of pdm_dead_letter_depth (grows while ClickHouse cannot be read; -1 before the first read)',
    registers,
    async collect() {
      await refresh();
      this.set(readAtMs === undefined ? -1 : (now() - readAtMs) / 1000);
    },
  });
  return { gauge, errors, age, refresh };
}
