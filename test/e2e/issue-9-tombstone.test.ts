/**
 * Issue 9, tombstones: a null value on the compacted machines topic (key = machineId) deletes that
 * machine's metadata. Its feature vectors written after the tombstone have age −1 and an all-zero model
 * one-hot (exactly the batch path's rows for the machine without metadata); rows written before keep the
 * metadata; other machines are untouched; the tombstone is not a dead letter.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, machineKey } from '../../src/shared/records.js';
import {
  FEATURE_INDEX,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  eventTs,
  featureVectorsOf,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
} from './handmade.js';
import {
  expectCleanExit,
  expectStreamedSameAsBatch,
  streamedRows,
  useE2eRun,
  type ExpectedRow,
} from './support.js';

const START = Date.UTC(2026, 5, 1);
const FLEET = { machines: 6, days: 8, startMs: START, seed: 19 } as const;
const MACHINE = 3;
const NOW = Date.UTC(2026, 7, 1);

const e2e = useE2eRun();

describe('issue 9: tombstone on the machines topic', () => {
  it("deletes the machine's metadata for the buckets written after it, without a dead letter", async () => {
    const e = await e2e.env();
    const events = fleetEvents(FLEET);
    const withMeta = await batchOver(e, events, NOW, 'with-meta');
    const withoutMeta = await batchOver(
      e,
      events.filter((ev) => !(ev.kind === 'machines' && ev.record.machineId === MACHINE)),
      NOW,
      'without-meta',
    );
    const framer = await createFramer(e);
    const producer = await createTestProducer(e);
    const engine = await startEngine(e);
    e2e.engines.push(engine);

    const half = START + 4 * DAY_MS;
    const first = events.filter((ev) => (eventTs(ev) ?? Number.NEGATIVE_INFINITY) < half);
    const rest = events.filter((ev) => (eventTs(ev) ?? Number.NEGATIVE_INFINITY) >= half);
    await producer.send(first.map((ev) => messageFor(e, framer, ev)));
    await waitConsumed(e, engine);
    const before = new Set((await streamedRows(e)).keys());
    const ownBefore = [...before].filter((k) => k.startsWith(`${MACHINE}:`)).length;
    expect(ownBefore).toBeGreaterThan(3);

    await producer.send([{ topic: e.config.kafka.topics.machines, key: machineKey(MACHINE), value: null }]);
    await waitConsumed(e, engine);
    await producer.send(rest.map((ev) => messageFor(e, framer, ev)));
    await producer.close();
    await waitConsumed(e, engine);

    expect
      .soft((await deadLetters(e)).map((l) => `${l.reason} ${l.topic} key ${l.key}: ${l.error}`))
      .toEqual([]);
    const vectors = await featureVectorsOf(e, MACHINE);
    const after = [...vectors].filter(([b]) => !before.has(`${MACHINE}:${b}`));
    expect(after.length).toBeGreaterThan(3);
    const stillKnown = after.filter(
      ([, f]) =>
        f[FEATURE_INDEX.age] !== -1 ||
        f.slice(FEATURE_INDEX.model1, FEATURE_INDEX.model1 + 4).some((x) => x !== 0),
    );
    expect.soft(stillKnown.length, 'buckets after the tombstone that still have metadata').toBe(0);

    // Before the tombstone: the batch rows with metadata; after it, the machine's rows without.
    const expected = new Map<string, ExpectedRow>(withMeta);
    for (const [k, row] of withoutMeta)
      if (row.machineId === MACHINE && !before.has(k) && expected.has(k)) expected.set(k, row);
    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
