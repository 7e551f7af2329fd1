/**
 * Offset reads of the Kafka source (restore seeks by timestamp, side end offsets, lag) through one kafkajs
 * admin connection, replaced by a fresh one after a failure that a Kafka outage explains.
 */
import type { Admin } from 'kafkajs';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { kafkaError } from './kafka-errors.js';
import type { RecordSource } from './record-source.js';

/** The parts of a kafkajs admin the source uses (tests substitute fakes). */
export type SourceAdmin = Pick<
  Admin,
  'connect' | 'disconnect' | 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp' | 'fetchOffsets'
>;

export type OffsetReader = Pick<RecordSource, 'offsetForTimestamp' | 'endOffsets' | 'committedOffsets'> & {
  close(): Promise<void>;
};

export function createOffsetReader(newAdmin: () => SourceAdmin, groupId: string, log: Logger): OffsetReader {
  let admin: SourceAdmin | undefined;
  let adminReady: Promise<void> | undefined;
  let closed = false;
  // A function, not a read of the flag: close() may set it while a call awaits, which narrowing ignores.
  const isClosed = (): boolean => closed;

  /** Failures become our errors: retryable `KAFKA_UNAVAILABLE` (broker gone) or `KAFKA_ERROR`. */
  async function adminCall<T>(what: string, fn: (a: SourceAdmin) => Promise<T>): Promise<T> {
    if (isClosed()) throw new Error(`${what}: the Kafka source is stopped`);
    const a = (admin ??= newAdmin());
    try {
      adminReady ??= a.connect();
      await adminReady;
      if (isClosed()) throw new Error(`${what}: the Kafka source is stopped`);
      return await fn(a);
    } catch (err) {
      const e = kafkaError(err, what);
      if (e.retryable && admin === a) {
        // Start over with a fresh admin connection on the next call, once the broker is back.
        admin = undefined;
        adminReady = undefined;
        a.disconnect().catch(() => {
          // The connection is already broken; nothing to release.
        });
      }
      throw e;
    }
  }

  return {
    offsetForTimestamp(tp, timestampMs) {
      return adminCall(`reading offsets of ${tp.topic} by timestamp`, async (a) => {
        const res = await a.fetchTopicOffsetsByTimestamp(tp.topic, timestampMs);
        const hit = res.find((r) => r.partition === tp.partition);
        if (hit === undefined) throw new Error(`no partition ${tp.partition} in ${tp.topic}`);
        return hit.offset;
      });
    },
    endOffsets(topic) {
      return adminCall(`reading end offsets of ${topic}`, async (a) => {
        const res = await a.fetchTopicOffsets(topic);
        return new Map(res.map((r) => [r.partition, r.high]));
      });
    },
    committedOffsets(topic) {
      return adminCall(`reading committed offsets of ${topic}`, async (a) => {
        const res = await a.fetchOffsets({ groupId, topics: [topic] });
        const parts = res.find((r) => r.topic === topic)?.partitions ?? [];
        return new Map(parts.map((p) => [p.partition, p.offset]));
      });
    },
    async close() {
      closed = true;
      const a = admin;
      if (a === undefined || adminReady === undefined) return;
      const disconnect = () =>
        a.disconnect().catch((err: unknown) => {
          log.debug({ err: errorMessage(err) }, 'Kafka admin disconnect');
        });
      // A connect still in flight (a read at start, then a failed start) completes after this disconnect
      // and would leave a connection that keeps the process alive: closed again once it completes.
      adminReady.then(disconnect, () => undefined);
      await disconnect();
    },
  };
}
