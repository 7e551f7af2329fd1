import { describe, expect, it } from 'vitest';
import {
  dismissals,
  executeReplay,
  planReplay,
  replayRefusal,
  type Landed,
  type Republisher,
  type RepublishMessage,
  type ResolutionRow,
  type StoredDeadLetter,
} from '../../../src/dlq/index.js';

function dead(over: Partial<StoredDeadLetter> = {}): StoredDeadLetter {
  return {
    topic: 'pdm.telemetry',
    partition: 1,
    offset: '10',
    key: '17',
    keyBase64: Buffer.from('17').toString('base64'),
    payloadBase64: Buffer.from([0, 0, 0, 0, 7, 1, 2]).toString('base64'),
    payloadBytes: 7,
    reason: 'UNKNOWN_SCHEMA',
    stage: 'decode',
    errorMessage: 'schema id 7 is not known',
    schemaId: 7,
    machineId: 17,
    messageTs: '2026-01-01 00:00:00',
    messageTsMs: Date.UTC(2026, 0, 1, 0, 0, 0, 123),
    deadLetteredAt: '2026-11-30 12:00:00',
    replayCount: 0,
    replayedFrom: '',
    ...over,
  };
}

const now = Date.UTC(2026, 10, 30, 13);

describe('replay loop guard', () => {
  it.each([
    [0, 3, false],
    [2, 3, false],
    [3, 3, true],
    [7, 3, true],
    [0, 1, false],
    [1, 1, true],
  ])('count %i with maximum %i refused: %s', (count, max, refused) => {
    expect(replayRefusal(count, max) !== undefined).toBe(refused);
  });

  it('refuses records at the maximum and replays the others with count + 1', () => {
    const plan = planReplay(
      [dead(), dead({ offset: '11', replayCount: 3, replayedFrom: 'pdm.telemetry/1/9' })],
      {
        maxReplays: 3,
        nowMs: now,
      },
    );
    expect(plan.refused.map((r) => r.id)).toEqual(['pdm.telemetry/1/11']);
    expect(plan.refused[0]?.why).toMatch(/replayed 3 times already \(maximum 3\)/);
    expect(plan.replay).toHaveLength(1);
    expect(plan.replay[0]?.nextCount).toBe(1);
  });
});

