/**
 * The decode step locates each message's bytes once: `prepareSchemas` keeps where it found them and the
 * decode of the same batch reads them from there. A batch decoded without its own prepare (another batch
 * prepared in between) locates its messages again and decodes the same; nothing of a batch's bytes is
 * kept after its decode.
 */
import { describe, expect, it } from 'vitest';
import {
  createCodec,
  createRecordDecoder,
  encodeFrame,
  loadProjectSchemas,
  type SchemaRegistryClient,
} from '../../../src/decode/index.js';
import type { DeadLetter } from '../../../src/dlq/index.js';
import type { SourceBatch, SourceMessage } from '../../../src/ingest/index.js';
import {
  decodeBatch,
  emptyLocatedMessages,
  forgetLocated,
  prepareSchemas,
  type DecodeStepDeps,
} from '../../../src/pipeline/decode-step.js';
import { createMachineHomes } from '../../../src/pipeline/machine-homes.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { emptyMessageBytes, type MessageBytes } from '../../../src/shared/message-bytes.js';
import { createEngineMetrics } from '../../../src/shared/metrics.js';
import { createTelemetryColumns, TELEMETRY_FIELDS } from '../../../src/shared/records.js';

const schemas = loadProjectSchemas();
const telemetrySchema = schemas.telemetry;
const registry: SchemaRegistryClient = {
  url: 'memory://',
  register: () => Promise.reject(new Error('not used')),
  latestId: () => Promise.resolve(undefined),
  schemaById: (id) =>
    id === 1
      ? Promise.resolve(JSON.stringify(telemetrySchema))
      : Promise.reject(new Error(`no schema ${id}`)),
};

const T0 = Date.UTC(2026, 0, 1);

/**
 * Messages whose key and value sit inside one larger buffer, as in a fetch response, with a `locate` that
 * counts its calls. Every fifth value is truncated (a dead letter), every seventh key is not a number.
 */
function fetchedBatch(partition: number, n: number, calls: { locate: number }): SourceBatch {
  const codec = createCodec(telemetrySchema);
  const parts: Buffer[] = [Buffer.from('head')];
  const spans: { keyAt: number; keyEnd: number; valueAt: number; valueEnd: number }[] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    const machineId = partition * 1000 + (i % 13);
    const framed = encodeFrame(
      1,
      codec.encode({
        machineId,
        ts: T0 + i * 3_600_000,
        volt: 170 + i,
        rotate: 450,
        pressure: 100,
        vibration: 40,
      }),
    );
    const value = i % 5 === 4 ? framed.subarray(0, framed.length - 3) : framed;
    const key = Buffer.from(i % 7 === 6 ? 'x' : String(machineId));
    parts.push(key, Buffer.from([0xee]), value, Buffer.from([0xee]));
    spans.push({
      keyAt: at,
      keyEnd: at + key.length,
      valueAt: at + key.length + 1,
      valueEnd: at + key.length + 1 + value.length,
    });
    at += key.length + value.length + 2;
  }
  const buf = Buffer.concat(parts);
  const messages: SourceMessage[] = spans.map((s, i) => ({
    topic: 'telemetry',
    partition,
    offset: String(i),
    key: buf.subarray(s.keyAt, s.keyEnd),
    value: buf.subarray(s.valueAt, s.valueEnd),
    timestampMs: T0 + i * 3_600_000,
    locate(out: MessageBytes) {
      calls.locate++;
      out.key = buf;
      out.keyAt = s.keyAt;
      out.keyEnd = s.keyEnd;
      out.value = buf;
      out.valueAt = s.valueAt;
      out.valueEnd = s.valueEnd;
    },
  }));
  return { topic: 'telemetry', partition, messages, highWatermark: String(n), fetchedAtMs: 0 };
}

function deps(): DecodeStepDeps {
  return {
    decoder: createRecordDecoder(registry, schemas),
    homes: createMachineHomes(),
    metrics: createEngineMetrics({ defaultMetrics: false }),
    log: silentLogger,
    columns: createTelemetryColumns(),
    rowSources: { messageIndex: new Int32Array(0), schemaIds: new Int32Array(0) },
    bytes: emptyMessageBytes(),
    located: emptyLocatedMessages(),
  };
}

