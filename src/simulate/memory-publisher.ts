import { PdmError } from '../shared/errors.js';
import { RECORD_KINDS, type PdmEvent } from '../shared/records.js';
import type { RecordPublisher } from './record-publisher.js';
import { emptyCounts } from './reference-csv-writer.js';

export interface MemoryPublisher extends RecordPublisher {
  /** Everything acknowledged, in publish order. */
  readonly events: readonly PdmEvent[];
}

/**
 * {@link RecordPublisher} that keeps records in memory and acknowledges on flush: for unit tests and for
 * benchmarking the producers without a broker.
 * @param options.keep - keep the events (false: only count them, for benchmarks). @default true
 */
export function createMemoryPublisher(options: { keep?: boolean } = {}): MemoryPublisher {
  const keep = options.keep ?? true;
  const events: PdmEvent[] = [];
  const acked = emptyCounts();
  let queued: PdmEvent[] = [];
  const queuedCounts = emptyCounts();
  let queuedSize = 0;
  let closed = false;
  return {
    events,
    publish(batch) {
      if (closed)
        return Promise.reject(
          new PdmError('publisher is closed', { code: 'PUBLISHER_CLOSED', stage: 'simulate' }),
        );
      for (const e of batch) {
        queuedCounts[e.kind]++;
        if (keep) queued.push(e);
      }
      queuedSize += batch.length;
      return Promise.resolve();
    },
    flush() {
      for (const e of queued) events.push(e);
      for (const kind of RECORD_KINDS) {
        acked[kind] += queuedCounts[kind];
        queuedCounts[kind] = 0;
      }
      queued = [];
      queuedSize = 0;
      return Promise.resolve();
    },
    counts: () => ({ ...acked }),
    pendingCount: () => queuedSize,
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
