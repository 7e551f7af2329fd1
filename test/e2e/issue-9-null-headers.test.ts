/**
 * Issue 9, hostile input: Kafka headers without a value. librdkafka producers (here the Python
 * confluent-kafka client) can send a header whose value is null (length −1 on the wire); kafkajs's own
 * producer cannot, so our simulator never did. Valid records carrying them are used; bad records carrying
 * them, with the engine's own replay header names, are dead-lettered with replay count 0 and no source;
 * the engine never stops, and every prediction equals the batch path.
 */
import { describe, expect, it } from 'vitest';
import { machineKey } from '../../src/shared/records.js';
import { quoteIdent } from '../../src/sink/index.js';
import { usePythonProducer, producePython, type PyMessage } from '../support/python-producer.js';
import { assertAlive, deadLetters, engineOnFleet, pyMessage, pyOptions, waitConsumed } from './handmade.js';
import { expectCleanExit, expectStreamedSameAsBatch, useE2eRun } from './support.js';

const START = Date.UTC(2026, 6, 1);
const NOW = Date.UTC(2026, 9, 1);
const NO_VALUES: ReadonlyArray<readonly [string, null]> = [
  ['pdm-replay-count', null],
  ['pdm-replayed-from', null],
  ['trace', null],
  ['trace', null],
];

const e2e = useE2eRun();

usePythonProducer();

describe('issue 9: headers without a value (librdkafka)', () => {
  it('are no reason to stop: valid records scored like the batch path, bad ones dead-lettered once', async () => {
    const { e, events, expected, engine } = await engineOnFleet(
      e2e,
      { machines: 4, days: 4, startMs: START, seed: 31 },
      NOW,
    );

    // Telemetry tombstones are bad records (only the machines topic takes them): dead letters whose
    // headers the dead-letter row reads (replay count and source).
    const bad: PyMessage[] = [1, 2, 3].map((m) => ({
      topic: e.config.kafka.topics.telemetry,
      key: machineKey(m),
      value: null,
      timestamp: START + 86_400_000,
      headers: NO_VALUES,
    }));
    await producePython([...events.map((ev) => pyMessage(e, ev, NO_VALUES)), ...bad], pyOptions(e));
    await waitConsumed(e, engine);
    assertAlive(engine);

    const letters = await deadLetters(e);
    expect(letters.map((l) => `${l.reason} ${l.topic} ${l.key}`).sort()).toEqual(
      [1, 2, 3].map((m) => `BAD_FRAME ${e.config.kafka.topics.telemetry} ${machineKey(m)}`),
    );
    const rows = await e.ch.query<{ n: string; counts: number[]; sources: string[] }>(
      `SELECT toString(count()) AS n, groupUniqArray(replay_count) AS counts, groupUniqArray(replayed_from) AS sources
FROM ${quoteIdent(e.database)}.dead_letters FINAL`,
    );
    expect(rows[0]).toEqual({ n: '3', counts: [0], sources: [''] });
    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
