/**
 * Restart through the engine's public interfaces: a second engine over the same topics and tables seeks
 * every assigned partition where the restore plan says, suppresses the buckets ClickHouse already has
 * (no second physical row), and ends with exactly the rows of an engine that never stopped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../src/ingest/index.js';
import { planRestore, replayStartMs, type RestorePlan } from '../../../src/pipeline/index.js';
import type { FeatureVectorRow, PredictionRow } from '../../../src/sink/index.js';
import { createFakeClickHouse } from './fake-clickhouse.js';
import { createFakeSource, type FakeSource } from './fake-source.js';
import {
  createTestEngine,
  DATABASE,
  H,
  MODEL_VERSION,
  payload,
  T0,
  telemetry,
  testConfig,
  type TestEngine,
} from './harness.js';

const D = 24 * H;
const KINDS = ['telemetry', 'errors', 'maintenance', 'machines'] as const;
type Kind = (typeof KINDS)[number];
const config = testConfig();
const { topics } = config.kafka;
const tp = (kind: Kind, partition: number): TopicPartition => ({ topic: topics[kind], partition });
const ALL: TopicPartition[] = KINDS.flatMap((k) => [tp(k, 0), tp(k, 1)]);
/** Machine → the partition number all its topics use (co-partitioned producers). */
const HOME = new Map([
  [1, 0],
  [2, 0],
  [3, 1],
]);

const engines: TestEngine[] = [];
afterEach(async () => {
  for (const t of engines.splice(0)) await t.engine.stop();
});

function newSource(): FakeSource {
  return createFakeSource(
    KINDS.map((k) => topics[k]),
    2,
  );
}

/** Metadata, a maintenance and telemetry of every machine for days [fromDay, toDay), errors every 20 h. */
function produce(source: FakeSource, fromDay: number, toDay: number): void {
  for (const [machineId, p] of HOME) {
    if (fromDay === 0) {
      source.append(tp('machines', p), {
        key: String(machineId),
        value: payload({ record: { machineId, model: 'model3', age: 10 + machineId } }),
        timestampMs: T0,
      });
      source.append(tp('maintenance', p), {
        key: String(machineId),
        value: payload({ record: { machineId, ts: T0 + 5 * H, comp: 'comp2' } }),
        timestampMs: T0 + 5 * H,
      });
    }
    for (let ts = T0 + fromDay * D; ts < T0 + toDay * D; ts += H) {
      // Machine 2 sends a little differently from machine 1, so their rows differ.
      source.append(tp('telemetry', p), telemetry(machineId, ts, { volt: 160 + machineId + ((ts / H) % 7) }));
      if (((ts - T0) / H) % 20 === 3) {
        source.append(tp('errors', p), {
          key: String(machineId),
          value: payload({ record: { machineId, ts, errorId: 'error1' } }),
          timestampMs: ts,
        });
      }
    }
  }
}

/** Delivers every partition from its position in 40-message batches, side topics before telemetry. */
async function consumeAll(source: FakeSource): Promise<void> {
  for (const p of [0, 1]) {
    for (const kind of ['machines', 'maintenance', 'errors', 'telemetry'] as const) {
      while (source.remaining(tp(kind, p)) > 0) {
        expect(await source.deliver(tp(kind, p), 40).result).toBe(true);
      }
    }
  }
}

async function started(t: TestEngine): Promise<TestEngine> {
  engines.push(t);
  await t.engine.start();
  await t.source.assign(ALL);
  return t;
}

const keyOf = (r: { machine_id: number; bucket_ts: string }) => `${r.machine_id}:${r.bucket_ts}`;

function lastBucketPerMachine(rows: readonly PredictionRow[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const r of rows) if (r.bucket_ts > (out.get(r.machine_id) ?? '')) out.set(r.machine_id, r.bucket_ts);
  return out;
}

/** An engine that consumes the first `days`, then a restarted one that consumes the rest. */
async function crashAndRestart(days: number, totalDays: number) {
  const source = newSource();
  const ch = createFakeClickHouse();
  produce(source, 0, days);
  const first = await started(createTestEngine({ source, ch, config }));
  await consumeAll(source);
  const before = [...ch.stored<PredictionRow>('predictions')];
  const insertsBefore = ch.inserts.length;
  // The crash: the last acknowledged batch of each telemetry partition was never committed.
  for (const p of [0, 1]) source.commits.delete(`${topics.telemetry}:${p}`);
  engines.splice(engines.indexOf(first), 1);

  produce(source, days, totalDays);
  const plan = await planRestore({
    ch,
    database: DATABASE,
    modelVersion: MODEL_VERSION,
    bucketMs: config.features.bucketMs,
    allowedLatenessMs: config.features.allowedLatenessMs,
  });
  const seeksBefore = source.seeks.length;
  const second = await started(createTestEngine({ source, ch, config }));
  const seeks = source.seeks.slice(seeksBefore);
  return { source, ch, plan, before, insertsBefore, second, seeks };
}

