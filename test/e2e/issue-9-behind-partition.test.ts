/**
 * Issue 9, item 4: a machine that is behind the other machines of its partition. The other machines' data
 * (days of it) is consumed first; then one machine's metadata, errors and maintenance arrive, and only then
 * its telemetry. FEATURES.md revision 2: lateness is judged per machine, so nothing of it is LATE_EVENT, its
 * metadata is applied (age and model one-hot in feature_vectors), and every feature equals the batch path.
 */
import { describe, expect, it } from 'vitest';
import { machineKey, type PdmEvent } from '../../src/shared/records.js';
import {
  FEATURE_INDEX,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  featureVectorsOf,
  fleetEvents,
  messageFor,
  murmur2Partition,
  startEngine,
  waitConsumed,
} from './handmade.js';
import { expectCleanExit, expectStreamedSameAsBatch, predictionCount, useE2eRun } from './support.js';

const START = Date.UTC(2026, 3, 6);
const FLEET = { machines: 10, days: 8, startMs: START, seed: 57 } as const;
const NOW = Date.UTC(2026, 5, 1);

const e2e = useE2eRun();

describe('issue 9: a machine behind its partition', () => {
  it('loses nothing when its side events and metadata come first and its partition is days ahead', async () => {
    const e = await e2e.env();
    const events = fleetEvents(FLEET);
    const partitions = e.config.kafka.partitions;
    const partitionOf = (m: number): number => murmur2Partition(machineKey(m), partitions);
    const sideCount = (m: number): number =>
      events.filter((ev) => ev.record.machineId === m && (ev.kind === 'errors' || ev.kind === 'maintenance'))
        .length;
    // The machine with the most side events among those sharing a partition with at least two others.
    const machines = Array.from({ length: FLEET.machines }, (_, i) => i + 1);
    const crowded = machines.filter(
      (m) => machines.filter((o) => partitionOf(o) === partitionOf(m)).length >= 3,
    );
    expect(crowded.length).toBeGreaterThan(0);
    const behind = crowded.sort((a, b) => sideCount(b) - sideCount(a))[0] as number;
    const own = events.filter((ev) => ev.record.machineId === behind);
    const meta = own.find((ev): ev is Extract<PdmEvent, { kind: 'machines' }> => ev.kind === 'machines');
    if (meta === undefined) throw new Error('fleet has no metadata for the machine');
    expect(own.filter((ev) => ev.kind === 'maintenance').length).toBeGreaterThan(0);
    expect(own.filter((ev) => ev.kind === 'errors').length).toBeGreaterThan(0);

    const expected = await batchOver(e, events, NOW);
    const framer = await createFramer(e);
    const producer = await createTestProducer(e);
    const engine = await startEngine(e);
    e2e.engines.push(engine);

    const others = events.filter((ev) => ev.record.machineId !== behind);
    await producer.send(others.map((ev) => messageFor(e, framer, ev)));
    await waitConsumed(e, engine);
    const aheadRows = [...expected.values()].filter((r) => r.machineId !== behind).length;
    expect(await predictionCount(e)).toBe(aheadRows);
    // Side events and metadata first, then the machine's own telemetry, back to back as one producer sends
    // them, while the partition is the whole fleet's span ahead: the engine may well fetch the telemetry
    // before the side events that were produced earlier.
    await producer.send(
      [...own.filter((ev) => ev.kind !== 'telemetry'), ...own.filter((ev) => ev.kind === 'telemetry')].map(
        (ev) => messageFor(e, framer, ev),
      ),
      100_000,
    );
    await producer.close();
    await waitConsumed(e, engine);

    const letters = await deadLetters(e);
    expect.soft(letters.map((l) => `${l.reason} ${l.topic} machine ${l.machineId}`)).toEqual([]);
    const vectors = await featureVectorsOf(e, behind);
    const expectedOwn = [...expected.values()].filter((r) => r.machineId === behind);
    expect.soft(vectors.size).toBe(expectedOwn.length);
    const modelHot = [1, 2, 3, 4].map((k) => (meta.record.model === `model${k}` ? 1 : 0));
    const wrongMeta = [...vectors].filter(
      ([, f]) =>
        f[FEATURE_INDEX.age] !== meta.record.age ||
        f.slice(FEATURE_INDEX.model1, FEATURE_INDEX.model1 + 4).join() !== modelHot.join(),
    );
    expect.soft(wrongMeta.length, 'buckets without the machine metadata').toBe(0);
    // Maintenance was applied: some bucket has a replacement within the cap.
    const replaced = [...vectors.values()].some((f) =>
      f.slice(FEATURE_INDEX.comp1, FEATURE_INDEX.comp1 + 4).some((d) => d < 365),
    );
    const expectReplaced = expectedOwn.some((r) =>
      r.features.slice(FEATURE_INDEX.comp1, FEATURE_INDEX.comp1 + 4).some((d) => d < 365),
    );
    expect.soft(replaced).toBe(expectReplaced);

    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
