/**
 * Issue 9 through the engine with fakes: a machine behind the others of its partition keeps its side
 * inputs (item 4), a record on another partition number than its machine is WRONG_PARTITION (item 5),
 * and an absurd Kafka record timestamp is one dead letter, not a stopped engine (item 1).
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../../src/features/index.js';
import type { TopicPartition } from '../../../src/ingest/index.js';
import type { DeadLetterRow, FeatureVectorRow } from '../../../src/sink/index.js';
import { H, hourly, payload, T0, telemetry, useRunningEngines, type TestEngine } from './harness.js';

const runningEngine = useRunningEngines();

async function running(): Promise<TestEngine & { tp: (kind: Kind, partition: number) => TopicPartition }> {
  const t = await runningEngine();
  const { topics } = t.config.kafka;
  return { ...t, tp: (kind, partition) => ({ topic: topics[kind], partition }) };
}
type Kind = 'telemetry' | 'errors' | 'maintenance' | 'machines';

const side = (machineId: number, ts: number, record: Record<string, unknown>) => ({
  key: String(machineId),
  value: payload({ record: { machineId, ts, ...record } }),
  timestampMs: ts,
});
const at = (name: string) => FEATURE_NAMES.indexOf(name);
const vectorsOf = (t: TestEngine, machineId: number) =>
  t.ch.stored<FeatureVectorRow>('feature_vectors').filter((r) => r.machine_id === machineId);

describe('issue 9 through the engine', () => {
  it('item 4: a machine far behind its partition, side events before its telemetry, loses nothing', async () => {
    const t = await running();
    const tel = t.tp('telemetry', 0);
    // Machine 1 is 30 days ahead; everything of it is processed first.
    for (const m of hourly(1, T0 + 30 * 24 * H, 48)) t.source.append(tel, m);
    expect(await t.source.deliver(tel).result).toBe(true);
    // Machine 2 produces its side events first, then its telemetry, 30 days behind machine 1.
    t.source.append(t.tp('errors', 0), side(2, T0 + 5 * H, { errorId: 'error1' }));
    t.source.append(t.tp('maintenance', 0), side(2, T0 + 6 * H, { comp: 'comp2' }));
    t.source.append(t.tp('machines', 0), {
      key: '2',
      value: payload({ record: { machineId: 2, model: 'model3', age: 7 } }),
      timestampMs: T0,
    });
    for (const m of hourly(2, T0, 48)) t.source.append(tel, m);
    // The engine happens to read the telemetry before the side topics.
    expect(await t.source.deliver(tel).result).toBe(true);
    expect(vectorsOf(t, 2)).toEqual([]);
    for (const k of ['errors', 'maintenance', 'machines'] as const)
      expect(await t.source.deliver(t.tp(k, 0)).result).toBe(true);

    expect(t.ch.stored<DeadLetterRow>('dead_letters')).toEqual([]);
    const rows = vectorsOf(t, 2).sort((a, b) => a.bucket_ts.localeCompare(b.bucket_ts));
    expect(rows.length).toBeGreaterThan(0);
    // Bucket T0 + 12 h: the error (T0 + 5 h) is within 24 h, the replacement (T0 + 6 h) 6 h before.
    const first = rows.find((r) => r.bucket_ts === '2015-01-01 12:00:00')?.features ?? [];
    expect(first[at('error1_count_24h')]).toBe(1);
    expect(first[at('comp2_days_since_replacement')]).toBeCloseTo(6 / 24, 9);
    expect(first[at('age')]).toBe(7);
    expect(first[at('model_model3')]).toBe(1);
  });

  it('item 5: a side record on another partition number than its machine telemetry is WRONG_PARTITION', async () => {
    const t = await running();
    const tel = t.tp('telemetry', 0);
    for (const m of hourly(3, T0, 30)) t.source.append(tel, m);
    expect(await t.source.deliver(tel).result).toBe(true);
    const wrong = t.source.append(t.tp('maintenance', 1), side(3, T0 + 40 * H, { comp: 'comp1' }));
    expect(await t.source.deliver(t.tp('maintenance', 1)).result).toBe(true);
    const dl = t.ch.stored<DeadLetterRow>('dead_letters');
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ reason: 'WRONG_PARTITION', partition: 1, offset: wrong, machine_id: 3 });
    expect(dl[0]?.error_message).toContain('partition 1, expected partition 0');
  });

  it('item 1: an absurd Kafka record timestamp is one INVALID_VALUE dead letter; the rest is scored', async () => {
    const t = await running();
    const tel = t.tp('telemetry', 1);
    for (const m of hourly(4, T0, 20)) t.source.append(tel, m);
    const absurd = t.source.append(tel, { ...telemetry(4, T0 + 20 * H), timestampMs: 9e15 });
    for (const m of hourly(4, T0 + 21 * H, 20)) t.source.append(tel, m);
    for (const k of ['errors', 'maintenance', 'machines'] as const)
      expect(await t.source.deliver(t.tp(k, 1)).result).toBe(false);
    expect(await t.source.deliver(tel).result).toBe(true);
    const dl = t.ch.stored<DeadLetterRow>('dead_letters');
    expect(dl.map((r) => [r.reason, r.stage, r.offset, r.machine_id, r.message_ts])).toEqual([
      ['INVALID_VALUE', 'ingest', absurd, 4, '1970-01-01 00:00:00'],
    ]);
    expect(dl[0]?.error_message).toContain('Kafka record timestamp 9000000000000000');
    expect(vectorsOf(t, 4).length).toBeGreaterThan(0);
  });

  it('a dead letter of the feature stage names the writer schema the decoder read it with', async () => {
    const t = await running();
    const tel = t.tp('telemetry', 0);
    const future = t.source.append(tel, { ...telemetry(5, Date.UTC(2099, 0, 1)), timestampMs: T0 });
    expect(await t.source.deliver(tel).result).toBe(true);
    expect(
      t.ch.stored<DeadLetterRow>('dead_letters').map((r) => [r.offset, r.reason, r.stage, r.schema_id]),
    ).toEqual([[future, 'FUTURE_EVENT', 'features', 1]]);
  });
});
