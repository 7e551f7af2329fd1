import type { PdmEvent } from '../shared/records.js';
import type { TimedKind } from './csv-format.js';

/**
 * Holds the timed records of one CSV file that is not in time order (the public data set is sorted by
 * machine, then time) so they can be replayed in time order. Columns in typed arrays rather than one
 * object per row: the reference telemetry (876k rows) takes ~40 MB instead of ~150 MB.
 */
export interface SortedStore {
  add(event: PdmEvent): void;
  readonly size: number;
  /** Events in non-decreasing `ts`, file order among equal `ts` (stable). Call once, after the last add. */
  sortedEvents(): Generator<PdmEvent>;
}

const INITIAL_ROWS = 4096;

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T {
  const b = make(a.length * 2);
  b.set(a);
  return b;
}

export function createSortedStore(kind: TimedKind, codes: readonly string[]): SortedStore {
  let n = 0;
  let ts = new Float64Array(INITIAL_ROWS);
  let machineId = new Int32Array(INITIAL_ROWS);
  // telemetry: 4 sensors per row; other kinds: one code index per row.
  let values = new Float64Array(kind === 'telemetry' ? INITIAL_ROWS * 4 : 0);
  let code = new Uint8Array(kind === 'telemetry' ? 0 : INITIAL_ROWS);
  const codeIndex = new Map(codes.map((c, i) => [c, i]));

  function ensureCapacity(): void {
    if (n < ts.length) return;
    ts = grow(ts, (k) => new Float64Array(k));
    machineId = grow(machineId, (k) => new Int32Array(k));
    if (kind === 'telemetry') values = grow(values, (k) => new Float64Array(k));
    else code = grow(code, (k) => new Uint8Array(k));
  }

  function codeOf(text: string): number {
    const i = codeIndex.get(text);
    if (i === undefined) throw new RangeError(`code "${text}" was validated but is not in the code list`);
    return i;
  }

  return {
    get size() {
      return n;
    },
    add(event) {
      ensureCapacity();
      const r = event.record;
      machineId[n] = r.machineId;
      switch (event.kind) {
        case 'telemetry':
          ts[n] = event.record.ts;
          values[n * 4] = event.record.volt;
          values[n * 4 + 1] = event.record.rotate;
          values[n * 4 + 2] = event.record.pressure;
          values[n * 4 + 3] = event.record.vibration;
          break;
        case 'errors':
          ts[n] = event.record.ts;
          code[n] = codeOf(event.record.errorId);
          break;
        case 'maintenance':
          ts[n] = event.record.ts;
          code[n] = codeOf(event.record.comp);
          break;
        case 'failures':
          ts[n] = event.record.ts;
          code[n] = codeOf(event.record.failure);
          break;
        case 'machines':
          throw new RangeError('machines records have no time and are never sorted');
      }
      n++;
    },
    *sortedEvents() {
      const t = ts;
      const row = (i: number): PdmEvent => {
        const m = machineId[i] as number;
        const at = t[i] as number;
        switch (kind) {
          case 'telemetry':
            return {
              kind,
              record: {
                machineId: m,
                ts: at,
                volt: values[i * 4] as number,
                rotate: values[i * 4 + 1] as number,
                pressure: values[i * 4 + 2] as number,
                vibration: values[i * 4 + 3] as number,
              },
            };
          case 'errors':
            return { kind, record: { machineId: m, ts: at, errorId: codes[code[i] as number] as string } };
          case 'maintenance':
            return { kind, record: { machineId: m, ts: at, comp: codes[code[i] as number] as string } };
          case 'failures':
            return { kind, record: { machineId: m, ts: at, failure: codes[code[i] as number] as string } };
        }
      };
      // The file is a sequence of time-ordered runs (one per machine in the public data set): merge the runs
      // with a binary heap instead of sorting all rows. Ties go to the earlier run, which keeps file order.
      const starts: number[] = [];
      for (let i = 0; i < n; i++) if (i === 0 || (t[i] as number) < (t[i - 1] as number)) starts.push(i);
      const runs = starts.length;
      const pos = Int32Array.from(starts);
      const end = Int32Array.from(starts, (_, r) => (r + 1 < runs ? (starts[r + 1] as number) : n));
      const heap = Int32Array.from(starts, (_, r) => r);
      let size = runs;
      const less = (a: number, b: number): boolean => {
        const ta = t[pos[a] as number] as number;
        const tb = t[pos[b] as number] as number;
        return ta < tb || (ta === tb && a < b);
      };
      const siftDown = (from: number): void => {
        let i = from;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= size) return;
          const r = l + 1;
          const c = r < size && less(heap[r] as number, heap[l] as number) ? r : l;
          if (!less(heap[c] as number, heap[i] as number)) return;
          const tmp = heap[i] as number;
          heap[i] = heap[c] as number;
          heap[c] = tmp;
          i = c;
        }
      };
      for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
      while (size > 0) {
        const r = heap[0] as number;
        const i = pos[r] as number;
        yield row(i);
        pos[r] = i + 1;
        if (i + 1 >= (end[r] as number)) {
          size--;
          heap[0] = heap[size] as number;
        }
        siftDown(0);
      }
    },
  };
}
