/**
 * Issue 9, item 5: producers with librdkafka's default partitioner. The Python confluent-kafka client (its
 * AvroSerializer and SchemaRegistryClient against the running registry) produces the fleet.
 *
 * (a) All topics with librdkafka's default `consistent_random` (CRC32 of the key), which puts 6 of machines
 *     1..10 on other partitions than murmur2: the engine is SIGKILLed with the partitions at different event
 *     times, then restarted; the restore must replay each machine from where it really lives, so that every
 *     prediction equals the batch path.
 * (b) Maintenance from a "back office" producing with `murmur2_random` while everything else uses
 *     `consistent_random`: each maintenance event that lands on another partition number than its machine's
 *     telemetry is dead-lettered WRONG_PARTITION (expected and actual partition in the message), and the
 *     features equal the batch path without exactly those events: detected, never silently wrong.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, machineKey, type PdmEvent } from '../../src/shared/records.js';
import {
  usePythonProducer,
  librdkafkaConsistentPartition,
  producePython,
} from '../support/python-producer.js';
import {
  assertAlive,
  batchOver,
  deadLetters,
  deliveryKey,
  eventTs,
  fleetEvents,
  murmur2Partition,
  pyMessage,
  pyOptions,
  startEngine,
  waitConsumed,
} from './handmade.js';
import {
  compareWithBatch,
  expectCleanExit,
  expectSameAsBatch,
  expectStreamedSameAsBatch,
  streamedRows,
  useE2eRun,
} from './support.js';

const NOW = Date.UTC(2026, 9, 1);
const e2e = useE2eRun();

usePythonProducer();

describe('issue 9: producers with librdkafka partitioners (Python confluent-kafka)', () => {
  it('(a) consistent_random on all topics: SIGKILL and restart give the batch path exactly', async () => {
    const e = await e2e.env();
    const start = Date.UTC(2026, 6, 6);
    const events = fleetEvents({ machines: 10, days: 10, startMs: start, seed: 29 });
    const partitions = e.config.kafka.partitions;
    const crcOf = (m: number): number => librdkafkaConsistentPartition(machineKey(m), partitions);
    const moved = Array.from({ length: 10 }, (_, i) => i + 1).filter(
      (m) => crcOf(m) !== murmur2Partition(machineKey(m), partitions),
    );
    expect(moved.length).toBeGreaterThanOrEqual(4); // the partitioners really disagree for these machines
    const expected = await batchOver(e, events, NOW);

    // Before the kill, partition p's machines have produced up to day 2 + 2p: a restore that computes a
    // machine's partition with murmur2 replays some partitions from the wrong (later) event time.
    const cutOf = (m: number): number => start + (2 + 2 * crcOf(m)) * DAY_MS;
    const before = events.filter(
      (ev) => (eventTs(ev) ?? Number.NEGATIVE_INFINITY) < cutOf(ev.record.machineId),
    );
    const after = events.filter(
      (ev) => (eventTs(ev) ?? Number.NEGATIVE_INFINITY) >= cutOf(ev.record.machineId),
    );

    const first = await startEngine(e);
    e2e.engines.push(first);
    const delivered = await producePython(
      before.map((ev) => pyMessage(e, ev)),
      pyOptions(e),
    );
    // The client really used consistent_random.
    expect(delivered.filter((d, i) => d.partition !== crcOf(before[i]?.record.machineId ?? -1))).toEqual([]);
    await waitConsumed(e, first);
    first.proc.kill('SIGKILL');
    await first.exited;

    await producePython(
      after.map((ev) => pyMessage(e, ev)),
      pyOptions(e),
    );
    const second = await startEngine(e);
    e2e.engines.push(second);
    await waitConsumed(e, second);
    assertAlive(second);

    expect.soft((await deadLetters(e)).map((l) => `${l.reason} ${l.topic}: ${l.error}`)).toEqual([]);
    const streamed = await streamedRows(e);
    // Which machines came out wrong, for the report (the acceptance rule below decides).
    const wrongMachines = [
      ...new Set(
        [...expected]
          .filter(([k, r]) => {
            const s = streamed.get(k);
            return (
              s === undefined ||
              s.probabilities.some((p, i) => Math.abs(p - (r.probabilities[i] ?? 0)) > 1e-6)
            );
          })
          .map(([, r]) => r.machineId),
      ),
    ].sort((a, b) => a - b);
    expect
      .soft(wrongMachines, `machines whose partition differs under murmur2: ${moved.join(',')}`)
      .toEqual([]);
    expectSameAsBatch(compareWithBatch(expected, streamed));
    await expectCleanExit(second);
  });

  it('(b) maintenance with murmur2_random, the rest consistent_random: WRONG_PARTITION, never silently wrong', async () => {
    const e = await e2e.env();
    const start = Date.UTC(2026, 7, 3);
    const events = fleetEvents({ machines: 10, days: 6, startMs: start, seed: 31 });
    const partitions = e.config.kafka.partitions;
    const crcOf = (m: number): number => librdkafkaConsistentPartition(machineKey(m), partitions);
    const murmurOf = (m: number): number => murmur2Partition(machineKey(m), partitions);
    const misplaced = (ev: PdmEvent): boolean =>
      ev.kind === 'maintenance' && crcOf(ev.record.machineId) !== murmurOf(ev.record.machineId);
    const misplacedCount = events.filter(misplaced).length;
    expect(misplacedCount).toBeGreaterThan(0);
    // Dead-lettered events change no state: the reference is the batch path without them.
    const expected = await batchOver(
      e,
      events.filter((ev) => !misplaced(ev)),
      NOW,
    );

    const engine = await startEngine(e);
    e2e.engines.push(engine);
    // Metadata and each machine's first reading first, so that every machine's partition is established by
    // its own telemetry before any maintenance event arrives.
    const firstReading = new Set<PdmEvent>();
    for (let m = 1; m <= 10; m++) {
      const ev = events.find((x) => x.kind === 'telemetry' && x.record.machineId === m);
      if (ev !== undefined) firstReading.add(ev);
    }
    const opening = events.filter((ev) => ev.kind === 'machines' || firstReading.has(ev));
    const rest = events.filter((ev) => !(ev.kind === 'machines' || firstReading.has(ev)));
    const options = pyOptions(e, { [e.config.kafka.topics.maintenance]: 'murmur2_random' });
    await producePython(
      opening.map((ev) => pyMessage(e, ev)),
      options,
    );
    await waitConsumed(e, engine);
    const delivered = await producePython(
      rest.map((ev) => pyMessage(e, ev)),
      options,
    );
    await waitConsumed(e, engine);
    assertAlive(engine);

    const wanted = rest
      .map((ev, i) => ({ ev, d: delivered[i] }))
      .filter(({ ev }) => misplaced(ev))
      .map(({ ev, d }) => ({
        at: deliveryKey(d ?? { topic: '', partition: -1, offset: -1 }),
        expectedPartition: crcOf(ev.record.machineId),
        actualPartition: d?.partition ?? -1,
        machineId: ev.record.machineId,
      }));
    expect(wanted.every((w) => w.actualPartition === murmurOf(w.machineId))).toBe(true);
    const letters = await deadLetters(e);
    const byAt = new Map(letters.map((l) => [deliveryKey(l), l]));
    const got = wanted.map((w) => {
      const l = byAt.get(w.at);
      const message = l?.error ?? '';
      return {
        at: w.at,
        reason: l?.reason,
        mentionsExpected: new RegExp(`expected[^0-9]*\\b${w.expectedPartition}\\b`, 'i').test(message),
        mentionsActual: new RegExp(`\\b${w.actualPartition}\\b`).test(message),
      };
    });
    const undetected = got.filter(
      (g) => !(g.reason === 'WRONG_PARTITION' && g.mentionsExpected && g.mentionsActual),
    );
    expect
      .soft(
        undetected.slice(0, 3),
        `${undetected.length} of ${wanted.length} misplaced maintenance events lack a WRONG_PARTITION dead letter naming both partitions`,
      )
      .toEqual([]);
    // Nothing else is dead-lettered.
    expect.soft(letters.length).toBe(wanted.length);
    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
