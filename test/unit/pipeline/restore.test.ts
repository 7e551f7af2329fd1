/**
 * planRestore: from the predictions already in ClickHouse, where each telemetry partition's replay
 * starts and which buckets are suppressed. Rows are inserted into the in-memory connection the way the
 * engine writes them; the plan reads them back through the connection's query.
 */
import { describe, expect, it } from 'vitest';
import { SPEC_HASH, WINDOW_HOURS } from '../../../src/features/index.js';
import { planRestore, replayStartMs } from '../../../src/pipeline/index.js';
import { checkCoPartitioned, restoreSummary } from '../../../src/pipeline/restore.js';
import { formatDateTime, type PredictionRow } from '../../../src/sink/index.js';
import { createFakeClickHouse, type FakeClickHouse } from './fake-clickhouse.js';
import { DATABASE, H, MODEL_VERSION, T0 } from './harness.js';

const D = 24 * H;
const BUCKET_MS = 12 * H;
const LATENESS_MS = 2 * H;
const LONGEST_WINDOW_MS = Math.max(...WINDOW_HOURS) * H;

function prediction(
  machineId: number,
  bucketMs: number,
  partition: number,
  modelVersion = MODEL_VERSION,
): PredictionRow {
  return {
    machine_id: machineId,
    bucket_ts: formatDateTime(bucketMs),
    p_none: 1,
    p_comp1: 0,
    p_comp2: 0,
    p_comp3: 0,
    p_comp4: 0,
    predicted_class: 'none',
    predicted_index: 0,
    alert: 0,
    alert_class: 'none',
    alert_components: [],
    warming_up: 0,
    model_version: modelVersion,
    spec_hash: SPEC_HASH,
    scored_at: '2026-01-01 00:00:00.000',
    source_topic: 'u.telemetry',
    source_partition: partition,
    source_offset: '0',
    engine_version: 'test',
  };
}

/** Every bucket of a machine from `firstMs` to `lastMs`, written from `partition`. */
async function written(
  ch: FakeClickHouse,
  machineId: number,
  partition: number,
  firstMs: number,
  lastMs: number,
  modelVersion = MODEL_VERSION,
): Promise<void> {
  const rows: PredictionRow[] = [];
  for (let b = firstMs; b <= lastMs; b += BUCKET_MS)
    rows.push(prediction(machineId, b, partition, modelVersion));
  await ch.insert(`"${DATABASE}".predictions`, rows);
}

function plan(ch: FakeClickHouse, maxReplayMs?: number) {
  return planRestore({
    ch,
    database: DATABASE,
    modelVersion: MODEL_VERSION,
    bucketMs: BUCKET_MS,
    allowedLatenessMs: LATENESS_MS,
    ...(maxReplayMs !== undefined ? { maxReplayMs } : {}),
  });
}

/** Replay must reach back over the longest window (plus lateness) of the first bucket not yet written. */
function coversFirstOpenBucket(replayFromMs: number, lastWrittenMs: number): boolean {
  return replayFromMs <= lastWrittenMs + BUCKET_MS - LONGEST_WINDOW_MS - LATENESS_MS;
}

