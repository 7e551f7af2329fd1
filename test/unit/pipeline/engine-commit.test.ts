/**
 * House style rule 7 through the engine's public interfaces: the source commits a batch only when
 * `onBatch` resolves true, and `onBatch` resolves only after ClickHouse acknowledged every prediction,
 * feature vector and dead letter the batch produced. The source and the connection are fakes; the
 * writers, the feature stage and the engine are the real ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../src/ingest/index.js';
import { PdmError } from '../../../src/shared/errors.js';
import type { PredictionRow } from '../../../src/sink/index.js';
import { allPartitions, createTestEngine, H, hourly, payload, T0, type TestEngine } from './harness.js';
import { drain, track } from './settle.js';

const TABLE_NAMES = ['predictions', 'feature_vectors', 'dead_letters'] as const;
const engines: TestEngine[] = [];

afterEach(async () => {
  for (const t of engines.splice(0)) {
    t.ch.release();
    await t.engine.stop();
  }
});

/** A started engine with every partition assigned (restore planned against an empty ClickHouse). */
async function running(): Promise<TestEngine & { tel0: TopicPartition }> {
  const t = createTestEngine();
  engines.push(t);
  await t.engine.start();
  await t.source.assign(allPartitions(t));
  expect(t.engine.ready()).toBe(true);
  return { ...t, tel0: { topic: t.config.kafka.topics.telemetry, partition: 0 } };
}

/**
 * Two days of hourly telemetry of machine 1 (closes buckets, so predictions and feature vectors are
 * written) plus one undecodable message (a dead letter) at the end.
 */
function appendBatch(t: TestEngine & { tel0: TopicPartition }): string {
  for (const m of hourly(1, T0, 48)) t.source.append(t.tel0, m);
  return t.source.append(t.tel0, {
    key: '1',
    value: payload({ fail: 'UNKNOWN_SCHEMA', message: 'schema id 99 unknown', schemaId: 99 }),
    timestampMs: T0 + 48 * H,
  });
}

/**
 * With inserts held, acknowledges every insert as it is made except those of `keep`, until all three
 * tables had an insert (the batch's dead letters go out first; the rows its side checkpoint closes follow
 * in the next write, which waits for the previous one).
 */
async function ackAllBut(t: TestEngine, keep: string | undefined): Promise<void> {
  for (let made = 1; ; made++) {
    await t.ch.insertsReached(made);
    for (const i of t.ch.pendingInserts()) if (i.table !== keep) i.ack();
    const tables = new Set(t.ch.inserts.map((i) => i.table));
    if (TABLE_NAMES.every((n) => tables.has(n))) return;
  }
}

