/**
 * State restore without checkpoints. Window state lives only in memory; on start and after every
 * rebalance the engine rebuilds it by replaying Kafka from an event time early enough to cover every
 * open bucket's longest window, and suppresses output for buckets ClickHouse already has. Producers set
 * each message's Kafka timestamp to its event time or later (CreateTime at send), so the first offset
 * whose timestamp is ≥ T precedes every record with event time ≥ T: seeking there loses nothing.
 *
 * Which partition a machine lives on is read from where its predictions came from (`source_partition`,
 * the partition number of the task that closed the bucket), never computed with a partitioner formula:
 * devices with librdkafka (CRC32 `consistent_random`) and Java/JS producers (murmur2) place the same
 * key differently, and the engine must work with whichever the producers use.
 */
import { ConfigError } from '../shared/errors.js';
import { DAY_MS, HOUR_MS } from '../shared/records.js';
import { quoteIdent, TABLES, type ClickHouseConnection } from '../sink/index.js';
import { REPLACEMENT_CAP_DAYS, WINDOW_HOURS } from '../features/index.js';

export interface RestorePlan {
  /**
   * Last bucket written per machine by the engine under any model version, or by `rescore` under this one:
   * the engine emits only later buckets.
   */
  readonly resumeAfter: Map<number, number>;
  /** Partition number each machine with output was scored on (its latest prediction's source partition). */
  readonly homePartition: Map<number, number>;
  /**
   * Event time from which a telemetry partition's inputs are replayed; undefined when none of its machines
   * has output yet (then every input of the partition is replayed from its earliest retained offset).
   */
  replayFromMs(partition: number): number | undefined;
}

const LONGEST_WINDOW_MS = Math.max(...WINDOW_HOURS) * HOUR_MS;

export interface PlanRestoreOptions {
  readonly ch: ClickHouseConnection;
  readonly database: string;
  readonly modelVersion: string;
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /**
   * Replay never starts more than this before the newest written bucket of the partition: a machine
   * silent for longer restarts its windows from there. @default 7 days
   */
  readonly maxReplayMs?: number;
}

export async function planRestore(o: PlanRestoreOptions): Promise<RestorePlan> {
  const rows = await o.ch.query<{
    machine_id: number | string;
    last: number | string;
    partition: number | string;
    located: number | string;
  }>(
    // Rows written by `rescore` for buckets the engine never scored carry source_partition −1: they say
    // nothing about where the machine's events live, so only the engine's own rows place a machine.
    // The engine's own rows count whatever model wrote them: after a hot-swap (PDM_MODEL_WATCH_DIR) the
    // new version has no rows yet, and planning by it alone replayed and re-scored every bucket the
    // previous version had written (issue 13, item 3).
    `SELECT machine_id, toUInt32(max(bucket_ts)) AS last,
  argMaxIf(source_partition, bucket_ts, source_partition >= 0) AS partition,
  countIf(source_partition >= 0) AS located
FROM ${quoteIdent(o.database)}.${TABLES.predictions}
WHERE model_version = {mv:String} OR source_partition >= 0
GROUP BY machine_id`,
    { mv: o.modelVersion },
  );
  const resumeAfter = new Map<number, number>();
  const homePartition = new Map<number, number>();
  const byPartition = new Map<number, { oldest: number; newest: number }>();
  for (const r of rows) {
    const machineId = Number(r.machine_id);
    const lastMs = Number(r.last) * 1000;
    const p = Number(r.partition);
    resumeAfter.set(machineId, lastMs);
    if (Number(r.located) === 0) continue;
    homePartition.set(machineId, p);
    const span = byPartition.get(p) ?? { oldest: lastMs, newest: lastMs };
    byPartition.set(p, { oldest: Math.min(span.oldest, lastMs), newest: Math.max(span.newest, lastMs) });
  }
  // The oldest open bucket of a machine with output is the one after its last written; its windows reach
  // back LONGEST_WINDOW, and events up to the allowed lateness (plus a bucket of slack) before that may
  // still belong to it. A machine of the same partition without output yet interleaves with the others in
  // the log, so its open buckets lie within the same reach of the partition's newest written bucket.
  const reach = LONGEST_WINDOW_MS + o.allowedLatenessMs + o.bucketMs;
  const maxReplayMs = o.maxReplayMs ?? 7 * DAY_MS;
  return {
    resumeAfter,
    homePartition,
    replayFromMs(partition) {
      const span = byPartition.get(partition);
      if (span === undefined) return undefined;
      const from = Math.min(span.oldest + o.bucketMs - reach, span.newest - reach - o.bucketMs);
      return Math.max(from, span.newest - maxReplayMs);
    },
  };
}

/** Where each input of a partition is replayed from, as an event time (0 = earliest). */
export function replayStartMs(
  kind: 'telemetry' | 'errors' | 'maintenance' | 'machines',
  replayFromMs: number | undefined,
): number {
  if (replayFromMs === undefined || kind === 'machines') return 0;
  // Days since replacement look back up to the cap: replay a year of (sparse) maintenance.
  if (kind === 'maintenance') return Math.max(0, replayFromMs - REPLACEMENT_CAP_DAYS * DAY_MS);
  return Math.max(0, replayFromMs);
}

/**
 * Co-partitioning is what makes a partition's side inputs complete: refuses to run without it. Resolves to
 * the common partition count.
 */
export async function checkCoPartitioned(
  topics: readonly string[],
  endOffsets: (topic: string) => Promise<ReadonlyMap<number, string>>,
): Promise<number> {
  const counts = await Promise.all(topics.map(async (t) => (await endOffsets(t)).size));
  if (new Set(counts).size !== 1) {
    throw new ConfigError(
      `topics ${topics.map((t, i) => `${t}=${counts[i]}`).join(', ')} must have the same partition count (a machine's events must share a partition number)`,
      { code: 'TOPICS_NOT_COPARTITIONED', stage: 'pipeline' },
    );
  }
  return counts[0] ?? 0;
}

/** The log line of a restore: where each partition's replay starts. */
export function restoreSummary(
  plan: RestorePlan,
  partitions: readonly number[],
): { partitions: number[]; replayFrom: string[]; machinesWithOutput: number } {
  return {
    partitions: [...partitions],
    replayFrom: partitions.map((p) => {
      const from = plan.replayFromMs(p);
      return `${p}:${from === undefined ? 'earliest' : new Date(from).toISOString()}`;
    }),
    machinesWithOutput: plan.resumeAfter.size,
  };
}
