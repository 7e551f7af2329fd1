/**
 * machineId → state, looked up once per event. Machine ids are usually small dense integers (the reference
 * data: 1..100), for which a plain array indexed by id is one memory access where a Map costs a hash probe.
 * Ids ≥ DENSE_LIMIT go to a Map so that one huge id cannot make the array huge (the array costs at most
 * 4 bytes per id below the largest dense id seen).
 */
export const DENSE_LIMIT = 1 << 20;

export interface MachineTable<T> {
  get(id: number): T | undefined;
  set(id: number, value: T): void;
  readonly size: number;
}

export function createMachineTable<T>(): MachineTable<T> {
  const dense: (T | undefined)[] = [];
  const sparse = new Map<number, T>();
  let size = 0;
  return {
    get(id) {
      return id < DENSE_LIMIT ? dense[id] : sparse.get(id);
    },
    set(id, value) {
      if (id < DENSE_LIMIT) {
        if (dense[id] === undefined) size++;
        // Grow with `undefined` holes filled in, so the array stays a packed elements kind instead of a
        // dictionary-mode array when ids arrive out of order.
        while (dense.length < id) dense.push(undefined);
        dense[id] = value;
      } else {
        if (!sparse.has(id)) size++;
        sparse.set(id, value);
      }
    },
    get size() {
      return size;
    },
  };
}