async function uninterrupted(totalDays: number) {
  const source = newSource();
  const ch = createFakeClickHouse();
  produce(source, 0, totalDays);
  await started(createTestEngine({ source, ch, config }));
  await consumeAll(source);
  return ch;
}

async function expectedSeek(source: FakeSource, plan: RestorePlan, kind: Kind, partition: number) {
  return source.offsetForTimestamp(tp(kind, partition), replayStartMs(kind, plan.replayFromMs(partition)));
}

describe('engine restore', () => {
  it('seeks every assigned partition to the offset of its planned replay start', async () => {
    const r = await crashAndRestart(4, 6);
    expect(r.plan.resumeAfter.size).toBe(3);
    for (const kind of KINDS) {
      for (const p of [0, 1]) {
        const seek = r.seeks.filter((s) => s.tp.topic === topics[kind] && s.tp.partition === p);
        expect(seek).toHaveLength(1);
        expect(seek[0]?.offset).toBe(await expectedSeek(r.source, r.plan, kind, p));
      }
    }
    // The plan really skips the start of the telemetry logs (a replay from offset 0 would not).
    for (const p of [0, 1]) {
      const seek = r.seeks.find((s) => s.tp.topic === topics.telemetry && s.tp.partition === p);
      expect(Number(seek?.offset)).toBeGreaterThan(0);
      expect(Number(seek?.offset)).toBeLessThan(r.source.log(tp('telemetry', p)).length);
    }
  });

  it('writes no second row for a bucket already written, and only later buckets', async () => {
    const r = await crashAndRestart(4, 6);
    await consumeAll(r.source);
    const after = r.ch.inserts
      .slice(r.insertsBefore)
      .filter((i) => i.table === 'predictions')
      .flatMap((i) => i.rows as PredictionRow[]);
    const lastBefore = lastBucketPerMachine(r.before);
    expect(after.length).toBeGreaterThan(0);
    for (const row of after) expect(row.bucket_ts > (lastBefore.get(row.machine_id) ?? '')).toBe(true);
    // Physical rows (what `SELECT count()` without FINAL sees) = logical rows, in both tables.
    for (const table of ['predictions', 'feature_vectors']) {
      const keys = r.ch.stored<PredictionRow>(table).map(keyOf);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('ends with exactly the rows of an engine that never stopped', async () => {
    const r = await crashAndRestart(4, 7);
    await consumeAll(r.source);
    const reference = await uninterrupted(7);

    const byKey = <R extends { machine_id: number; bucket_ts: string }>(rows: R[]) =>
      new Map(rows.map((x) => [keyOf(x), x]));
    const got = byKey(r.ch.stored<PredictionRow>('predictions'));
    const want = byKey(reference.stored<PredictionRow>('predictions'));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, w] of want) {
      const g = got.get(k);
      expect([g?.p_none, g?.p_comp1, g?.p_comp2]).toEqual([w.p_none, w.p_comp1, w.p_comp2]);
    }
    const gotVec = byKey(r.ch.stored<FeatureVectorRow>('feature_vectors'));
    const wantVec = byKey(reference.stored<FeatureVectorRow>('feature_vectors'));
    expect([...gotVec.keys()].sort()).toEqual([...wantVec.keys()].sort());
    for (const [k, w] of wantVec) expect(gotVec.get(k)?.features, k).toEqual(w.features);
    expect(r.ch.stored('dead_letters')).toEqual([]);
  });

  it('drops a batch fetched before the restore seek took effect, uncommitted', async () => {
    const r = await crashAndRestart(4, 6);
    const tel0 = tp('telemetry', 0);
    const seek = r.seeks.find((s) => s.tp.topic === tel0.topic && s.tp.partition === 0);
    if (seek === undefined) throw new Error('no seek of telemetry 0');
    const committed = r.source.commits.get(`${tel0.topic}:0`);
    // Its sides start behind their log ends: telemetry 0 is held from the first fetch on (side-first),
    // and the side partitions are read first, as a real source would.
    expect(r.source.paused()).toContain(`${tel0.topic}:0`);
    for (const kind of ['machines', 'maintenance', 'errors'] as const) {
      while (r.source.remaining(tp(kind, 0)) > 0) {
        expect(await r.source.deliver(tp(kind, 0), 40).result).toBe(true);
      }
    }
    expect(r.source.paused()).not.toContain(`${tel0.topic}:0`);
    // The old fetch position lies past the seek offset: those messages would skip the replay.
    const stale = r.source.deliver(tel0, 10, String(Number(seek.offset) + 5));
    expect(await stale.result).toBe(false);
    expect(r.source.commits.get(`${tel0.topic}:0`)).toBe(committed);
    // The re-delivery from the seek offset is processed.
    expect(await r.source.deliver(tel0, 10).result).toBe(true);
    expect(r.source.commits.get(`${tel0.topic}:0`)).toBe(String(Number(seek.offset) + 10));
  });
});