const control = { heartbeat: () => Promise.resolve() };

/** What a decode gave, as plain values (the step's columns are refilled by its next batch). */
function outcome(d: DecodeStepDeps, batch: SourceBatch) {
  const deadLetters: DeadLetter[] = [];
  const decoded = decodeBatch(d, 'telemetry', batch, deadLetters);
  const t = decoded.telemetry;
  if (t === undefined) throw new Error('telemetry batch without columns');
  return {
    columns: Object.fromEntries(TELEMETRY_FIELDS.map((f) => [f, Array.from(t[f].subarray(0, t.length))])),
    messageIndex: Array.from(decoded.messageIndex).slice(0, t.length),
    deadLetters: deadLetters.map((x) => [x.message.offset, x.reason, x.error]),
  };
}

describe('decode step: messages located once per batch', () => {
  it('decodes a prepared batch from where prepareSchemas found its bytes, locating each message once', async () => {
    const calls = { locate: 0 };
    const batch = fetchedBatch(0, 200, calls);
    const d = deps();
    await prepareSchemas(d, control, batch);
    expect(calls.locate).toBe(200);
    const got = outcome(d, batch);
    expect(calls.locate).toBe(200);
    expect(got.messageIndex.length).toBeGreaterThan(100);
    // 200 messages: 40 truncated values, and the non-numeric keys among the rest.
    expect(got.deadLetters.length).toBe(200 - got.messageIndex.length);
    expect(got.deadLetters.filter(([, reason]) => reason === 'INVALID_KEY').length).toBeGreaterThan(0);
    expect(d.located.batch).toBeUndefined();
    expect([...d.located.keys, ...d.located.values].every((b) => b === null)).toBe(true);

    // The same batch decoded by a step that located it itself: the same rows and dead letters.
    const fresh = deps();
    await prepareSchemas(fresh, control, fetchedBatch(1, 3, { locate: 0 }));
    const again = { locate: 0 };
    expect(outcome(fresh, fetchedBatch(0, 200, again))).toEqual(got);
    expect(again.locate).toBe(200);
  });

  it('locates a batch again when another batch was prepared after it', async () => {
    const first = fetchedBatch(0, 50, { locate: 0 });
    const callsSecond = { locate: 0 };
    const second = fetchedBatch(1, 30, callsSecond);
    const d = deps();
    await prepareSchemas(d, control, first);
    await prepareSchemas(d, control, second);
    // The first batch's bytes are not kept past the second's 30 messages.
    expect(d.located.values.slice(30).every((b) => b === null)).toBe(true);
    const reference = deps();
    await prepareSchemas(reference, control, fetchedBatch(0, 50, { locate: 0 }));
    const expected = outcome(reference, fetchedBatch(0, 50, { locate: 0 }));
    // `first` is not the batch located last: its own messages are read, not the second batch's positions.
    expect(outcome(d, first)).toEqual(expected);
    expect(d.located.batch).toBeUndefined();
    // The second batch's positions were dropped with the decode: it locates again, and decodes the same.
    callsSecond.locate = 0;
    const secondAgain = outcome(d, second);
    expect(callsSecond.locate).toBe(30);
    expect(secondAgain.messageIndex.length + secondAgain.deadLetters.length).toBe(30);
  });

  it('keeps nothing of a batch whose registry step fails', async () => {
    const d = deps();
    const failing: DecodeStepDeps = {
      ...d,
      decoder: { ...d.decoder, prepareIds: () => Promise.reject(new Error('registry refused')) },
    };
    await expect(prepareSchemas(failing, control, fetchedBatch(0, 10, { locate: 0 }))).rejects.toThrow(
      'registry refused',
    );
    expect(d.located.batch).toBeUndefined();
    expect([...d.located.keys, ...d.located.values].every((b) => b === null)).toBe(true);
  });

  it('forgetLocated drops the buffers of a batch that will not be decoded', async () => {
    const d = deps();
    await prepareSchemas(d, control, fetchedBatch(0, 10, { locate: 0 }));
    expect(d.located.values.filter((b) => b !== null).length).toBe(10);
    forgetLocated(d.located);
    expect(d.located.batch).toBeUndefined();
    expect([...d.located.keys, ...d.located.values].every((b) => b === null)).toBe(true);
  });
});
