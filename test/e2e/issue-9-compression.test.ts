/**
 * Issue 9, producers nobody here wrote: librdkafka compresses record batches when told to
 * (`compression.type`), and lz4, zstd and snappy are what deployments pick. The Python confluent-kafka
 * client produces one fleet in four parts, each with another codec (gzip, snappy, lz4, zstd); the engine
 * must score it exactly like the batch path, with no dead letter and a clean exit.
 */
import { describe, expect, it } from 'vitest';
import { usePythonProducer, producePython } from '../support/python-producer.js';
import {
  assertAlive,
  deadLetters,
  engineOnFleet,
  eventTs,
  pyMessage,
  pyOptions,
  waitConsumed,
} from './handmade.js';
import { expectCleanExit, expectStreamedSameAsBatch, useE2eRun } from './support.js';

const START = Date.UTC(2026, 6, 1);
const NOW = Date.UTC(2026, 9, 1);
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

const e2e = useE2eRun();

usePythonProducer();

describe('issue 9: compressed record batches (librdkafka)', () => {
  it('gzip, snappy, lz4 and zstd batches are scored like the batch path', async () => {
    const { e, events, expected, engine } = await engineOnFleet(
      e2e,
      { machines: 4, days: 8, startMs: START, seed: 37 },
      NOW,
    );

    // In event-time order, a quarter per codec (metadata first, with the first part).
    const at = (ev: (typeof events)[number]): number => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
    const sorted = [...events].sort((a, b) => at(a) - at(b));
    const part = Math.ceil(sorted.length / CODECS.length);
    for (const [i, compression] of CODECS.entries()) {
      const slice = sorted.slice(i * part, (i + 1) * part).map((ev) => pyMessage(e, ev));
      await producePython(slice, { ...pyOptions(e), compression });
    }
    await waitConsumed(e, engine);
    assertAlive(engine);
    expect((await deadLetters(e)).map((l) => `${l.reason} ${l.topic}: ${l.error}`)).toEqual([]);
    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
