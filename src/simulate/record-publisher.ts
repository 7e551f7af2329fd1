import type { PdmEvent } from '../shared/records.js';
import type { RecordCounts } from './reference-csv-writer.js';

/**
 * Where the producers send records. One implementation per client library (kafka-publisher.ts for
 * kafkajs); the simulator, the CSV import, tests and benchmarks only see this interface.
 */
export interface RecordPublisher {
  /**
   * Queues `events` for sending, batched by size and time. Resolves once they are queued; waits while an
   * earlier full batch is still being acknowledged (backpressure). Rejects with the failure of an earlier
   * send: after a failure nothing more is accepted.
   */
  publish(events: readonly PdmEvent[]): Promise<void>;
  /** Sends everything queued and waits until the broker has acknowledged it. */
  flush(): Promise<void>;
  /** Records acknowledged by the broker, per kind (topic). */
  counts(): Readonly<RecordCounts>;
  /** Records queued or in flight, not acknowledged yet. */
  pendingCount(): number;
  /** Releases the connection. Does not flush: call {@link flush} first to deliver what is queued. */
  close(): Promise<void>;
}
