/**
 * How a kafkajs produce failure is classified (src/ingest/kafka-producer.ts): retry it, or give up; and how
 * a large send is split into requests.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES_PER_REQUEST, producerError, sendInParts } from '../../../src/ingest/index.js';
import { PdmError, TransientError } from '../../../src/shared/errors.js';

const named = (name: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${name} happened`), { name, ...extra });

describe('producerError', () => {
  it.each([
    ['a retriable kafkajs error', named('KafkaJSProtocolError', { retriable: true })],
    ['retries exhausted', named('KafkaJSNumberOfRetriesExceeded')],
    ['no connection', named('KafkaJSConnectionError')],
    ['a request timeout', named('KafkaJSRequestTimeoutError')],
  ])('%s is transient (KAFKA_PRODUCE_FAILED): the caller retries', (_what, err) => {
    const e = producerError(err, ['b1:9092', 'b2:9092']);
    expect(e).toBeInstanceOf(TransientError);
    expect(e.retryable).toBe(true);
    expect(e.code).toBe('KAFKA_PRODUCE_FAILED');
    expect(e.stage).toBe('ingest');
    expect(e.cause).toBe(err);
    expect(e.message).toContain('b1:9092,b2:9092');
  });

  it.each([
    ['a refused record', named('KafkaJSProtocolError', { retriable: false })],
    ['something else', new Error('boom')],
    ['not even an Error', 'boom'],
  ])('%s is not transient (KAFKA_PRODUCE_REJECTED)', (_what, err) => {
    const e = producerError(err, ['b1:9092'], 'simulate');
    expect(e).toBeInstanceOf(PdmError);
    expect(e.retryable).toBe(false);
    expect(e.code).toBe('KAFKA_PRODUCE_REJECTED');
    expect(e.stage).toBe('simulate');
  });
});

describe('sendInParts: requests of at most MAX_MESSAGES_PER_REQUEST, one after the other', () => {
  const numbers = (n: number) => Array.from({ length: n }, (_, i) => i);

  it.each([
    [0, []],
    [1, [1]],
    [1_000, [1_000]],
    [1_001, [1_000, 1]],
    [3_500, [1_000, 1_000, 1_000, 500]],
  ])('%i messages are sent as parts of %j, in order', async (n, sizes) => {
    expect(MAX_MESSAGES_PER_REQUEST).toBe(1_000);
    const parts: number[][] = [];
    await sendInParts(numbers(n), MAX_MESSAGES_PER_REQUEST, (part) => {
      parts.push([...part]);
      return Promise.resolve();
    });
    expect(parts.map((p) => p.length)).toEqual(sizes);
    expect(parts.flat()).toEqual(numbers(n));
  });

  it('a part starts only once the previous one is acknowledged', async () => {
    const events: string[] = [];
    await sendInParts(numbers(5), 2, async (part) => {
      events.push(`send ${part.join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`ack ${part.join(',')}`);
    });
    expect(events).toEqual(['send 0,1', 'ack 0,1', 'send 2,3', 'ack 2,3', 'send 4', 'ack 4']);
  });

  it('the first failure ends it: no later part is sent', async () => {
    const sent: number[][] = [];
    const err = new Error('broker gone');
    await expect(
      sendInParts(numbers(5), 2, (part) => {
        sent.push([...part]);
        return sent.length === 2 ? Promise.reject(err) : Promise.resolve();
      }),
    ).rejects.toBe(err);
    expect(sent).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
