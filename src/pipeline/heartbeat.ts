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
      // A failed heartbeat means a rebalance is under way: kafkajs will report it on the next fetch and
      // this batch will not be committed (isRunning() turns false). Nothing to do here.
    });
  }, everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
