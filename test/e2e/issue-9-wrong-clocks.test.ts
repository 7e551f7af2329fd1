/**
 * Issue 9, items 1 and 3: devices with wrong clocks. Readings dated 2100, 1970, 1969 and 3000, a record whose
 * Kafka timestamp and event time are 9e15 ms (beyond what a JS Date can hold), a reading dated 2090 and
 * side events dated 2100 / 1970 arrive in the middle of a machine's data. The engine stays up (also across a
 * restart, whose restore seeks by timestamp), dead-letters each of them exactly once with the reason
 * FEATURES.md revision 2 gives (INVALID_VALUE outside [2000, 2100), FUTURE_EVENT beyond now + skew), and
 * the machine's later data is scored exactly like the batch path over the valid records.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, type PdmEvent } from '../../src/shared/records.js';
import {
  assertAlive,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  deliveryKey,
  eventTs,
  featuresBuildHasNow,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
  type RawMessage,
} from './handmade.js';
import { compareWithBatch, expectCleanExit, expectSameAsBatch, streamedRows, useE2eRun } from './support.js';

const START = Date.UTC(2026, 2, 1);
const FLEET = { machines: 4, days: 7, startMs: START, seed: 91 } as const;
const MACHINE = 2;
/** The batch path's processing clock: after all valid data, long before 2090. */
const NOW = Date.UTC(2026, 5, 1);

interface BadRecord {
  readonly name: string;
  readonly reason: string;
  readonly message: RawMessage;
  /** The event, when the batch path's CSV can express it. */
  readonly event?: PdmEvent;
}

const e2e = useE2eRun();

