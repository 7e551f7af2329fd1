/**
 * The Kafka source's offset reader: one admin connection for its reads, closed with the source. A read
 * started at start (the early telemetry end offsets) may still be connecting when a failed start stops the
 * source: the connection it completes must be closed too, or it keeps the process alive.
 */
import { describe, expect, it } from 'vitest';
import { createOffsetReader, type SourceAdmin } from '../../../src/ingest/kafka-offsets.js';
import { silentLogger } from '../../../src/shared/logger.js';

/** An admin whose connect completes when the test says so; records the calls in order. */
function slowAdmin() {
  const calls: string[] = [];
  let connected: () => void = () => undefined;
  const admin = {
    connect: () =>
      new Promise<void>((resolve) => {
        calls.push('connect');
        connected = () => {
          calls.push('connected');
          resolve();
        };
      }),
    disconnect: () => {
      calls.push('disconnect');
      return Promise.resolve();
    },
    fetchTopicOffsets: () => {
      calls.push('fetchTopicOffsets');
      return Promise.resolve([{ partition: 0, offset: '5', high: '5', low: '0' }]);
    },
  };
  return {
    admin: admin as unknown as SourceAdmin,
    calls,
    connect: () => {
      connected();
    },
  };
}

describe('Kafka offset reader', () => {
  it('reads through one connection', async () => {
    const a = slowAdmin();
    const reader = createOffsetReader(() => a.admin, 'g', silentLogger);
    const read = reader.endOffsets('t');
    a.connect();
    expect(await read).toEqual(new Map([[0, '5']]));
    expect(await reader.endOffsets('t')).toEqual(new Map([[0, '5']]));
    expect(a.calls).toEqual(['connect', 'connected', 'fetchTopicOffsets', 'fetchTopicOffsets']);
    await reader.close();
    expect(a.calls.at(-1)).toBe('disconnect');
  });

  it('closed while a read is connecting: the read fails, and the connection is closed once it completes', async () => {
    const a = slowAdmin();
    const reader = createOffsetReader(() => a.admin, 'g', silentLogger);
    const read = reader.endOffsets('t');
    await reader.close();
    a.connect();
    await expect(read).rejects.toThrow(/stopped/);
    await Promise.resolve();
    expect(a.calls).toEqual(['connect', 'disconnect', 'connected', 'disconnect']);
    await expect(reader.endOffsets('t')).rejects.toThrow(/stopped/);
    expect(a.calls).not.toContain('fetchTopicOffsets');
  });
});
