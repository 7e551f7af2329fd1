/**
 * A growable, key-sorted array of fixed-size numeric records in one Float64Array: the storage of every
 * per-machine window (telemetry slots, seen timestamps, errors, pending replacements). One typed array per
 * buffer keeps per-machine memory small and predictable (house style rule 8), and sorted keys let a bucket
 * find its window by binary search instead of scanning.
 */
export interface SortedRecords {
  /** `len * stride` numbers in use; record i starts at `i * stride`, its key (a timestamp or slot index) first. */
  data: Float64Array;
  /** Records in use. */
  len: number;
  /** Numbers per record. */
  readonly stride: number;
  /** Capacity (in records) never shrunk below. */
  readonly minCapacity: number;
  /** Most records in use since the last {@link dropFront} that dropped any. */
  peak: number;
  /**
   * What to keep room for: a decaying maximum of the cycles' peaks (each drop keeps the larger of the
   * cycle's peak and half the previous value), so that a burst's size is forgotten over a few cycles.
   */
  recentPeak: number;
  /** Running total shared by all buffers of one engine, so that stats() is O(1). */
  readonly account: ByteAccount;
}

/** Bytes and number of typed arrays currently allocated by a set of buffers. */
export interface ByteAccount {
  bytes: number;
  arrays: number;
}

export function createByteAccount(): ByteAccount {
  return { bytes: 0, arrays: 0 };
}

export function createSortedRecords(
  stride: number,
  minCapacity: number,
  account: ByteAccount,
): SortedRecords {
  const data = new Float64Array(stride * minCapacity);
  account.bytes += data.byteLength;
  account.arrays++;
  return { data, len: 0, stride, minCapacity, account, peak: 0, recentPeak: 0 };
}

export function keyAt(buf: SortedRecords, index: number): number {
  // Callers pass index < len; the typed-array read of an out-of-range index would be `undefined` → NaN.
  return buf.data[index * buf.stride] as number;
}

/** Index of the first record whose key is ≥ `key` (len when none). */
export function lowerBound(buf: SortedRecords, key: number): number {
  let lo = 0;
  let hi = buf.len;
  const { data, stride } = buf;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((data[mid * stride] as number) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first record whose key is > `key` (len when none). */
export function upperBound(buf: SortedRecords, key: number): number {
  let lo = 0;
  let hi = buf.len;
  const { data, stride } = buf;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((data[mid * stride] as number) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Index of the record with exactly `key`, or −1. Searches from the end first because keys mostly arrive in
 * increasing order (the newest slot, the newest timestamp).
 */
export function findKey(buf: SortedRecords, key: number): number {
  const n = buf.len;
  if (n === 0) return -1;
  const last = keyAt(buf, n - 1);
  if (last === key) return n - 1;
  if (last < key) return -1;
  const i = lowerBound(buf, key);
  return i < n && keyAt(buf, i) === key ? i : -1;
}

function resize(buf: SortedRecords, capacity: number): void {
  const next = new Float64Array(capacity * buf.stride);
  next.set(buf.data.subarray(0, buf.len * buf.stride));
  buf.account.bytes += next.byteLength - buf.data.byteLength;
  buf.data = next;
}

/**
 * Opens a zeroed record with `key` at `index` (which must keep the keys sorted) and returns the offset of
 * its first number. Amortised O(1) at the end; a record in the middle shifts the newer ones.
 */
export function insertAt(buf: SortedRecords, index: number, key: number): number {
  const { stride } = buf;
  if ((buf.len + 1) * stride > buf.data.length) resize(buf, Math.max(buf.minCapacity, buf.len * 2));
  const { data } = buf;
  const off = index * stride;
  if (index < buf.len) data.copyWithin(off + stride, off, buf.len * stride);
  data.fill(0, off, off + stride);
  data[off] = key;
  if (++buf.len > buf.peak) buf.peak = buf.len;
  return off;
}

/** Inserts `key` keeping order (duplicates allowed, placed after equal keys); returns the record's offset. */
export function insertSorted(buf: SortedRecords, key: number): number {
  const n = buf.len;
  const index = n === 0 || keyAt(buf, n - 1) <= key ? n : upperBound(buf, key);
  return insertAt(buf, index, key);
}

/**
 * Removes the first `count` records. Shrinks the array once it is mostly empty so that a burst (a long
 * wait for the side inputs, a flood of errors) does not pin memory forever, but keeps room for what the
 * cycles before used: a buffer that fills and empties every cycle (a backlog's batches adding a hundred
 * readings per machine, then closing their buckets) is not reallocated twice per cycle. A cycle runs from
 * one drop to the next.
 */
export function dropFront(buf: SortedRecords, count: number): void {
  if (count <= 0) return;
  const { stride } = buf;
  const left = buf.len - count;
  if (left > 0) buf.data.copyWithin(0, count * stride, buf.len * stride);
  buf.len = Math.max(0, left);
  const capacity = buf.data.length / stride;
  const keep = Math.max(buf.len, buf.recentPeak);
  if (capacity > buf.minCapacity && keep * 4 <= capacity) {
    resize(buf, Math.max(buf.minCapacity, keep * 2));
  }
  buf.recentPeak = Math.max(buf.peak, buf.recentPeak >>> 1);
  buf.peak = buf.len;
}
