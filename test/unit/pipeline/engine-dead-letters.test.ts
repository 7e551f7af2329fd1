/**
 * Dead-letter mapping through the engine: a decode failure and a feature outcome each become one
 * dead-letter row with the reason, stage, machine and Kafka coordinates of the message that caused it,
 * while the valid records of the same batch are still scored (house style rule 5: never silent).
 */
import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../src/ingest/index.js';
import type { DeadLetterRow, PredictionRow } from '../../../src/sink/index.js';
import { H, hourly, payload, T0, telemetry, useRunningEngines } from './harness.js';

const running = useRunningEngines();

const coords = (r: DeadLetterRow) => ({
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  reason: r.reason,
  stage: r.stage,
  machine_id: r.machine_id,
});

describe('engine: dead letters', () => {
  it('maps decode failures to rows with the decoder reason, schema id and message coordinates', async () => {
    const t = await running();
    const tel1: TopicPartition = { topic: t.config.kafka.topics.telemetry, partition: 1 };
    for (const m of hourly(4, T0, 3)) t.source.append(tel1, m);
    const garbage = t.source.append(tel1, { key: null, value: Buffer.from([0, 1, 2]), timestampMs: T0 + H });
    const unknown = t.source.append(tel1, {
      key: null,
      value: payload({ fail: 'UNKNOWN_SCHEMA', message: 'schema id 4242 unknown', schemaId: 4242 }),
      timestampMs: T0 + 2 * H,
    });
    const keyed = t.source.append(tel1, {
      key: '5',
      value: payload({ fail: 'INCOMPATIBLE_SCHEMA', message: 'cannot read long as int', schemaId: 8 }),
      timestampMs: T0 + 3 * H,
    });
    expect(await t.source.deliver(tel1).result).toBe(true);

    const rows = t.ch.stored<DeadLetterRow>('dead_letters');
    expect(rows.map(coords)).toEqual([
      { ...tel1, offset: garbage, reason: 'BAD_FRAME', stage: 'decode', machine_id: -1 },
      { ...tel1, offset: unknown, reason: 'UNKNOWN_SCHEMA', stage: 'decode', machine_id: -1 },
      // The key is machineId as a decimal string: the machine is known although the value is not.
      { ...tel1, offset: keyed, reason: 'INCOMPATIBLE_SCHEMA', stage: 'decode', machine_id: 5 },
    ]);
    expect(rows.map((r) => r.schema_id)).toEqual([-1, 4242, 8]);
    expect(rows[0]).toMatchObject({ payload_base64: 'AAEC', payload_bytes: 3, key: null });
    expect(rows[1]?.error_message).toContain('schema id 4242 unknown');
    expect(rows[1]?.message_ts).toBe('2015-01-01 02:00:00');
    expect(rows[2]?.key).toBe('5');
  });

  it('maps INVALID_VALUE and LATE_EVENT outcomes of the feature stage to rows of their machine', async () => {
    const t = await running();
    const tel0: TopicPartition = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    for (const m of hourly(3, T0, 30)) t.source.append(tel0, m);
    const invalid = t.source.append(tel0, telemetry(3, T0 + 30 * H + 60_000, { volt: 1e6 }));
    expect(await t.source.deliver(tel0).result).toBe(true);
    const written = t.ch.stored<PredictionRow>('predictions');
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((p) => p.machine_id === 3)).toBe(true);

    // Bucket T0 is closed and written: a reading inside it is late; the on-time one next to it is used.
    const late = t.source.append(tel0, telemetry(3, T0 + 30 * 60_000));
    t.source.append(tel0, telemetry(3, T0 + 31 * H));
    expect(await t.source.deliver(tel0).result).toBe(true);

    const rows = t.ch.stored<DeadLetterRow>('dead_letters');
    expect(rows.map(coords)).toEqual([
      { ...tel0, offset: invalid, reason: 'INVALID_VALUE', stage: 'features', machine_id: 3 },
      { ...tel0, offset: late, reason: 'LATE_EVENT', stage: 'features', machine_id: 3 },
    ]);
    expect(rows[0]?.error_message).toMatch(/volt/);
    expect(rows[1]?.message_ts).toBe('2015-01-01 00:30:00');
    // Committed past both batches: the dead letters were acknowledged with them.
    expect(t.source.commits.get(`${tel0.topic}:0`)).toBe('33');
  });

  it('does not dead-letter a resent (duplicate) reading', async () => {
    const t = await running();
    const tel0: TopicPartition = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    for (const m of hourly(2, T0, 5)) t.source.append(tel0, m);
    t.source.append(tel0, telemetry(2, T0 + 4 * H));
    expect(await t.source.deliver(tel0).result).toBe(true);
    expect(t.ch.stored('dead_letters')).toEqual([]);
    expect(await t.metrics.registry.getSingleMetricAsString('pdm_duplicates_total')).toMatch(
      /pdm_duplicates_total 1/,
    );
  });

  it('dead-letters side-topic decode failures with the side topic coordinates', async () => {
    const t = await running();
    const err1: TopicPartition = { topic: t.config.kafka.topics.errors, partition: 1 };
    const bad = t.source.append(err1, {
      key: '9',
      value: payload({ fail: 'DECODE_ERROR', message: 'truncated', schemaId: 3 }),
      timestampMs: T0,
    });
    expect(await t.source.deliver(err1).result).toBe(true);
    expect(t.ch.stored<DeadLetterRow>('dead_letters').map(coords)).toEqual([
      { ...err1, offset: bad, reason: 'DECODE_ERROR', stage: 'decode', machine_id: 9 },
    ]);
    expect(t.source.commits.get(`${err1.topic}:1`)).toBe('1');
  });
});
