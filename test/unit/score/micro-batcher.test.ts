import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLASSES } from '../../../src/features/index.js';
import {
  createMicroBatcher,
  type DecisionRule,
  type Scorer,
  type ScoreInputRow,
} from '../../../src/score/index.js';

const N_FEATURES = 3;

interface Run {
  readonly nRows: number;
  readonly at: number;
  readonly rows: Float32Array;
}

/**
 * A deterministic stand-in for onnxruntime: P(class k) is proportional to 1 + (k == first feature mod 5),
 * so every row's expected argmax is known. Runs resolve when the test says so (`release`) or at once.
 */
function fakeScorer(options: { manual?: boolean; fail?: boolean } = {}): Scorer & {
  runs: Run[];
  release(): void;
  closed: boolean;
} {
  const runs: Run[] = [];
  const waiting: (() => void)[] = [];
  const s = {
    runs,
    closed: false,
    release() {
      for (const w of waiting.splice(0)) w();
    },
    score(rows: Float32Array, nRows: number): Promise<Float32Array> {
      runs.push({ nRows, at: Date.now(), rows: rows.slice() });
      if (options.fail === true) return Promise.reject(new Error('boom'));
      const out = new Float32Array(nRows * CLASSES.length);
      for (let r = 0; r < nRows; r++) {
        const hot = Math.abs(rows[r * N_FEATURES] ?? 0) % CLASSES.length;
        for (let k = 0; k < CLASSES.length; k++)
          out[r * CLASSES.length + k] = (k === hot ? 2 : 1) / (CLASSES.length + 1);
      }
      if (options.manual !== true) return Promise.resolve(out);
      return new Promise((resolve) =>
        waiting.push(() => {
          resolve(out);
        }),
      );
    },
    close() {
      s.closed = true;
      return Promise.resolve();
    },
  };
  return s;
}

function rows(n: number, from = 0): ScoreInputRow[] {
  return Array.from({ length: n }, (_, i) => ({
    machineId: from + i,
    bucketMs: 1_000 * (from + i),
    values: Float64Array.from([from + i, 0.5, -1.25]),
  }));
}

/** No thresholds, no warm-up features: the batching tests do not depend on the decision. */
const NO_DECISION: DecisionRule = { thresholds: undefined, warmUpPairs: new Int32Array(0) };

function batcher(scorer: Scorer, maxRows: number, maxWaitMs: number, maxRunsInFlight?: number) {
  return createMicroBatcher({
    scorer,
    maxRows,
    maxWaitMs,
    ...(maxRunsInFlight === undefined ? {} : { maxRunsInFlight }),
    nFeatures: N_FEATURES,
    classes: CLASSES,
    modelVersion: 'test/7',
    decision: NO_DECISION,
  });
}