describe('engine: a batch is committed only after everything it produced is acknowledged', () => {
  it('holds the commit while the inserts are pending; commits after the acks', async () => {
    const t = await running();
    const lastOffset = appendBatch(t);
    t.ch.hold();
    const d = t.source.deliver(t.tel0);
    const done = track(d.result);
    await t.ch.insertsReached(1);
    await drain(30);
    // The first write (the dead letter) is held: the checkpoint's rows wait behind it, nothing commits.
    expect(t.ch.pendingInserts().map((i) => i.table)).toEqual(['dead_letters']);
    expect(done.state()).toBe('pending');
    expect(t.source.commits.size).toBe(0);

    t.ch.release();
    expect(await d.result).toBe(true);
    expect(t.source.commits.get(`${t.tel0.topic}:0`)).toBe(String(BigInt(lastOffset) + 1n));
    expect(t.ch.stored('predictions').length).toBeGreaterThan(0);
    expect(t.ch.stored('feature_vectors')).toHaveLength(t.ch.stored('predictions').length);
    expect(t.ch.stored('dead_letters')).toHaveLength(1);
  });

  it.each(TABLE_NAMES)('does not commit while only the %s insert is unacknowledged', async (table) => {
    const t = await running();
    appendBatch(t);
    t.ch.hold();
    const d = t.source.deliver(t.tel0);
    const done = track(d.result);
    // Writes are acknowledged in order: while the dead letter is held, the rows behind it are not sent.
    if (table === 'dead_letters') await t.ch.insertsReached(1);
    else await ackAllBut(t, table);
    await drain(30);
    expect(t.ch.pendingInserts().map((i) => i.table)).toEqual([table]);
    expect(done.state()).toBe('pending');
    expect(t.source.commits.size).toBe(0);
    t.ch.release();
    expect(await d.result).toBe(true);
    expect(t.source.commits.size).toBe(1);
  });

  it('commits a batch of dead letters only (no bucket closed) after their acknowledgement', async () => {
    const t = await running();
    t.source.append(t.tel0, { key: null, value: Buffer.from('garbage'), timestampMs: T0 });
    t.ch.hold();
    const d = t.source.deliver(t.tel0);
    const done = track(d.result);
    await t.ch.insertsReached(1, 'dead_letters');
    await drain(30);
    expect(done.state()).toBe('pending');
    expect(t.source.commits.size).toBe(0);
    t.ch.release();
    expect(await d.result).toBe(true);
    expect(t.source.commits.get(`${t.tel0.topic}:0`)).toBe('1');
  });

  it.each(TABLE_NAMES)(
    'retries a transiently failing %s insert; nothing is committed meanwhile, each row is written once',
    async (table) => {
      const t = await running();
      appendBatch(t);
      t.ch.failNext(2, { table });
      const d = t.source.deliver(t.tel0);
      const done = track(d.result);
      await t.ch.insertsReached(2, table);
      expect(done.state()).toBe('pending');
      expect(t.source.commits.size).toBe(0);
      expect(await d.result).toBe(true);
      expect(t.ch.inserts.filter((i) => i.table === table).map((i) => i.state)).toEqual([
        'failed',
        'failed',
        'acked',
      ]);
      expect(t.source.commits.size).toBe(1);
      const keys = t.ch.stored<PredictionRow>('predictions').map((p) => `${p.machine_id}:${p.bucket_ts}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(t.ch.stored('dead_letters')).toHaveLength(1);
    },
  );

  it('rejects onBatch (no commit) when an insert fails non-retryably', async () => {
    const t = await running();
    appendBatch(t);
    const mismatch = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    t.ch.failNext(1, { table: 'predictions', error: mismatch });
    await expect(t.source.deliver(t.tel0).result).rejects.toBe(mismatch);
    expect(t.source.commits.size).toBe(0);
  });

  it('keeps later batches behind an unacknowledged one: each commit follows its own acks', async () => {
    const t = await running();
    for (const m of hourly(1, T0, 24)) t.source.append(t.tel0, m);
    t.ch.hold();
    const first = t.source.deliver(t.tel0);
    await t.ch.insertsReached(1);
    await drain(30);
    expect(t.source.commits.size).toBe(0);
    t.ch.release();
    expect(await first.result).toBe(true);
    expect(t.source.commits.get(`${t.tel0.topic}:0`)).toBe('24');

    for (const m of hourly(1, T0 + 24 * H, 24)) t.source.append(t.tel0, m);
    t.ch.hold();
    const second = t.source.deliver(t.tel0);
    const done = track(second.result);
    await t.ch.insertsReached(t.ch.inserts.length + 1);
    await drain(30);
    expect(done.state()).toBe('pending');
    expect(t.source.commits.get(`${t.tel0.topic}:0`)).toBe('24');
    t.ch.release();
    expect(await second.result).toBe(true);
    expect(t.source.commits.get(`${t.tel0.topic}:0`)).toBe('48');
  });

  it('holds a batch while the schema registry is down: no dead letters, committed once it answers', async () => {
    const t = await running();
    appendBatch(t);
    t.decoder.registryDown(2);
    const d = t.source.deliver(t.tel0);
    const done = track(d.result);
    await drain(20);
    expect(done.state()).toBe('pending');
    expect(t.ch.inserts).toEqual([]);
    expect(t.source.commits.size).toBe(0);
    expect(await d.result).toBe(true);
    expect(t.decoder.prepared).toBe(3);
    // Only the one undecodable message is dead-lettered; the outage itself never is.
    expect(t.ch.stored('dead_letters')).toHaveLength(1);
    expect(t.ch.stored('predictions').length).toBeGreaterThan(0);
    expect(t.source.commits.size).toBe(1);
  });

  it('stop() flushes the writers and stops the source', async () => {
    const t = await running();
    appendBatch(t);
    expect(await t.source.deliver(t.tel0).result).toBe(true);
    engines.splice(engines.indexOf(t), 1);
    await t.engine.stop();
    await expect(t.engine.done).resolves.toBeUndefined();
  });
});
