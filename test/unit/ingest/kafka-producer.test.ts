/** How a kafkajs produce failure is classified (src/ingest/kafka-producer.ts): retry it, or give up. */
import { describe, expect, it } from 'vitest';
import { producerError } from '../../../src/ingest/index.js';
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
