/**
 * Which partition number each machine's events live on, learned from the data instead of a partitioner
 * formula. The engine keeps a machine's state in the task of one partition number, so every input of a
 * machine must arrive on that number; producers with different partitioners (librdkafka's CRC32
 * `consistent_random` vs the Java/JS murmur2) break that silently unless someone checks. This does.
 *
 * - Telemetry decides: a machine's home is the partition of its telemetry, seeded at restore from where
 *   its predictions came from (ClickHouse knows every machine with output, also those of partitions
 *   other instances own), else from the first telemetry this instance sees.
 * - An event on another partition number than the home is `WRONG_PARTITION`.
 * - Side events (errors, maintenance, metadata) of a machine without telemetry yet are accepted on
 *   whatever partition they arrive, and that partition is remembered: a second, different partition for
 *   the same machine's side events is `WRONG_PARTITION`, and telemetry arriving later on another number
 *   is reported as a conflict (the side events already applied are on the wrong task; the caller logs
 *   and counts it, they cannot be dead-lettered after the fact).
 */
export type HomeCheck =
  | { readonly ok: true; readonly conflictWith?: number }
  | { readonly ok: false; readonly expected: number; readonly basis: 'telemetry' | 'side events' };

export interface MachineHomes {
  /** Homes known from output already written (restore); they override what side events suggested. */
  seed(homes: ReadonlyMap<number, number>): void;
  check(machineId: number, isTelemetry: boolean, partition: number): HomeCheck;
  readonly size: number;
}

const OK: HomeCheck = { ok: true };

export function createMachineHomes(): MachineHomes {
  /** Partition of the machine's telemetry. */
  const home = new Map<number, number>();
  /** Partition of its side events, while no telemetry has been seen. */
  const sideOnly = new Map<number, number>();

  return {
    seed(homes) {
      for (const [machineId, partition] of homes) {
        home.set(machineId, partition);
        sideOnly.delete(machineId);
      }
    },
    check(machineId, isTelemetry, partition) {
      const h = home.get(machineId);
      if (h !== undefined) {
        return h === partition ? OK : { ok: false, expected: h, basis: 'telemetry' };
      }
      const side = sideOnly.get(machineId);
      if (isTelemetry) {
        home.set(machineId, partition);
        if (side === undefined) return OK;
        sideOnly.delete(machineId);
        return side === partition ? OK : { ok: true, conflictWith: side };
      }
      if (side === undefined) {
        sideOnly.set(machineId, partition);
        return OK;
      }
      return side === partition ? OK : { ok: false, expected: side, basis: 'side events' };
    },
    get size() {
      return home.size + sideOnly.size;
    },
  };
}
