/**
 * Consumer lag measured from the broker: per assigned partition, log end offset minus the group's committed
 * offset, read every `intervalMs`. Unlike a value updated per processed batch, it keeps growing while
 * batches are held (ClickHouse or registry down) and records pile up.
 */
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { RecordSource, TopicPartition } from './record-source.js';

export interface PartitionLag extends TopicPartition {
  /** Messages after the committed offset (all of the log when nothing is committed yet). */
  readonly lag: number;
}

export interface LagPollerOptions {
  readonly source: Pick<RecordSource, 'committedOffsets' | 'endOffsets'>;
  /** Partitions to measure (read at each poll: the assignment changes with rebalances). */
  readonly assigned: () => readonly TopicPartition[];
  /** @default 10_000 (PDM_LAG_POLL_MS) */
  readonly intervalMs?: number;
  /** Every successful poll, with one entry per assigned partition (empty when nothing is assigned). */
  readonly onLag: (lags: readonly PartitionLag[]) => void;
  readonly log?: Logger;
}

export interface LagPoller {
  /** One measurement now (also what the timer runs); rejects when Kafka does not answer. */
  poll(): Promise<readonly PartitionLag[]>;
  close(): void;
}

/** Lag of each assigned partition from a topic's committed and end offsets ('-1' = nothing committed). */
export function partitionLags(
  assigned: readonly TopicPartition[],
  committed: ReadonlyMap<string, ReadonlyMap<number, string>>,
  ends: ReadonlyMap<string, ReadonlyMap<number, string>>,
): PartitionLag[] {
  const out: PartitionLag[] = [];
  for (const tp of assigned) {
    const end = ends.get(tp.topic)?.get(tp.partition);
    if (end === undefined) continue;
    const c = committed.get(tp.topic)?.get(tp.partition);
    const from = c === undefined || BigInt(c) < 0n ? 0n : BigInt(c);
    const lag = BigInt(end) - from;
    out.push({ topic: tp.topic, partition: tp.partition, lag: lag > 0n ? Number(lag) : 0 });
  }
  return out;
}

export function createLagPoller(options: LagPollerOptions): LagPoller {
  const intervalMs = options.intervalMs ?? 10_000;
  let inFlight: Promise<readonly PartitionLag[]> | undefined;

  async function measure(): Promise<readonly PartitionLag[]> {
    const assigned = options.assigned();
    const topics = [...new Set(assigned.map((tp) => tp.topic))];
    const reads = await Promise.all(
      topics.map(async (t) => {
        const [c, e] = await Promise.all([options.source.committedOffsets(t), options.source.endOffsets(t)]);
        return { t, c, e };
      }),
    );
    const lags = partitionLags(
      assigned,
      new Map(reads.map((r) => [r.t, r.c])),
      new Map(reads.map((r) => [r.t, r.e])),
    );
    options.onLag(lags);
    return lags;
  }

  function poll(): Promise<readonly PartitionLag[]> {
    // One read at a time: a slow broker must not pile up requests.
    inFlight ??= measure().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const timer = setInterval(() => {
    poll().catch((err: unknown) => {
      // Kafka unreachable: the source's outage handling reports it (warn lines, /readyz); the gauge keeps
      // its last values until the broker answers again.
      options.log?.debug({ err: errorMessage(err) }, 'consumer lag poll failed');
    });
  }, intervalMs);
  timer.unref();
  return {
    poll,
    close() {
      clearInterval(timer);
    },
  };
}
