/**
 * The warning that names PDM_SIDE_GRACE_MS when errors or maintenance events are dead-lettered LATE_EVENT
 * (a producer holding side events back longer than the grace: README, producer contract item 5).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TopicPartition } from '../../../src/ingest/index.js';
import { createLateSideWarning, LATE_SIDE_WARNING } from '../../../src/pipeline/late-side-warning.js';
import type { DeadLetterRow } from '../../../src/sink/index.js';
import { capturingLogger } from '../ingest/fake-kafka.js';
import {
  allPartitions,
  createTestEngine,
  hourly,
  payload,
  T0,
  telemetry,
  testConfig,
  type TestEngine,
} from './harness.js';

const late = { reason: 'LATE_EVENT' } as const;
const other = { reason: 'DECODE_ERROR' } as const;

describe('late side-event warning', () => {
  it('warns at the first late side event, then at most once per interval with the counts since the last one', () => {
    const { log, lines } = capturingLogger();
    let now = 1_000_000;
    const w = createLateSideWarning({ log, sideGraceMs: 250, intervalMs: 60_000, now: () => now });

    w.record('errors', [other, other]);
    expect(lines()).toEqual([]);

    w.record('errors', [late, other, late]);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({
      level: 40,
      msg: LATE_SIDE_WARNING,
      lateEvents: { errors: 2, maintenance: 0 },
      sinceMs: 0,
      sideGraceMs: 250,
    });

    now += 10_000;
    w.record('maintenance', [late]);
    now += 20_000;
    w.record('errors', [late, late, late]);
    expect(lines()).toHaveLength(1);

    now += 30_000; // 60 s after the first warning
    w.record('maintenance', [late]);
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).toMatchObject({ lateEvents: { errors: 3, maintenance: 2 }, sinceMs: 50_000 });

    // Nothing pending after a warning: the next one counts from scratch.
    now += 60_000;
    w.record('errors', [late]);
    expect(lines()[2]).toMatchObject({ lateEvents: { errors: 1, maintenance: 0 }, sinceMs: 0 });
  });

  it('warns with the pending counts at the end of the interval even when no later late event comes', () => {
    vi.useFakeTimers();
    try {
      const { log, lines } = capturingLogger();
      const w = createLateSideWarning({ log, sideGraceMs: 250, intervalMs: 60_000 });
      w.record('errors', [late]);
      vi.advanceTimersByTime(10_000);
      w.record('maintenance', [late, late]);
      vi.advanceTimersByTime(49_999);
      expect(lines()).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(lines()).toHaveLength(2);
      expect(lines()[1]).toMatchObject({ lateEvents: { errors: 0, maintenance: 2 }, sinceMs: 50_000 });
      // Nothing pending: no further warning, and a closed warning schedules nothing.
      vi.advanceTimersByTime(120_000);
      expect(lines()).toHaveLength(2);
      w.record('errors', [late]);
      vi.advanceTimersByTime(5_000);
      w.record('errors', [late]);
      expect(lines()).toHaveLength(3);
      // A stop inside the interval: what is pending is warned now, and nothing is scheduled any more.
      w.close();
      expect(lines()).toHaveLength(4);
      expect(lines()[3]).toMatchObject({ lateEvents: { errors: 1, maintenance: 0 }, sinceMs: 0 });
      vi.advanceTimersByTime(120_000);
      expect(lines()).toHaveLength(4);
      // Closing with nothing pending says nothing.
      w.close();
      expect(lines()).toHaveLength(4);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the message names the setting and the producer settings that cause it', () => {
    expect(LATE_SIDE_WARNING).toContain('PDM_SIDE_GRACE_MS');
    expect(LATE_SIDE_WARNING).toContain('linger.ms');
    expect(LATE_SIDE_WARNING).toContain('LATE_EVENT');
  });
});

describe('engine: late side events', () => {
  const engines: TestEngine[] = [];
  afterEach(async () => {
    for (const t of engines.splice(0)) await t.engine.stop();
  });

  it("an error event behind its machine's closed buckets is dead-lettered and warned about; telemetry is not", async () => {
    const { log, lines } = capturingLogger();
    const t = createTestEngine({ config: testConfig({ PDM_SIDE_GRACE_MS: '0' }), log });
    engines.push(t);
    await t.engine.start();
    await t.source.assign(allPartitions(t));
    const tel0: TopicPartition = { topic: t.config.kafka.topics.telemetry, partition: 0 };
    const err0: TopicPartition = { topic: t.config.kafka.topics.errors, partition: 0 };
    for (const m of hourly(3, T0, 30)) t.source.append(tel0, m);
    expect(await t.source.deliver(tel0).result).toBe(true);
    expect(t.ch.stored('predictions').length).toBeGreaterThan(0);

    // Late telemetry: dead-lettered, but no warning (the warning is about side events).
    t.source.append(tel0, telemetry(3, T0 + 30 * 60_000));
    expect(await t.source.deliver(tel0).result).toBe(true);
    const warned = () => lines().filter((l) => l.msg === LATE_SIDE_WARNING);
    expect(warned()).toEqual([]);

    // An error inside bucket T0 of machine 3, which is closed and written.
    const ts = T0 + 20 * 60_000;
    t.source.append(err0, {
      key: '3',
      value: payload({ record: { machineId: 3, ts, errorId: 'error1' } }),
      timestampMs: ts,
    });
    expect(await t.source.deliver(err0).result).toBe(true);
    const rows = t.ch.stored<DeadLetterRow>('dead_letters');
    expect(rows.map((r) => [r.topic, r.reason])).toEqual([
      [tel0.topic, 'LATE_EVENT'],
      [err0.topic, 'LATE_EVENT'],
    ]);
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({
      level: 40,
      lateEvents: { errors: 1, maintenance: 0 },
      sideGraceMs: 0,
    });
  });
});