describe('issue 9: wrong clocks', () => {
  it('dead-letters absurd and future event times once each, stays up, and keeps scoring the machine', async () => {
    const startedAt = Date.now();
    const e = await e2e.env();
    const events = fleetEvents(FLEET);
    const expected = await batchOver(e, events, NOW);
    expect(expected.size).toBeGreaterThan(40);
    const framer = await createFramer(e);
    const producer = await createTestProducer(e);
    const topics = e.config.kafka.topics;
    const reading = (ts: number): PdmEvent => ({
      kind: 'telemetry',
      record: { machineId: MACHINE, ts, volt: 170, rotate: 450, pressure: 100, vibration: 40 },
    });
    /** A bad record a real producer would send for `ev` (Kafka timestamp = event time unless given). */
    const badEvent = (name: string, reason: string, ev: PdmEvent, timestamp?: number): BadRecord => ({
      name,
      reason,
      event: ev,
      message: { ...messageFor(e, framer, ev), ...(timestamp === undefined ? {} : { timestamp }) },
    });
    const bad: BadRecord[] = [
      badEvent('reading dated 2100', 'INVALID_VALUE', reading(Date.UTC(2100, 0, 1, 6))),
      badEvent('reading dated 1970', 'INVALID_VALUE', reading(Date.UTC(1970, 0, 1, 5))),
      // Kafka refuses negative record timestamps: the producer stamps it with its wall clock.
      badEvent('reading dated 1969', 'INVALID_VALUE', reading(Date.UTC(1969, 11, 31, 22)), Date.now()),
      badEvent('reading dated 3000', 'INVALID_VALUE', reading(Date.UTC(3000, 0, 1))),
      {
        // Not expressible as a CSV date: streaming only.
        name: 'Kafka timestamp and event time 9e15',
        reason: 'INVALID_VALUE',
        message: { ...messageFor(e, framer, reading(9e15)), timestamp: 9e15 },
      },
      {
        // A plausible reading (not a duplicate: the fleet reads on the hour) whose record timestamp is absurd.
        name: 'valid reading with Kafka timestamp 9e15',
        reason: 'INVALID_VALUE',
        message: { ...messageFor(e, framer, reading(START + 2 * DAY_MS + 20 * 60_000)), timestamp: 9e15 },
      },
      {
        // Dead-lettering it writes the record timestamp into the dead letter: it must not break that.
        name: 'garbage value with Kafka timestamp 9e15',
        reason: 'BAD_FRAME',
        message: {
          topic: topics.telemetry,
          key: String(MACHINE),
          value: Buffer.from('not avro'),
          timestamp: 9e15,
        },
      },
      badEvent('reading dated 2090 (future)', 'FUTURE_EVENT', reading(Date.UTC(2090, 5, 1))),
      badEvent('error dated 2100', 'INVALID_VALUE', {
        kind: 'errors',
        record: { machineId: MACHINE, ts: Date.UTC(2100, 2, 1), errorId: 'error1' },
      }),
      badEvent('maintenance dated 1970', 'INVALID_VALUE', {
        kind: 'maintenance',
        record: { machineId: MACHINE, ts: Date.UTC(1970, 0, 2), comp: 'comp2' },
      }),
    ];
    expect(bad.map((b) => b.message.topic)).toContain(topics.errors);

    const valid = events.map((ev) => messageFor(e, framer, ev));
    const cut1 = START + 2 * DAY_MS + 30 * 60_000;
    const cut2 = START + 6 * DAY_MS;
    const phase = (from: number, to: number): RawMessage[] =>
      valid.filter((_, i) => {
        const ts = eventTs(events[i] as PdmEvent) ?? Number.NEGATIVE_INFINITY;
        return ts >= from && ts < to;
      });

    const engine = await startEngine(e);
    e2e.engines.push(engine);
    await producer.send(phase(Number.NEGATIVE_INFINITY, cut1));
    await waitConsumed(e, engine);
    // The wrong clocks arrive while the machine has closed buckets and open ones.
    const badDelivered = await producer.send(bad.map((b) => b.message));
    await waitConsumed(e, engine, 60_000);
    await producer.send(phase(cut1, cut2));
    await waitConsumed(e, engine);
    assertAlive(engine);

    // A restart replays from Kafka timestamps: the absurd ones must not break it.
    await expectCleanExit(engine);
    const second = await startEngine(e);
    e2e.engines.push(second);
    await producer.send(phase(cut2, Number.POSITIVE_INFINITY));
    await producer.close();
    await waitConsumed(e, second);
    await new Promise((r) => setTimeout(r, 3_000));
    assertAlive(second);

    const letters = await deadLetters(e);
    const byOffset = new Map(letters.map((l) => [deliveryKey(l), l]));
    const report = bad.map((b, i) => {
      const d = byOffset.get(deliveryKey(badDelivered[i] ?? { topic: '', partition: -1, offset: -1 }));
      return {
        name: b.name,
        reason: d?.reason,
        machineId: d?.machineId,
        hasMessage: (d?.error ?? '') !== '',
      };
    });
    // Soft: a run on an engine without the fixes shows every symptom, not only the first.
    expect
      .soft(report)
      .toEqual(bad.map((b) => ({ name: b.name, reason: b.reason, machineId: MACHINE, hasMessage: true })));
    // Exactly one dead letter per bad record, none for valid ones.
    expect.soft(letters.map((l) => `${l.reason} ${l.topic}`)).toHaveLength(bad.length);
    expect.soft(new Set(letters.map(deliveryKey)).size).toBe(bad.length);

    const cmp = compareWithBatch(expected, await streamedRows(e));
    expect
      .soft({ missing: cmp.missing.length, extra: cmp.extra.slice(0, 5) })
      .toEqual({ missing: 0, extra: [] });
    expectSameAsBatch(cmp);
    // The machine with the wrong clocks is scored up to its last closable bucket.
    const lastTs = Math.max(
      ...events.filter((ev) => ev.record.machineId === MACHINE).map((ev) => eventTs(ev) ?? 0),
    );
    const lastBucketSec = (Math.floor((lastTs - 2 * HOUR_MS) / (12 * HOUR_MS)) * 12 * HOUR_MS) / 1000;
    expect(expected.has(`${MACHINE}:${lastBucketSec}`)).toBe(true);
    // Revision 2: the batch path takes the processing clock as --now. With the wall clock of this run as
    // --now, the batch path over the valid records plus the bad ones it can read gives the same rows.
    expect(await featuresBuildHasNow(e)).toBe(true);
    const withBad = await batchOver(
      e,
      [...events, ...bad.flatMap((b) => (b.event === undefined ? [] : [b.event]))],
      startedAt,
      'with-bad',
    );
    expectSameAsBatch(
      compareWithBatch(
        expected,
        new Map([...withBad].map(([k, r]) => [k, { probabilities: r.probabilities, features: r.features }])),
      ),
    );

    await expectCleanExit(second);
  });
});
