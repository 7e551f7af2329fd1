/**
 * By when telemetry was known to be in the log, per partition: the side checkpoint's grace period
 * (PDM_SIDE_GRACE_MS, engine.ts) counts from there.
 *
 * The grace is for side events produced together with a telemetry batch: they reach the log up to a grace
 * period after it, so side end offsets read at least a grace period after the telemetry was in the log
 * include them. A batch's own fetch time is one such instant, and the only one when the engine keeps up.
 * In a backlog it is a late one: the first fetch of a partition already reported a high watermark past
 * the whole backlog (so did the end offsets read at the assignment), so every later batch of it was in
 * the log by then. Counting from that first sighting lets a backlog's checkpoints use side reads made
 * while it is consumed, instead of each batch waiting a grace period after its own fetch (which also
 * held the last buckets of every backlog back by the grace).
 *
 * Observations are facts about the log ("every offset below `end` was in it by `atMs`") and stay true;
 * keeping fewer of them, or later instants, only makes the answer later (the safe direction).
 */

/** Log end offsets per partition and when they were seen: every offset below an end was in the log by `atMs`. */
export interface LogSighting {
  readonly ends: ReadonlyMap<number, string>;
  readonly atMs: number;
}

/**
 * The sighting an end-offset read makes, timed when its answer arrived (the offsets were in the log by then
 * at the latest); undefined when the read failed, which is no knowledge.
 */
export function sighting(read: Promise<ReadonlyMap<number, string>>): Promise<LogSighting | undefined> {
  return read.then(
    (ends) => ({ ends, atMs: Date.now() }),
    () => undefined,
  );
}

export interface LogArrival {
  /**
   * Every offset of `partition` below `end` was in the log by `atMs` (a high watermark or log end offset
   * as Kafka reports it, seen then). Anything but a non-negative integer is ignored (no knowledge).
   */
  observe(partition: number, end: string, atMs: number): void;
  /**
   * The earliest instant known by which offset `last` of `partition` was in the log: the first
   * observation past it, or `fetchedAtMs` (the batch's own fetch) when that is earlier or none is past it.
   * Offsets are asked in increasing order per partition until {@link reset} (a restore seeks back).
   */
  inLogBy(partition: number, last: bigint, fetchedAtMs: number): number;
  reset(): void;
}

interface Sighting {
  end: bigint;
  atMs: number;
}

/** Sightings kept per partition; past it the newest is moved later instead (fetches while batches wait). */
const MAX_SIGHTINGS = 64;
const OFFSET = /^\d{1,19}$/;

export function createLogArrival(): LogArrival {
  /** Per partition, increasing in `end` and in `atMs`. */
  const sightings = new Map<number, Sighting[]>();
  return {
    observe(partition, endText, atMs) {
      if (!OFFSET.test(endText)) return;
      const end = BigInt(endText);
      let list = sightings.get(partition);
      if (list === undefined) {
        list = [];
        sightings.set(partition, list);
      }
      const newest = list[list.length - 1];
      if (newest !== undefined && (end <= newest.end || atMs < newest.atMs)) return;
      if (list.length < MAX_SIGHTINGS) {
        list.push({ end, atMs });
      } else if (newest !== undefined) {
        // Offsets below the newest end are now claimed by a later instant: later is always true.
        newest.end = end;
        newest.atMs = atMs;
      }
    },
    inLogBy(partition, last, fetchedAtMs) {
      const list = sightings.get(partition);
      if (list === undefined) return fetchedAtMs;
      // Sightings not past `last` cover neither this offset nor any later one.
      let drop = 0;
      while (drop < list.length && (list[drop] as Sighting).end <= last) drop++;
      if (drop > 0) list.splice(0, drop);
      const first = list[0];
      return first === undefined ? fetchedAtMs : Math.min(first.atMs, fetchedAtMs);
    },
    reset() {
      sightings.clear();
    },
  };
}
