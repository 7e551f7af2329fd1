/**
 * Issue 9, "No input stops the engine": ~100k valid records of a simulated fleet mixed with 10k seeded bad
 * ones (see fuzz-records.ts; some records of both kinds with garbage headers) through the real stack, with a restart half way (whose restore seeks by
 * record timestamp through absurd ones). The engine never stops; each bad record gives exactly one dead
 * letter (counted by topic/partition/offset) and no valid record gives any; the predictions equal the batch
 * path over the valid records.
 */
import { describe, expect, it } from 'vitest';
import type { PdmEvent } from '../../src/shared/records.js';
import { createRng } from '../../src/simulate/index.js';
import { fuzzRecords, randomHeaders, type FuzzKind } from './fuzz-records.js';
import {
  ENGINE_TOPICS,
  assertAlive,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  deliveryKey,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
  type RawMessage,
} from './handmade.js';
import { expectCleanExit, expectStreamedSameAsBatch, useE2eRun } from './support.js';

const SEED = 20261130;
const BAD_RECORDS = 10_000;
/** 25 machines × 42 days × 96 readings a day ≈ 100k telemetry records plus their side events. */
const FLEET = {
  machines: 25,
  days: 42,
  intervalMinutes: 15,
  startMs: Date.UTC(2026, 0, 5),
  seed: 83,
} as const;
const NOW = Date.UTC(2026, 6, 1);

const e2e = useE2eRun();

describe('issue 9: fuzzed input on the real stack', () => {
  it('never stops, dead-letters each bad record exactly once, and scores the valid ones like the batch path', async () => {
    const t0 = Date.now();
    const e = await e2e.env();
    const events = fleetEvents(FLEET);
    const valid = events.filter((ev) => (ENGINE_TOPICS as readonly string[]).includes(ev.kind));
    expect(valid.length).toBeGreaterThanOrEqual(100_000);
    const expected = await batchOver(e, events, NOW);
    const framer = await createFramer(e);
    const fuzz = fuzzRecords({
      seed: SEED,
      count: BAD_RECORDS,
      valid,
      framer,
      topics: e.config.kafka.topics,
      partitions: e.config.kafka.partitions,
      ranges: e.config.features.ranges,
    });

    // Bad records at seeded random places of the valid stream.
    const rng = createRng(SEED + 1);
    const at = fuzz
      .map((f, i) => ({ pos: rng.int(0, valid.length), i, f }))
      .sort((a, b) => a.pos - b.pos || a.i - b.i);
    const stream: { message: RawMessage; fuzz: FuzzKind | undefined }[] = [];
    let next = 0;
    valid.forEach((ev: PdmEvent, pos) => {
      while (next < at.length && (at[next]?.pos ?? Number.POSITIVE_INFINITY) <= pos) {
        const f = at[next++]?.f;
        if (f !== undefined) stream.push({ message: f.message, fuzz: f.fuzz });
      }
      const message = messageFor(e, framer, ev);
      // Some valid records carry garbage headers too: they must still be used.
      const headers = rng.next() < 0.02 ? { headers: randomHeaders(rng) } : {};
      stream.push({ message: { ...message, ...headers }, fuzz: undefined });
    });
    for (; next < at.length; next++) {
      const f = at[next]?.f;
      if (f !== undefined) stream.push({ message: f.message, fuzz: f.fuzz });
    }
    expect(stream.length).toBe(valid.length + BAD_RECORDS);
    const tPrepared = Date.now();

    const producer = await createTestProducer(e);
    const first = await startEngine(e);
    e2e.engines.push(first);
    const half = Math.floor(stream.length / 2);
    const delivered = await producer.send(stream.slice(0, half).map((s) => s.message));
    await waitConsumed(e, first, 240_000);
    await expectCleanExit(first);
    const second = await startEngine(e);
    e2e.engines.push(second);
    delivered.push(...(await producer.send(stream.slice(half).map((s) => s.message))));
    await producer.close();
    await waitConsumed(e, second, 240_000);
    assertAlive(second);
    const tConsumed = Date.now();

    const badAt = new Map<string, FuzzKind>();
    stream.forEach((s, i) => {
      const d = delivered[i];
      if (s.fuzz !== undefined && d !== undefined) badAt.set(deliveryKey(d), s.fuzz);
    });
    expect(badAt.size).toBe(BAD_RECORDS);
    const letters = await deadLetters(e);
    const perOffset = new Map<string, string[]>();
    for (const l of letters)
      perOffset.set(deliveryKey(l), [...(perOffset.get(deliveryKey(l)) ?? []), l.reason]);
    const reasonsByFuzz: Record<string, Record<string, number>> = {};
    for (const [k, fuzzKind] of badAt) {
      const reasons = perOffset.get(k) ?? ['(none)'];
      const tally = (reasonsByFuzz[fuzzKind] ??= {});
      for (const r of reasons) tally[r] = (tally[r] ?? 0) + 1;
    }
    console.log(
      JSON.stringify({
        valid: valid.length,
        bad: BAD_RECORDS,
        prepareSeconds: (tPrepared - t0) / 1000,
        produceAndConsumeSeconds: (tConsumed - tPrepared) / 1000,
        reasonsByFuzz,
      }),
    );
    const withoutLetter = [...badAt].filter(([k]) => !perOffset.has(k)).map(([k, f]) => `${f} ${k}`);
    const multiple = [...perOffset].filter(([, r]) => r.length > 1).map(([k, r]) => `${k}: ${r.join(',')}`);
    const validLettered = letters
      .filter((l) => !badAt.has(deliveryKey(l)))
      .map((l) => `${l.reason} ${deliveryKey(l)}: ${l.error}`);
    expect
      .soft(withoutLetter.slice(0, 10), `${withoutLetter.length} bad records without a dead letter`)
      .toEqual([]);
    expect.soft(multiple.slice(0, 10), `${multiple.length} records with several dead letters`).toEqual([]);
    expect
      .soft(validLettered.slice(0, 10), `${validLettered.length} valid records dead-lettered`)
      .toEqual([]);
    // A bad record is never mistaken for a late one: it is judged for what is wrong with it.
    expect.soft(letters.filter((l) => l.reason === 'LATE_EVENT').length).toBe(0);

    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(second);
  });
});
