/**
 * The side checkpoint's grace period (PDM_SIDE_GRACE_MS) through the engine: side end offsets that may
 * close a telemetry batch's buckets are read at least the grace after the batch was known to be in the
 * log. A backlog batch below a high watermark seen earlier counts from that sighting; a batch appended
 * after every sighting waits the grace after its own fetch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TopicPartition } from '../../../src/ingest/index.js';
import type { PredictionRow } from '../../../src/sink/index.js';
import { sighting, type LogSighting } from '../../../src/pipeline/log-arrival.js';
import { createFakeSource, type FakeSource } from './fake-source.js';
import { allPartitions, createTestEngine, H, hourly, T0, testConfig, type TestEngine } from './harness.js';

const GRACE_MS = 1_000;
const engines: TestEngine[] = [];

afterEach(async () => {
  for (const t of engines.splice(0)) await t.engine.stop();
});

const buckets = (t: TestEngine) => new Set(t.ch.stored<PredictionRow>('predictions').map((p) => p.bucket_ts));

/**
 * A started engine with the grace, `hours` of machine 1 on telemetry partition 0 before it starts, and the
 * early telemetry sighting `early` makes of its source (none: no early sighting).
 */
async function startedOnBacklog(
  hours: number,
  early?: (source: FakeSource, tel0: TopicPartition) => Promise<LogSighting | undefined>,
) {
  const config = testConfig({ PDM_SIDE_GRACE_MS: String(GRACE_MS) });
  const { topics } = config.kafka;
  const source = createFakeSource([topics.telemetry, topics.errors, topics.maintenance, topics.machines], 2);
  const tel0: TopicPartition = { topic: topics.telemetry, partition: 0 };
  for (const m of hourly(1, T0, hours)) source.append(tel0, m);
  const sighting = await early?.(source, tel0);
  const t = createTestEngine({
    config,
    source,
    ...(sighting === undefined ? {} : { earlyTelemetryEnds: Promise.resolve(sighting) }),
  });
  engines.push(t);
  await t.engine.start();
  return { t, tel0, sighting };
}

/** As read before the engine is built (start.ts does it while the scorer starts): true of the fake log. */
const readNow = (source: FakeSource, tel0: TopicPartition) => sighting(source.endOffsets(tel0.topic));

/** An engine with the grace, `hours` of machine 1 on telemetry partition 0 before it starts, assigned. */
async function withBacklog(hours: number) {
  const { t, tel0 } = await startedOnBacklog(hours);
  const assignedAt = Date.now();
  await t.source.assign(allPartitions(t));
  return { t, tel0, assignedAt };
}

describe('engine: side checkpoint grace', () => {
  it('a backlog batch counts the grace from the first sighting of its log end, not from its fetch', async () => {
    // Four days of machine 1 in the log before the assignment reads the telemetry end offsets.
    const { t, tel0, assignedAt } = await withBacklog(96);

    const first = t.source.deliver(tel0, 48);
    expect(await first.result).toBe(true);
    const afterFirst = buckets(t).size;
    expect(afterFirst).toBeGreaterThan(0);
    // Well past the grace after the sighting (its checkpoint read happened by now).
    await sleep(Math.max(0, assignedAt + GRACE_MS + 200 - Date.now()));

    const fetchedAt = Date.now();
    const rest = t.source.deliver(tel0);
    expect(await rest.result).toBe(true);
    const ackedAfterMs = Date.now() - fetchedAt;
    // Its buckets were closed and written, with a side read made before its own fetch + grace.
    expect(buckets(t).size).toBeGreaterThan(afterFirst);
    expect(ackedAfterMs).toBeLessThan(GRACE_MS);
  });

  it('a batch appended after every sighting waits the grace after its own fetch', async () => {
    const { t, tel0 } = await withBacklog(48);
    expect(await t.source.deliver(tel0).result).toBe(true);
    const before = buckets(t).size;
    // Older sightings exist (the assignment's, the first fetch's) and are far past their grace.
    await sleep(GRACE_MS + 200);

    for (const m of hourly(1, T0 + 48 * H, 24)) t.source.append(tel0, m);
    const fetchedAt = Date.now();
    expect(await t.source.deliver(tel0).result).toBe(true);
    const ackedAfterMs = Date.now() - fetchedAt;
    expect(buckets(t).size).toBeGreaterThan(before);
    expect(ackedAfterMs).toBeGreaterThanOrEqual(GRACE_MS - 5);
  });

  it('an early sighting of the backlog lets the restore read answer its checkpoints, with no side read', async () => {
    const { t: early, tel0, sighting } = await startedOnBacklog(96, readNow);
    // The assignment comes a grace period after the sighting (on a backlog, the scorer's start and the join).
    await sleep(Math.max(0, (sighting?.atMs ?? 0) + GRACE_MS + 20 - Date.now()));
    await early.source.assign(allPartitions(early));
    const reads = vi.spyOn(early.source, 'endOffsets');

    const fetchedAt = Date.now();
    expect(await early.source.deliver(tel0).result).toBe(true);
    // Acknowledged with its buckets written, without waiting a grace period, and without reading end offsets.
    expect(Date.now() - fetchedAt).toBeLessThan(GRACE_MS / 2);
    expect(buckets(early).size).toBeGreaterThan(0);
    expect(reads).not.toHaveBeenCalled();

    // Telemetry appended after every sighting still waits the grace after its own fetch, and a read.
    const before = buckets(early).size;
    for (const m of hourly(1, T0 + 96 * H, 24)) early.source.append(tel0, m);
    const laterAt = Date.now();
    expect(await early.source.deliver(tel0).result).toBe(true);
    expect(Date.now() - laterAt).toBeGreaterThanOrEqual(GRACE_MS - 5);
    expect(buckets(early).size).toBeGreaterThan(before);
    expect(reads).toHaveBeenCalled();
  });

  it('an assignment within the grace after the early sighting still waits for a read a grace after it', async () => {
    const { t, tel0, sighting } = await startedOnBacklog(96, readNow);
    await t.source.assign(allPartitions(t));
    const reads: number[] = [];
    const read = t.source.endOffsets.bind(t.source);
    vi.spyOn(t.source, 'endOffsets').mockImplementation((topic) => {
      reads.push(Date.now());
      return read(topic);
    });
    expect(await t.source.deliver(tel0).result).toBe(true);
    expect(buckets(t).size).toBeGreaterThan(0);
    expect(reads.length).toBeGreaterThan(0);
    for (const at of reads) expect(at).toBeGreaterThanOrEqual((sighting?.atMs ?? Infinity) + GRACE_MS);
  });

  it('an early sighting past the log the assignment finds (a recreated topic) is not used', async () => {
    // Read from a log that ended at 1000, long enough ago that it would answer at once if believed.
    const { t, tel0 } = await startedOnBacklog(96, () =>
      Promise.resolve({ ends: new Map([[0, '1000']]), atMs: Date.now() - 10 * GRACE_MS }),
    );
    const assignedAt = Date.now();
    await t.source.assign(allPartitions(t));
    expect(await t.source.deliver(tel0).result).toBe(true);
    expect(Date.now() - assignedAt).toBeGreaterThanOrEqual(GRACE_MS - 5);
  });

  it('without the early sighting the same backlog waits for a side read a grace period after the assignment', async () => {
    const { t, tel0, assignedAt } = await withBacklog(96);
    const reads = vi.spyOn(t.source, 'endOffsets');
    expect(await t.source.deliver(tel0).result).toBe(true);
    expect(Date.now() - assignedAt).toBeGreaterThanOrEqual(GRACE_MS - 5);
    expect(reads).toHaveBeenCalled();
  });
});