describe('planRestore', () => {
  it('plans a full replay and no suppression when nothing was written yet', async () => {
    const p = await plan(createFakeClickHouse());
    expect([...p.resumeAfter]).toEqual([]);
    for (const partition of [0, 1, 2, 3]) expect(p.replayFromMs(partition)).toBeUndefined();
  });

  it('suppresses, per machine, every bucket up to its last written one', async () => {
    const ch = createFakeClickHouse();
    await written(ch, 1, 0, T0, T0 + 3 * D);
    await written(ch, 2, 0, T0, T0 + 2 * D + BUCKET_MS);
    await written(ch, 3, 1, T0 + D, T0 + 4 * D);
    const p = await plan(ch);
    expect(new Map(p.resumeAfter)).toEqual(
      new Map([
        [1, T0 + 3 * D],
        [2, T0 + 2 * D + BUCKET_MS],
        [3, T0 + 4 * D],
      ]),
    );
  });

  it('asks only for the predictions of its model version', async () => {
    const ch = createFakeClickHouse();
    await written(ch, 1, 0, T0, T0 + 2 * D);
    await written(ch, 1, 0, T0, T0 + 5 * D, 'other-model@7');
    await written(ch, 2, 1, T0, T0 + 5 * D, 'other-model@7');
    const p = await plan(ch);
    expect([...p.resumeAfter]).toEqual([[1, T0 + 2 * D]]);
    expect(p.replayFromMs(1)).toBeUndefined();
    expect(ch.queries.at(-1)?.params).toMatchObject({ mv: MODEL_VERSION });
  });

  it('starts a partition replay early enough for the first open bucket of each of its machines', async () => {
    const ch = createFakeClickHouse();
    await written(ch, 1, 0, T0, T0 + 3 * D);
    await written(ch, 2, 0, T0, T0 + 2 * D); // behind machine 1: decides the start
    await written(ch, 3, 1, T0, T0 + 4 * D);
    const p = await plan(ch);
    const from0 = p.replayFromMs(0);
    const from1 = p.replayFromMs(1);
    if (from0 === undefined || from1 === undefined) throw new Error('both partitions have output');
    expect(coversFirstOpenBucket(from0, T0 + 3 * D)).toBe(true);
    expect(coversFirstOpenBucket(from0, T0 + 2 * D)).toBe(true);
    expect(coversFirstOpenBucket(from1, T0 + 4 * D)).toBe(true);
    // …but does not replay everything: well after the start of the data, within a few windows.
    expect(from0).toBeGreaterThan(T0);
    expect(from1).toBeGreaterThan(T0 + D);
    expect(from1).toBeGreaterThanOrEqual(T0 + 4 * D - 4 * LONGEST_WINDOW_MS);
  });

  it('uses the partition the predictions came from, whatever the key would hash to', async () => {
    const ch = createFakeClickHouse();
    // Machines 1 and 2 were scored on partition 3; nothing was written from partitions 0–2.
    await written(ch, 1, 3, T0, T0 + 3 * D);
    await written(ch, 2, 3, T0, T0 + 3 * D);
    const p = await plan(ch);
    expect(p.replayFromMs(3)).toBeDefined();
    for (const partition of [0, 1, 2]) expect(p.replayFromMs(partition)).toBeUndefined();
  });

  it('follows the partition of the latest prediction when a machine moved', async () => {
    const ch = createFakeClickHouse();
    await written(ch, 1, 0, T0, T0 + D);
    await written(ch, 1, 2, T0 + D + BUCKET_MS, T0 + 3 * D);
    const p = await plan(ch);
    expect(p.replayFromMs(2)).toBeDefined();
    expect(p.replayFromMs(0)).toBeUndefined();
  });

  it('never replays more than maxReplayMs before the newest written bucket of the partition', async () => {
    const ch = createFakeClickHouse();
    await written(ch, 1, 0, T0, T0 + D); // silent for a month since
    await written(ch, 2, 0, T0, T0 + 30 * D);
    const byDefault = (await plan(ch)).replayFromMs(0);
    expect(byDefault).toBeGreaterThanOrEqual(T0 + 30 * D - 7 * D);
    expect((await plan(ch, 3 * D)).replayFromMs(0)).toBeGreaterThanOrEqual(T0 + 30 * D - 3 * D);
  });
});

describe('replayStartMs', () => {
  it('replays telemetry and errors from the plan, maintenance a year further, metadata from the start', () => {
    const from = T0 + 400 * D;
    expect(replayStartMs('telemetry', from)).toBe(from);
    expect(replayStartMs('errors', from)).toBe(from);
    expect(replayStartMs('maintenance', from)).toBe(from - 365 * D);
    expect(replayStartMs('machines', from)).toBe(0);
  });

  it('replays everything of a partition without output', () => {
    for (const kind of ['telemetry', 'errors', 'maintenance', 'machines'] as const)
      expect(replayStartMs(kind, undefined)).toBe(0);
  });
});

describe('checkCoPartitioned', () => {
  const ends = (counts: Record<string, number>) => (topic: string) =>
    Promise.resolve(new Map(Array.from({ length: counts[topic] ?? 0 }, (_, p) => [p, '0'] as const)));

  it('resolves to the common partition count', async () => {
    await expect(checkCoPartitioned(['t', 'e'], ends({ t: 4, e: 4 }))).resolves.toBe(4);
  });

  it('refuses topics whose partition counts differ, naming each count', async () => {
    await expect(checkCoPartitioned(['t', 'e', 'm'], ends({ t: 4, e: 4, m: 2 }))).rejects.toMatchObject({
      code: 'TOPICS_NOT_COPARTITIONED',
      message: expect.stringContaining('t=4, e=4, m=2') as unknown,
    });
  });
});

describe('restoreSummary', () => {
  it("names each partition's replay start, earliest when it has no output", () => {
    const plan = {
      resumeAfter: new Map([[7, T0]]),
      homePartition: new Map([[7, 1]]),
      replayFromMs: (p: number) => (p === 1 ? T0 : undefined),
    };
    expect(restoreSummary(plan, [0, 1])).toEqual({
      partitions: [0, 1],
      replayFrom: ['0:earliest', `1:${new Date(T0).toISOString()}`],
      machinesWithOutput: 1,
    });
  });
});
