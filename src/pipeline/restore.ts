/**
 * State restore without checkpoints. Window state lives only in memory; on start and after every
 * rebalance the engine rebuilds it by replaying Kafka from an event time early enough to cover every
 * open bucket's longest window, and suppresses output for buckets ClickHouse already has. Producers set
 * each message's Kafka timestamp to its event time, so seeking by timestamp is seeking by event time.
 */
import { DAY_MS, HOUR_MS } from '../shared/records.js';
import { quoteIdent, TABLES, type ClickHouseConnection } from '../sink/index.js';
import { REPLACEMENT_CAP_DAYS, WINDOW_HOURS } from '../features/index.js';

export interface RestorePlan {
  /** Last bucket written per machine (this model version): the engine emits only later buckets. */
  readonly resumeAfter: Map<number, number>;
  /**
   * Event time from which telemetry and errors are replayed; undefined when nothing was written yet
   * (then every input is replayed from its earliest retained offset).
   */
  readonly replayFromMs: number | undefined;
}

const LONGEST_WINDOW_MS = Math.max(...WINDOW_HOURS) * HOUR_MS;

export interface PlanRestoreOptions {
  readonly ch: ClickHouseConnection;
  readonly database: string;
  readonly modelVersion: string;
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  /**
   * Replay never starts more than this before the newest written bucket: a machine silent for longer
   * than this restarts its windows from there. @default 7 days
   */
  readonly maxReplayMs?: number;
}

export async function planRestore(o: PlanRestoreOptions): Promise<RestorePlan> {
  const rows = await o.ch.query<{ machine_id: number | string; last: number | string }>(
    `SELECT machine_id, toUInt32(max(bucket_ts)) AS last
FROM ${quoteIdent(o.database)}.${TABLES.predictions}
WHERE model_version = {mv:String}
GROUP BY machine_id`,
    { mv: o.modelVersion },
  );
  const resumeAfter = new Map<number, number>();
  let oldest = Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    const lastMs = Number(r.last) * 1000;
    resumeAfter.set(Number(r.machine_id), lastMs);
    if (lastMs < oldest) oldest = lastMs;
    if (lastMs > newest) newest = lastMs;
  }
  if (resumeAfter.size === 0) return { resumeAfter, replayFromMs: undefined };
  // The oldest open bucket is the one after the oldest written; its windows reach back LONGEST_WINDOW,
  // and events up to the allowed lateness (plus one bucket of slack) before that may still belong to it.
  const from = oldest + o.bucketMs - LONGEST_WINDOW_MS - o.allowedLatenessMs - o.bucketMs;
  return { resumeAfter, replayFromMs: Math.max(from, newest - (o.maxReplayMs ?? 7 * DAY_MS)) };
}

/** Where each input topic is replayed from, as an event time (0 = earliest). */
export function replayStartMs(
  kind: 'telemetry' | 'errors' | 'maintenance' | 'machines',
  plan: RestorePlan,
): number {
  if (plan.replayFromMs === undefined || kind === 'machines') return 0;
  // Days since replacement look back up to the cap: replay a year of (sparse) maintenance.
  if (kind === 'maintenance') return Math.max(0, plan.replayFromMs - REPLACEMENT_CAP_DAYS * DAY_MS);
  return Math.max(0, plan.replayFromMs);
}
