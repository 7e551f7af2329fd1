/** pdm_paused (issue 9): set for ClickHouse outages too, per cause, and cleared only when all recovered. */
import { describe, expect, it } from 'vitest';
import { createEngineMetrics, pauseTracker } from '../../../src/shared/metrics.js';

async function paused(m: ReturnType<typeof createEngineMetrics>): Promise<Record<string, number>> {
  const g = await m.paused.get();
  return Object.fromEntries(g.values.map((v) => [String(v.labels.cause), v.value]));
}

describe('pdm_paused', () => {
  it('starts at 0 for every cause, so that max(pdm_paused) is defined', async () => {
    const m = createEngineMetrics({ defaultMetrics: false });
    expect(await paused(m)).toEqual({ kafka: 0, registry: 0, clickhouse: 0 });
  });

  it('stays 1 while any writer retries and drops to 0 when the last one recovered', async () => {
    const m = createEngineMetrics({ defaultMetrics: false });
    const ch = pauseTracker(m.paused, 'clickhouse');
    ch.set('predictions', true);
    ch.set('dead_letters', true);
    expect((await paused(m)).clickhouse).toBe(1);
    ch.set('predictions', false);
    expect((await paused(m)).clickhouse).toBe(1);
    ch.set('dead_letters', false);
    expect(await paused(m)).toEqual({ kafka: 0, registry: 0, clickhouse: 0 });
  });
});
