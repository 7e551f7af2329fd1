import { describe, expect, it, vi } from 'vitest';
import { benchRead } from '../../../bench/fleet.js';
import { TransientError } from '../../../src/shared/errors.js';

describe('benchRead (a bench’s own reads through an outage)', () => {
  it('retries a ClickHouse outage and a kafkajs retriable error, then returns the read', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const notCoordinator = Object.assign(new Error('This is not the correct coordinator for this group'), {
      name: 'KafkaJSProtocolError',
      retriable: true,
    });
    const read = vi
      .fn<() => Promise<number>>()
      .mockRejectedValueOnce(
        new TransientError('ClickHouse unreachable', { code: 'CLICKHOUSE_UNAVAILABLE', stage: 'sink' }),
      )
      .mockRejectedValueOnce(notCoordinator)
      .mockResolvedValueOnce(42);
    await expect(benchRead('counting predictions', read)).resolves.toBe(42);
    expect(read).toHaveBeenCalledTimes(3);
    expect(err.mock.calls[0]?.[0]).toMatch(
      /counting predictions failed \(attempt 1\): ClickHouse unreachable/,
    );
    err.mockRestore();
  });

  it('does not retry an error no outage explains', async () => {
    const read = vi.fn<() => Promise<number>>().mockRejectedValue(new TypeError('x is not a function'));
    await expect(benchRead('counting predictions', read)).rejects.toThrow(TypeError);
    expect(read).toHaveBeenCalledTimes(1);
  });
});
