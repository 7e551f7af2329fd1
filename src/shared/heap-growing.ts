/**
 * How far the V8 heap may grow before the next full collection (PDM_HEAP_GROWING_PERCENT).
 *
 * V8 reads `--heap-growing-percent` each time it sets the next limit after a full collection, so setting it
 * while running takes effect from the next one (Node does not freeze V8 flags after start). It is a
 * process-wide setting: the ONNX worker's heap follows it too, which is tiny either way. Node refuses the
 * flag in NODE_OPTIONS, which is why the engine sets it itself instead of asking deployments for a flag.
 */
import v8 from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own choice. */
export function limitHeapGrowing(
  percent: number,
  setFlags: (flags: string) => void = (flags) => {
    v8.setFlagsFromString(flags);
  },
): void {
  if (!Number.isInteger(percent) || percent < 0)
    throw new RangeError(`heap growing percent must be a non-negative integer, not ${percent}`);
  if (percent === 0) return;
  setFlags(`--heap-growing-percent=${percent}`);
}
