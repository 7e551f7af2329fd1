import { describe, expect, it } from 'vitest';
import {
  REPLAY_HEADERS,
  replayCountOf,
  replayedFromOf,
  replayHeaders,
  toDeadLetterRow,
} from '../../../src/dlq/index.js';

describe('replay headers', () => {
  it('carry the next count, the source coordinates and the time', () => {
    expect(
      replayHeaders({ topic: 'pdm.telemetry', partition: 3, offset: '42' }, 2, Date.UTC(2026, 10, 30)),
    ).toEqual({
      'pdm-replay-count': '2',
      'pdm-replayed-from': 'pdm.telemetry/3/42',
      'pdm-replayed-at': '2026-11-30T00:00:00.000Z',
    });
  });

  it('read back as a count from Buffer or string values; malformed counts read 0', () => {
    expect(replayCountOf(undefined)).toBe(0);
    expect(replayCountOf({})).toBe(0);
    expect(replayCountOf({ [REPLAY_HEADERS.count]: Buffer.from('3') })).toBe(3);
    expect(replayCountOf({ [REPLAY_HEADERS.count]: '2' })).toBe(2);
    expect(replayCountOf({ [REPLAY_HEADERS.count]: [Buffer.from('1'), Buffer.from('4')] })).toBe(4);
    for (const bad of ['-1', 'x', '1e3', '03', '99999999', ''])
      expect(replayCountOf({ [REPLAY_HEADERS.count]: bad })).toBe(0);
    expect(replayedFromOf({ [REPLAY_HEADERS.from]: Buffer.from('t/1/2') })).toBe('t/1/2');
  });

  it('a header sent without a value (null, as kafkajs delivers it) reads as absent', () => {
    expect(replayCountOf({ [REPLAY_HEADERS.count]: null })).toBe(0);
    expect(replayCountOf({ [REPLAY_HEADERS.count]: [Buffer.from('2'), null] })).toBe(0);
    expect(replayedFromOf({ [REPLAY_HEADERS.from]: null })).toBe('');
    const row = toDeadLetterRow(
      {
        message: {
          topic: 'pdm.telemetry',
          partition: 0,
          offset: '1',
          key: null,
          value: null,
          timestampMs: 0,
          headers: { [REPLAY_HEADERS.count]: null, [REPLAY_HEADERS.from]: [null] },
        },
        reason: 'BAD_FRAME',
        stage: 'decode',
        error: 'no value',
      },
      { modernTypes: false },
    );
    expect([row.replay_count, row.replayed_from]).toEqual([0, '']);
  });

  it('a dead letter of a replayed record keeps its count, exact key bytes and ms timestamp', () => {
    const row = toDeadLetterRow(
      {
        message: {
          topic: 'pdm.telemetry',
          partition: 1,
          offset: '7',
          key: Buffer.from([0xff, 0x00, 0x31]),
          value: Buffer.from([0, 0, 0, 0, 9]),
          timestampMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
          headers: {
            [REPLAY_HEADERS.count]: Buffer.from('2'),
            [REPLAY_HEADERS.from]: Buffer.from('pdm.telemetry/1/3'),
          },
        },
        reason: 'UNKNOWN_SCHEMA',
        stage: 'decode',
        error: 'unknown',
      },
      { modernTypes: false },
    );
    expect(row).toMatchObject({
      replay_count: 2,
      replayed_from: 'pdm.telemetry/1/3',
      key_base64: Buffer.from([0xff, 0x00, 0x31]).toString('base64'),
      message_ts_ms: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    });
  });
});
