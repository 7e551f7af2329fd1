/** Consumer lag from the broker (issue 9): committed vs log end offsets, polled, not per processed batch. */
import { describe, expect, it } from 'vitest';
import { createLagPoller, partitionLags, type PartitionLag } from '../../../src/ingest/index.js';

const tp = (topic: string, partition: number) => ({ topic, partition });

describe('partitionLags', () => {
  it('is end minus committed per assigned partition; nothing committed counts the whole log', () => {
    const lags = partitionLags(
      [tp('t', 0), tp('t', 1), tp('e', 0), tp('t', 9)],
      new Map([
        [
          't',
          new Map([
            [0, '40'],
            [1, '-1'],
          ]),
        ],
        ['e', new Map([[0, '7']])],
      ]),
      new Map([
        [
          't',
          new Map([
            [0, '100'],
            [1, '25'],
          ]),
        ],
        ['e', new Map([[0, '7']])],
      ]),
    );
    expect(lags).toEqual([
      { topic: 't', partition: 0, lag: 60 },
      { topic: 't', partition: 1, lag: 25 },
      { topic: 'e', partition: 0, lag: 0 },
    ]);
  });

  it('never reports a negative lag (end offset read before the commit)', () => {
    expect(
      partitionLags(
        [tp('t', 0)],
        new Map([['t', new Map([[0, '11']])]]),
        new Map([['t', new Map([[0, '10']])]]),
      ),
    ).toEqual([{ topic: 't', partition: 0, lag: 0 }]);
  });
});

describe('lag poller', () => {
  it('keeps reporting growth while no batch is processed (records piling up)', async () => {
    let end = 10;
    const seen: (readonly PartitionLag[])[] = [];
    const poller = createLagPoller({
      source: {
        committedOffsets: () => Promise.resolve(new Map([[0, '10']])),
        endOffsets: () => Promise.resolve(new Map([[0, String(end)]])),
      },
      assigned: () => [tp('t', 0)],
      intervalMs: 20,
      onLag: (l) => seen.push(l),
    });
    try {
      await poller.poll();
      end = 500;
      await new Promise((r) => setTimeout(r, 70));
      expect(seen[0]).toEqual([{ topic: 't', partition: 0, lag: 0 }]);
      expect(seen.at(-1)).toEqual([{ topic: 't', partition: 0, lag: 490 }]);
      expect(seen.length).toBeGreaterThanOrEqual(3);
    } finally {
      poller.close();
    }
  });

  it('reads each topic once per poll and reports an empty assignment as empty', async () => {
    const reads: string[] = [];
    const source = {
      committedOffsets: (t: string) => {
        reads.push(`c:${t}`);
        return Promise.resolve(
          new Map([
            [0, '1'],
            [1, '1'],
          ]),
        );
      },
      endOffsets: (t: string) => {
        reads.push(`e:${t}`);
        return Promise.resolve(
          new Map([
            [0, '3'],
            [1, '2'],
          ]),
        );
      },
    };
    let assigned = [tp('t', 0), tp('t', 1)];
    const seen: (readonly PartitionLag[])[] = [];
    const poller = createLagPoller({
      source,
      assigned: () => assigned,
      intervalMs: 60_000,
      onLag: (l) => seen.push(l),
    });
    await poller.poll();
    expect(reads.sort()).toEqual(['c:t', 'e:t']);
    assigned = [];
    await poller.poll();
    expect(seen).toEqual([
      [
        { topic: 't', partition: 0, lag: 2 },
        { topic: 't', partition: 1, lag: 1 },
      ],
      [],
    ]);
    poller.close();
  });

  it('a failing read rejects the poll and reports nothing (the gauge keeps its last values)', async () => {
    const seen: unknown[] = [];
    const poller = createLagPoller({
      source: {
        committedOffsets: () => Promise.reject(new Error('broker gone')),
        endOffsets: () => Promise.resolve(new Map()),
      },
      assigned: () => [tp('t', 0)],
      intervalMs: 60_000,
      onLag: (l) => seen.push(l),
    });
    await expect(poller.poll()).rejects.toThrow('broker gone');
    expect(seen).toEqual([]);
    poller.close();
  });
});
