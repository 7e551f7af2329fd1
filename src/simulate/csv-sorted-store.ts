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
      const order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      const t = ts;
      // Tie on the row index keeps file order among equal timestamps (TypedArray#sort is stable anyway).
      order.sort((a, b) => (t[a] as number) - (t[b] as number) || a - b);
      for (let j = 0; j < n; j++) {
        const i = order[j] as number;
        const base = { machineId: machineId[i] as number, ts: t[i] as number };
        switch (kind) {
          case 'telemetry':
            yield {
              kind,
              record: {
                ...base,
                volt: values[i * 4] as number,
                rotate: values[i * 4 + 1] as number,
                pressure: values[i * 4 + 2] as number,
                vibration: values[i * 4 + 3] as number,
              },
            };
            break;
          case 'errors':
            yield { kind, record: { ...base, errorId: codes[code[i] as number] as string } };
            break;
          case 'maintenance':
            yield { kind, record: { ...base, comp: codes[code[i] as number] as string } };
            break;
          case 'failures':
            yield { kind, record: { ...base, failure: codes[code[i] as number] as string } };
            break;
        }
      }
    },
  };
}
