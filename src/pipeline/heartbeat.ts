import type { BatchControl } from '../ingest/index.js';

/**
 * Awaits `work` while heartbeating the consumer group, so that a long wait (a paused sink, a slow
 * registry, a large inference batch) does not get this member evicted.
 */
export async function whileHeartbeating<T>(
  control: BatchControl,
  work: Promise<T>,
  everyMs = 2_000,
): Promise<T> {
  const timer = setInterval(() => {
    control.heartbeat().catch(() => {
      // A failed heartbeat means a rebalance is under way or the broker is gone. Nothing to do here: the
      // commit after this batch then fails, kafkajs re-joins the group (GROUP_JOIN re-plans the restore)
      // or the source's outage policy opens a new session; the batch is re-delivered, never lost.
    });
  }, everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