describe('replay plan', () => {
  it('re-publishes the exact value, key, timestamp and partition with the replay headers', () => {
    const [p] = planReplay(
      [dead({ keyBase64: Buffer.from([0xff, 0x01]).toString('base64'), key: '\uFFFD\u0001' })],
      {
        maxReplays: 3,
        nowMs: now,
      },
    ).replay;
    expect(p?.message).toEqual({
      topic: 'pdm.telemetry',
      partition: 1,
      key: Buffer.from([0xff, 0x01]),
      value: Buffer.from([0, 0, 0, 0, 7, 1, 2]),
      timestampMs: Date.UTC(2026, 0, 1, 0, 0, 0, 123),
      headers: {
        'pdm-replay-count': '1',
        'pdm-replayed-from': 'pdm.telemetry/1/10',
        'pdm-replayed-at': new Date(now).toISOString(),
      },
    });
  });

  it('replays a record once even when it has dead letters for two reasons, at the higher count', () => {
    const plan = planReplay([dead(), dead({ reason: 'INVALID_VALUE', replayCount: 1 })], {
      maxReplays: 3,
      nowMs: now,
    });
    expect(plan.replay).toHaveLength(1);
    expect(plan.replay[0]?.rows).toHaveLength(2);
    expect(plan.replay[0]?.nextCount).toBe(2);
  });

  it('falls back to the UTF-8 key of old rows, refuses a lossy one, keeps null keys and tombstones', () => {
    const plan = planReplay(
      [
        dead({ offset: '1', keyBase64: null, key: '42' }),
        dead({ offset: '2', keyBase64: null, key: 'a\uFFFDb' }),
        dead({ offset: '3', keyBase64: null, key: null, payloadBase64: '', payloadBytes: 0 }),
        dead({ offset: '4', messageTsMs: -1 }),
      ],
      { maxReplays: 3, nowMs: now },
    );
    expect(plan.replay.map((p) => [p.id, p.message.key, p.message.value, p.message.timestampMs])).toEqual([
      [
        'pdm.telemetry/1/1',
        Buffer.from('42'),
        expect.any(Buffer) as unknown,
        Date.UTC(2026, 0, 1, 0, 0, 0, 123),
      ],
      ['pdm.telemetry/1/3', null, null, Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
      ['pdm.telemetry/1/4', Buffer.from('17'), expect.any(Buffer) as unknown, undefined],
    ]);
    expect(plan.refused.map((r) => [r.id, r.why])).toEqual([
      ['pdm.telemetry/1/2', expect.stringMatching(/lossy/) as unknown],
    ]);
  });
});

function fakePublisher(failAt?: number) {
  const sent: RepublishMessage[][] = [];
  let next = 100n;
  const publisher: Republisher = {
    send(messages) {
      if (failAt !== undefined && sent.length === failAt) return Promise.reject(new Error('broker gone'));
      sent.push([...messages]);
      return Promise.resolve(
        messages.map((m): Landed => {
          const offset = (next++).toString();
          return { partition: m.partition, offset };
        }),
      );
    },
    close: () => Promise.resolve(),
  };
  return { publisher, sent };
}

describe('executeReplay', () => {
  it('sends per partition in chunks, then resolves each dead letter with where it landed', async () => {
    const rows = [
      dead({ offset: '1' }),
      dead({ offset: '2' }),
      dead({ offset: '3', partition: 2 }),
      dead({ offset: '1', reason: 'INVALID_VALUE' }),
    ];
    const plan = planReplay(rows, { maxReplays: 3, nowMs: now });
    const { publisher, sent } = fakePublisher();
    const resolved: ResolutionRow[] = [];
    const progress: number[] = [];
    const outcome = await executeReplay(
      plan,
      { publisher, store: { resolve: (r) => (resolved.push(...r), Promise.resolve()) } },
      { note: 'schema registered', chunkRecords: 1, onProgress: (p) => progress.push(p.replayed) },
    );
    expect(sent.map((b) => b.map((m) => `${m.partition}`))).toEqual([['1'], ['1'], ['2']]);
    expect(outcome.replayed).toHaveLength(3);
    expect(outcome.resolutions).toBe(4);
    expect(progress).toEqual([1, 2, 3]);
    expect(
      resolved
        .filter((r) => r.offset === '1')
        .map((r) => [r.reason, r.action, r.replayCount, r.replayedToOffset]),
    ).toEqual([
      ['UNKNOWN_SCHEMA', 'replayed', 1, '100'],
      ['INVALID_VALUE', 'replayed', 1, '100'],
    ]);
  });

  it('stops at a failed send, saying how much was done, and resolves only what was acknowledged', async () => {
    const plan = planReplay([dead({ offset: '1' }), dead({ offset: '2' })], { maxReplays: 3, nowMs: now });
    const { publisher } = fakePublisher(1);
    const resolved: ResolutionRow[] = [];
    await expect(
      executeReplay(
        plan,
        { publisher, store: { resolve: (r) => (resolved.push(...r), Promise.resolve()) } },
        { note: '', chunkRecords: 1 },
      ),
    ).rejects.toThrow(/broker gone \(1 of 2 records were replayed and resolved before\)/);
    expect(resolved.map((r) => r.offset)).toEqual(['1']);
  });

  it('says which records were published but not marked when the resolution write fails', async () => {
    const plan = planReplay([dead({ offset: '5' })], { maxReplays: 3, nowMs: now });
    const { publisher } = fakePublisher();
    await expect(
      executeReplay(
        plan,
        { publisher, store: { resolve: () => Promise.reject(new Error('ClickHouse down')) } },
        { note: '' },
      ),
    ).rejects.toThrow(/re-published but could not be marked replayed.*--ids pdm\.telemetry:1:5/);
  });
});

describe('dismissals', () => {
  it('keep each dead letter’s own count and the note', () => {
    expect(dismissals([dead({ replayCount: 2 })], 'device clock was wrong')).toEqual([
      {
        topic: 'pdm.telemetry',
        partition: 1,
        offset: '10',
        reason: 'UNKNOWN_SCHEMA',
        action: 'dismissed',
        note: 'device clock was wrong',
        replayCount: 2,
        replayedToPartition: -1,
        replayedToOffset: '-1',
      },
    ]);
  });
});
