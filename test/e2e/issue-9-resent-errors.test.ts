/**
 * Issue 9, item 6: a producer that crashed and re-ran resends error (and maintenance) events that are
 * still inside a machine's open bucket. FEATURES.md revision 2: an error is a duplicate when its
 * (machineId, ts, errorId) was seen, a maintenance event when its (machineId, ts, comp) was: ignored and
 * counted, so error counts equal the batch path without the resends, and nothing is dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { HOUR_MS, type PdmEvent } from '../../src/shared/records.js';
import {
  FEATURE_INDEX,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  eventTs,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
  type RawMessage,
} from './handmade.js';
import {
  compareWithBatch,
  expectCleanExit,
  expectSameAsBatch,
  metricsText,
  metricSum,
  streamedRows,
  useE2eRun,
} from './support.js';

const START = Date.UTC(2026, 4, 4);
const FLEET = { machines: 20, days: 8, startMs: START, seed: 73 } as const;
const NOW = Date.UTC(2026, 6, 1);

const e2e = useE2eRun();

describe('issue 9: resent error and maintenance events', () => {
  it('counts a resent error once (error counts equal the batch path without resends)', async () => {
    const e = await e2e.env();
    const events = fleetEvents(FLEET);
    const expected = await batchOver(e, events, NOW);
    const framer = await createFramer(e);

    // At 10:00 and 22:00 the producer "restarts" and resends the side events of the last 10 h: the bucket
    // they belong to (12:00 or 24:00) is open (the watermark is at most 10:00 − 2 h lateness = 08:00).
    const stream: RawMessage[] = [];
    let resent = 0;
    let nextResendAt = START + 10 * HOUR_MS;
    const since = (): PdmEvent[] =>
      events.filter((ev) => {
        const ts = eventTs(ev);
        return (
          (ev.kind === 'errors' || ev.kind === 'maintenance') &&
          ts !== undefined &&
          ts > nextResendAt - 10 * HOUR_MS &&
          ts < nextResendAt
        );
      });
    for (const ev of events) {
      const ts = eventTs(ev);
      if (ts !== undefined && ts >= nextResendAt) {
        const again = since();
        resent += again.length;
        for (const r of again) stream.push(messageFor(e, framer, r));
        nextResendAt += 12 * HOUR_MS;
      }
      stream.push(messageFor(e, framer, ev));
    }
    const resentErrors = stream.length - events.length;
    expect(resentErrors).toBe(resent);
    expect(resent).toBeGreaterThan(5);
    // The resends matter: some expected row has a non-zero error count.
    expect(
      [...expected.values()].some((r) =>
        r.features.slice(FEATURE_INDEX.error1, FEATURE_INDEX.error1 + 5).some((c) => c > 0),
      ),
    ).toBe(true);

    const engine = await startEngine(e);
    e2e.engines.push(engine);
    const producer = await createTestProducer(e);
    await producer.send(stream, 500);
    await producer.close();
    await waitConsumed(e, engine);

    expect.soft((await deadLetters(e)).map((l) => `${l.reason} ${l.topic} ${l.error}`)).toEqual([]);
    const streamed = await streamedRows(e);
    const errorCounts = (f: readonly number[] | undefined): string =>
      (f ?? []).slice(FEATURE_INDEX.error1, FEATURE_INDEX.error1 + 5).join();
    const doubleCounted = [...expected].filter(
      ([k, r]) => streamed.has(k) && errorCounts(streamed.get(k)?.features) !== errorCounts(r.features),
    );
    expect.soft(doubleCounted.length, 'rows whose error counts differ from the batch path').toBe(0);
    expectSameAsBatch(compareWithBatch(expected, streamed));
    // Ignored and counted: every resend is a duplicate (the fleet itself has none).
    expect(metricSum(await metricsText(e.httpPort), 'pdm_duplicates_total')).toBe(resent);

    await expectCleanExit(engine);
  });
});
