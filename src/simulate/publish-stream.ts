import { setTimeout as sleep } from 'node:timers/promises';
import type { PdmEvent } from '../shared/records.js';
import type { Pacer } from './pacer.js';
import type { RecordPublisher } from './record-publisher.js';
import { emptyCounts, type RecordCounts } from './reference-csv-writer.js';

export interface PublishStreamOptions {
  /** Events handed to the publisher per call. @default 1000 */
  readonly batchRecords?: number;
  /** Rate / event-time pacing; unset = as fast as possible. */
  readonly pacer?: Pacer;
  /** Ctrl-C: stop taking events, send what was taken, flush. */
  readonly signal?: AbortSignal;
  /** After each handed-over batch: records taken so far and the last event time. */
  readonly onBatch?: (taken: Readonly<RecordCounts>, lastTs: number | undefined) => void;
}

export interface PublishStreamResult {
  /** Records taken from the stream and handed to the publisher (all acknowledged unless it threw). */
  readonly taken: RecordCounts;
  /** True when stopped by the signal before the stream ended. */
  readonly interrupted: boolean;
  /** Event time of the last timed record taken. */
  readonly lastTs: number | undefined;
}

/**
 * Moves a stream of events into a publisher: batches, paces, stops cleanly on abort, and flushes at the end
 * (also after an abort) so that everything taken is acknowledged or the flush throws.
 */
export async function publishStream(
  events: Iterable<PdmEvent> | AsyncIterable<PdmEvent>,
  publisher: RecordPublisher,
  options: PublishStreamOptions = {},
): Promise<PublishStreamResult> {
  const batchRecords = options.batchRecords ?? 1000;
  const pacer = options.pacer?.active === true ? options.pacer : undefined;
  const signal = options.signal;
  const taken = emptyCounts();
  let total = 0;
  let lastTs: number | undefined;
  let batch: PdmEvent[] = [];
  let interrupted = false;
  // A function, not a property read: TypeScript would otherwise narrow `aborted` across the awaits below.
  const aborted = (): boolean => signal?.aborted === true;

  const handOver = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    await publisher.publish(b);
    options.onBatch?.(taken, lastTs);
  };

  for await (const e of events) {
    if (aborted()) {
      interrupted = true;
      break;
    }
    const ts = e.kind === 'machines' ? undefined : e.record.ts;
    if (pacer) {
      const wait = pacer.delayMs(ts, total);
      if (wait > 0) {
        // Send what is due before sleeping, so consumers see records at the paced time, not a batch later.
        await handOver();
        try {
          await sleep(wait, undefined, signal ? { signal } : undefined);
        } catch (err) {
          if (!aborted()) throw err;
          // Aborted while waiting: this event was not taken; the flush below still runs.
          interrupted = true;
          break;
        }
      }
    }
    batch.push(e);
    taken[e.kind]++;
    total++;
    if (ts !== undefined) lastTs = ts;
    if (batch.length >= batchRecords) await handOver();
  }
  await handOver();
  await publisher.flush();
  return { taken, interrupted, lastTs };
}
