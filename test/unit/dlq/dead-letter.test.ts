import { describe, expect, it } from 'vitest';
import { scrubSecrets, toDeadLetterRow } from '../../../src/dlq/index.js';

const message = {
  topic: 'pdm.telemetry',
  partition: 2,
  offset: '9007199254740993',
  key: Buffer.from('42'),
  value: Buffer.from([1, 2, 3, 255]),
  timestampMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
};

describe('dead-letter rows', () => {
  it('carry the raw payload, coordinates and reason exactly', () => {
    const row = toDeadLetterRow(
      { message, reason: 'BAD_FRAME', stage: 'decode', error: 'magic byte is 1', schemaId: 3, machineId: 42 },
      { modernTypes: false },
      Date.UTC(2026, 0, 3),
    );
    expect(row).toMatchObject({
      topic: 'pdm.telemetry',
      partition: 2,
      offset: '9007199254740993',
      key: '42',
      payload_base64: Buffer.from([1, 2, 3, 255]).toString('base64'),
      payload_bytes: 4,
      reason: 'BAD_FRAME',
      stage: 'decode',
      schema_id: 3,
      machine_id: 42,
      message_ts: '2026-01-02 03:04:05',
      dead_lettered_at: '2026-01-03 00:00:00',
    });
  });

  it('uses millisecond instants on modern servers and -1 for unknown ids', () => {
    const row = toDeadLetterRow(
      { message: { ...message, key: null, value: null }, reason: 'BAD_FRAME', stage: 'decode', error: 'x' },
      { modernTypes: true },
      Date.UTC(2026, 0, 3, 0, 0, 0, 250),
    );
    expect(row.dead_lettered_at).toBe('2026-01-03 00:00:00.250');
    expect(row.schema_id).toBe(-1);
    expect(row.machine_id).toBe(-1);
    expect(row.key).toBeNull();
    expect(row.payload_bytes).toBe(0);
  });

  it('never stores credentials that an error message carried', () => {
    expect(scrubSecrets('GET http://admin:s3cret@registry:8081/schemas failed')).toBe(
      'GET http://[redacted]@registry:8081/schemas failed',
    );
    const row = toDeadLetterRow(
      { message, reason: 'DECODE_ERROR', stage: 'decode', error: 'at https://u:p4ss@h/x' },
      { modernTypes: false },
    );
    expect(row.error_message).not.toContain('p4ss');
  });

  it('take the machine id from a decimal key when the record could not be decoded (issue 9)', () => {
    const row = (key: Buffer | null) =>
      toDeadLetterRow(
        { message: { ...message, key }, reason: 'BAD_FRAME', stage: 'decode', error: 'x' },
        { modernTypes: false },
      ).machine_id;
    expect(row(Buffer.from('42'))).toBe(42);
    expect(row(Buffer.from('0'))).toBe(0);
    expect(row(Buffer.from('042'))).toBe(-1);
    expect(row(Buffer.from('-3'))).toBe(-1);
    expect(row(Buffer.from('4.5'))).toBe(-1);
    expect(row(Buffer.from('99999999999'))).toBe(99_999_999_999);
    expect(row(Buffer.from('99999999999999999'))).toBe(-1);
    expect(row(Buffer.from([0xff, 0x00]))).toBe(-1);
    expect(row(null)).toBe(-1);
  });

  it.each([9e15, -1, Number.NaN, 8.64e15 + 1, 4_294_967_296_000])(
    'store an absurd Kafka record timestamp %s as 0 and say so (issue 9)',
    (timestampMs) => {
      const row = toDeadLetterRow(
        { message: { ...message, timestampMs }, reason: 'INVALID_VALUE', stage: 'features', error: 'bad ts' },
        { modernTypes: false },
      );
      expect(row.message_ts).toBe('1970-01-01 00:00:00');
      expect(row.error_message).toContain(
        `Kafka record timestamp ${String(timestampMs)} is outside 1970..2106`,
      );
    },
  );
});
