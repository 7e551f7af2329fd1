/**
 * The engine's side of the backlog spacing (flow.ts): how far behind the log it reads comes from each
 * batch's high watermark. Far behind (BACKLOG_RECORDS or more), a write that follows another waits for
 * the interval; the batch that catches up ends the wait. Fake source and ClickHouse, real engine and flow.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BACKLOG_RECORDS } from '../../../src/pipeline/engine.js';
import { allPartitions, createTestEngine, hourly, T0, testConfig, type TestEngine } from './harness.js';
import { drain, track } from './settle.js';

const engines: TestEngine[] = [];

afterEach(async () => {
  for (const t of engines.splice(0)) {
    t.ch.release();
    await t.engine.stop();
  }
});

async function running(intervalMs: number): Promise<TestEngine> {
  const t = createTestEngine({ config: testConfig({ PDM_BACKLOG_WRITE_INTERVAL_MS: String(intervalMs) }) });
  engines.push(t);
  await t.engine.start();
  await t.source.assign(allPartitions(t));
  return t;
}

const predictionInserts = (t: TestEngine) =>
  t.ch.inserts.filter((i) => i.table.endsWith('predictions')).length;

describe('engine: writes spaced while far behind the log, not once caught up', () => {
  it('holds the second write of a backlog; the batch that catches up releases it', async () => {
    const t = await running(5_000);
    const tel0 = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    // A backlog on one partition: BACKLOG_RECORDS + 200 hours of one machine.
    for (const m of hourly(1, T0, BACKLOG_RECORDS + 200)) t.source.append(tel0, m);

    expect(await t.source.deliver(tel0, 48).result).toBe(true);
    const first = predictionInserts(t);
    expect(first).toBeGreaterThan(0);

    const second = track(t.source.deliver(tel0, 48).result);
    await drain(300);
    // Still BACKLOG_RECORDS + 104 records behind: its rows wait for the interval.
    expect(second.state()).toBe('pending');
    expect(predictionInserts(t)).toBe(first);

    const started = performance.now();
    const rest = t.source.deliver(tel0).result;
    expect(await second.promise).toBe(true);
    expect(await rest).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(predictionInserts(t)).toBeGreaterThan(first);
  });

  it('a partition that got no batch for a second no longer counts as behind (a tail fetches never return)', async () => {
    const t = await running(5_000);
    const tel0 = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    const tel1 = { topic: t.config.kafka.topics.telemetry, partition: 1 };
    // Partition 0 ends in records that are never delivered; partition 1 goes on live.
    for (const m of hourly(1, T0, BACKLOG_RECORDS + 200)) t.source.append(tel0, m);
    for (const m of hourly(2, T0, 48)) t.source.append(tel1, m);
    expect(await t.source.deliver(tel0, 48).result).toBe(true);
    await drain(1_100);
    const started = performance.now();
    expect(await t.source.deliver(tel1).result).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('a short log (less than BACKLOG_RECORDS behind) writes each batch at once', async () => {
    const t = await running(5_000);
    const tel0 = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    for (const m of hourly(1, T0, 200)) t.source.append(tel0, m);
    expect(await t.source.deliver(tel0, 48).result).toBe(true);
    const started = performance.now();
    expect(await t.source.deliver(tel0, 48).result).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
