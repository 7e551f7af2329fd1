/**
 * Delivery order of failure-risk alerts: the topic before `risk_alerts`. The restore rebuilds the
 * hysteresis from `risk_alerts` and never decides a stored transition again, so a transition must not be
 * stored before it is published (a crash in between lost it from the topic: seen once in
 * test/e2e/risk-alerts.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ProducedMessage } from '../../../src/ingest/index.js';
import { createRiskAlerts } from '../../../src/pipeline/risk-alerts.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { createFakeClickHouse } from './fake-clickhouse.js';

const THRESHOLDS = Float64Array.from([Infinity, 0.5, 0.6, 0.5, 0.5]);

describe('risk alerts delivery', () => {
  it('stores a transition in risk_alerts only after the topic acknowledged it', async () => {
    const ch = createFakeClickHouse();
    const sent: ProducedMessage[][] = [];
    let ack: () => void = () => undefined;
    const producer = {
      connect: () => Promise.resolve(),
      close: () => Promise.resolve(),
      send: (_topic: string, messages: readonly ProducedMessage[]) =>
        new Promise<void>((resolve) => {
          sent.push([...messages]);
          ack = resolve;
        }),
    };
    const alerts = createRiskAlerts({
      ch,
      database: 'pdm_unit',
      caps: { modernTypes: true },
      producer,
      topic: 'pdm.alerts',
      encode: (r) => Buffer.from(JSON.stringify(r)),
      clearRatio: 0.8,
      log: silentLogger,
    });
    const delivered = alerts.publish([
      {
        at: { topic: 'pdm.telemetry', partition: 0, offset: '41' },
        scored: [
          {
            machineId: 7,
            bucketMs: Date.UTC(2015, 0, 2),
            probabilities: [0.1, 0.9, 0, 0, 0],
            predictedIndex: 1,
            predictedClass: 'comp1',
            alertMask: 1,
            alertClass: 'comp1',
            warmingUp: false,
            modelVersion: 'm/1',
            alertThresholds: THRESHOLDS,
          },
        ],
      },
    ]);
    expect(delivered).toBeDefined();
    // Let everything that does not wait for the produce run: nothing may be inserted meanwhile.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(sent.map((m) => m.length)).toEqual([1]);
    expect(ch.stored('risk_alerts')).toEqual([]);

    ack();
    await delivered;
    expect(ch.stored<{ machine_id: number; state: string }>('risk_alerts')).toMatchObject([
      { machine_id: 7, state: 'firing' },
    ]);
    await alerts.close();
  });
});