describe('createMicroBatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never runs more than maxRows rows and fills runs to maxRows', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 64, 1_000);
    const done = b.submit(rows(1000));
    await vi.advanceTimersByTimeAsync(1_000);
    const results = await done;
    expect(results).toHaveLength(1000);
    expect(scorer.runs.map((r) => r.nRows)).toEqual([...Array<number>(15).fill(64), 1000 - 15 * 64]);
  });

  it('starts a full run at once, without waiting for maxWaitMs', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 10, 5_000);
    const done = b.submit(rows(10));
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs.map((r) => r.nRows)).toEqual([10]);
    await expect(done).resolves.toHaveLength(10);
  });

  it('a partial batch waits exactly maxWaitMs from its first row, then runs', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 100, 200);
    const t0 = Date.now();
    const first = b.submit(rows(3));
    await vi.advanceTimersByTimeAsync(150);
    const second = b.submit(rows(2, 3)); // joins the waiting batch; does not restart the clock
    await vi.advanceTimersByTimeAsync(49);
    expect(scorer.runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(scorer.runs.map((r) => [r.nRows, r.at - t0])).toEqual([[5, 200]]);
    expect((await first).map((r) => r.machineId)).toEqual([0, 1, 2]);
    expect((await second).map((r) => r.machineId)).toEqual([3, 4]);
  });

  it('rows left after full runs start a new wait clock', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 4, 100);
    const t0 = Date.now();
    void b.submit(rows(6));
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs.map((r) => r.nRows)).toEqual([4]);
    await vi.advanceTimersByTimeAsync(100);
    expect(scorer.runs.map((r) => [r.nRows, r.at - t0])).toEqual([
      [4, 0],
      [2, 100],
    ]);
  });

  it('maxWaitMs 0 batches what one tick submitted', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 100, 0);
    const a = b.submit(rows(2));
    const c = b.submit(rows(3, 2));
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs.map((r) => r.nRows)).toEqual([5]);
    expect(await a).toHaveLength(2);
    expect(await c).toHaveLength(3);
  });

  it('with one run in flight, rows arriving meanwhile wait for the next run', async () => {
    const scorer = fakeScorer({ manual: true });
    const b = batcher(scorer, 8, 10, 1);
    const a = b.submit(rows(8));
    await vi.advanceTimersByTimeAsync(0);
    const c = b.submit(rows(8, 8));
    await vi.advanceTimersByTimeAsync(50);
    expect(scorer.runs).toHaveLength(1); // the second full batch is queued behind the first
    expect(b.queuedRows()).toBe(16);
    scorer.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs).toHaveLength(2);
    scorer.release();
    expect(await a).toHaveLength(8);
    expect(await c).toHaveLength(8);
    expect(b.queuedRows()).toBe(0);
  });

  it('hands at most maxRunsInFlight (default 2) runs to the scorer at once, in submission order', async () => {
    const scorer = fakeScorer({ manual: true });
    const b = batcher(scorer, 4, 10);
    const done = b.submit(rows(12));
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs.map((r) => r.rows[0])).toEqual([0, 4]);
    scorer.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(scorer.runs.map((r) => r.rows[0])).toEqual([0, 4, 8]);
    scorer.release();
    expect((await done).map((r) => r.machineId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('returns probabilities, argmax class and model version per row, in submission order', async () => {
    const b = batcher(fakeScorer(), 3, 0);
    const input = rows(7);
    const done = b.submit(input);
    await vi.advanceTimersByTimeAsync(0);
    const out = await done;
    out.forEach((r, i) => {
      expect(r.machineId).toBe(i);
      expect(r.bucketMs).toBe(1_000 * i);
      expect(r.probabilities).toHaveLength(CLASSES.length);
      expect(r.predictedIndex).toBe(i % CLASSES.length);
      expect(r.predictedClass).toBe(CLASSES[i % CLASSES.length]);
      expect(r.modelVersion).toBe('test/7');
    });
  });

  it('packs rows into one float32 tensor per run, row-major', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 10, 0);
    const done = b.submit(rows(2, 40));
    await vi.advanceTimersByTimeAsync(0);
    await done;
    expect(Array.from(scorer.runs[0]?.rows ?? [])).toEqual([40, 0.5, -1.25, 41, 0.5, -1.25]);
  });

  it('flush runs a partial batch without waiting', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 100, 60_000);
    const done = b.submit(rows(3));
    await b.flush();
    expect(scorer.runs.map((r) => r.nRows)).toEqual([3]);
    await expect(done).resolves.toHaveLength(3);
  });

  it('rejects the submissions of a failed run and keeps going', async () => {
    const failing = fakeScorer({ fail: true });
    const b = batcher(failing, 4, 0);
    // The expectation is attached before the run so that the rejection is never unhandled.
    const done = expect(b.submit(rows(2))).rejects.toThrow('boom');
    await vi.advanceTimersByTimeAsync(0);
    await done;
    expect(b.queuedRows()).toBe(0);
  });

  it('rejects a row with the wrong number of values', async () => {
    const b = batcher(fakeScorer(), 4, 0);
    const done = expect(
      b.submit([{ machineId: 1, bucketMs: 0, values: new Float64Array(2) }]),
    ).rejects.toMatchObject({
      code: 'SCORER_INPUT',
    });
    await vi.advanceTimersByTimeAsync(0);
    await done;
  });

  it('close flushes, closes the scorer, and refuses later submissions', async () => {
    const scorer = fakeScorer();
    const b = batcher(scorer, 100, 60_000);
    const done = b.submit(rows(5));
    await b.close();
    await expect(done).resolves.toHaveLength(5);
    expect(scorer.closed).toBe(true);
    await expect(b.submit(rows(1))).rejects.toMatchObject({ code: 'SCORER_CLOSED' });
  });

  it('validates its settings', () => {
    expect(() => batcher(fakeScorer(), 0, 10)).toThrow(RangeError);
    expect(() => batcher(fakeScorer(), 10, -1)).toThrow(RangeError);
    expect(() => batcher(fakeScorer(), 10, 10, 0)).toThrow(RangeError);
  });
});
