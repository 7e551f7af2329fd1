/**
 * Issue 11, dead-letter lifecycle on the real local stack (Kafka, registry, ClickHouse 18.16) with the real
 * engine (`pdm-stream run`, from dist/): bad records are dead-lettered, the depth view and the engine's
 * `pdm_dead_letter_depth` gauge count them, `dlq depth --threshold` exits 1 above it, `dlq replay`
 * re-publishes exactly the original bytes, key and timestamp with the replay headers and the depth of the
 * replayed record goes down, the engine carries the replay count into the dead letter of the replay, a
 * replay past the maximum is refused (exit 3), and `dlq dismiss` lowers the depth. With the Debian
 * `prometheus` and `prometheus-alertmanager` installed, a real Prometheus scrapes the engine, the depth
 * alert fires and Alertmanager delivers it to a webhook of the test, and it resolves after the dismiss.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordEncoder, createSchemaRegistryClient, encodeFrame } from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';
import { quoteIdent } from '../../src/sink/index.js';
import {
  cli,
  dropDatabase,
  e2eEnv,
  engineReady,
  metricsText,
  startEngineProcess,
  stopEngines,
  waitFor,
  type E2eEnv,
  type EngineProcess,
} from '../e2e/support.js';
import { alertingBinaries, startAlerting, type Alerting, type WebhookAlert } from './dlq-alerting.js';

const BIN = fileURLToPath(new URL('../../bin/pdm-stream.js', import.meta.url));

/** `pdm-stream <args>` with its exit code (the e2e helper rejects on non-zero). */
function run(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      resolve({ code, out });
    });
  });
}

/** A schema id no registry here has handed out: the engine dead-letters it as UNKNOWN_SCHEMA. */
const UNKNOWN_ID = 2_147_480_001;

const e: E2eEnv = await e2eEnv({ PDM_PARTITIONS: '2' });
const topic = e.config.kafka.topics.telemetry;
let engine: EngineProcess | undefined;
let alerting: Alerting | undefined;
const bins = alertingBinaries();
if ('missing' in bins) console.warn(`dlq-lifecycle: ${bins.missing} not found; the alerting test is skipped`);

/** Waits until the webhook got an alert of the depth rule for `reason` with `status`. */
async function delivered(reason: string, status: WebhookAlert['status']): Promise<WebhookAlert> {
  return waitFor(
    `PdmDeadLetterDepthHigh ${status} for ${reason}`,
    () =>
      Promise.resolve(
        alerting?.received.find(
          (a) =>
            a.status === status &&
            a.labels['alertname'] === 'PdmDeadLetterDepthHigh' &&
            a.labels['reason'] === reason,
        ),
      ),
    90_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${alerting?.output().slice(-3000) ?? ''}`);
  });
}

async function depthOf(where = '1'): Promise<number> {
  const [r] = await e.ch.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${quoteIdent(e.database)}.dead_letters_unresolved WHERE ${where}`,
  );
  return Number(r?.n ?? -1);
}

async function deadLetterAt(partition: number, offset: string) {
  const rows = await e.ch.query<{
    reason: string;
    replay_count: number;
    replayed_from: string;
    key_base64: string | null;
    message_ts_ms: string;
  }>(
    `SELECT reason, replay_count, replayed_from, key_base64, toString(message_ts_ms) AS message_ts_ms
FROM ${quoteIdent(e.database)}.dead_letters FINAL
WHERE topic = {topic:String} AND partition = {p:Int32} AND offset = {o:Int64}`,
    { topic, p: partition, o: BigInt(offset) },
  );
  return rows[0];
}

/** Reads the record at `offset` of `partition` back from Kafka. */
async function readBack(partition: number, offset: string): Promise<KafkaMessage> {
  const consumer = createKafkaClient(e.config.kafka, '-dlq-it').consumer({
    groupId: `${e.env['PDM_GROUP_ID'] ?? ''}-readback`,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<KafkaMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`record ${partition}/${offset} not read back`));
      }, 60_000);
      void consumer.run({
        eachMessage: ({ partition: p, message }) => {
          if (p === partition && message.offset === offset) {
            clearTimeout(timer);
            resolve(message);
          }
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

const binaryKey = Buffer.from([0xfe, 0x00, 0x31]);
const ts = Math.floor(Date.now() / 1000) * 1000 - 60_000 + 123; // ms precision on purpose
const offsets = { a: '', b: '', c: '', d: '' };

beforeAll(async () => {
  await cli(['schemas', 'register'], e.env);
  engine = startEngineProcess(e.env);
  await engineReady(e.httpPort);
  if (!('missing' in bins)) alerting = await startAlerting(bins, e.httpPort, join(e.tmp, 'alerting'));
  const producer = createKafkaClient(e.config.kafka, '-dlq-it').producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const send = async (partition: number, key: Buffer, value: Buffer) => {
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: [{ partition, key, value, timestamp: String(ts) }],
    });
    return meta?.baseOffset ?? '';
  };
  offsets.a = await send(0, binaryKey, encodeFrame(UNKNOWN_ID, Buffer.from([2, 4, 6])));
  offsets.b = await send(0, Buffer.from('17'), encodeFrame(UNKNOWN_ID, Buffer.from([8])));
  offsets.c = await send(1, Buffer.from('18'), Buffer.from([1, 2, 3, 4, 5, 6]));
  // Decodes, but volt is out of PDM_RANGE_VOLT: INVALID_VALUE, and `dlq show` can decode it.
  const encoder = await createRecordEncoder(
    createSchemaRegistryClient(e.config.registry),
    e.config.kafka.topics,
  );
  const record = { machineId: 17, ts, volt: 5000, rotate: 400, pressure: 100, vibration: 40 };
  offsets.d = await send(0, Buffer.from('17'), encoder.encode('telemetry', record));
  await producer.disconnect();
  await waitFor('four dead letters', async () => ((await depthOf()) === 4 ? true : undefined), 90_000);
});

afterAll(async () => {
  await alerting?.close();
  await stopEngines([engine]);
  await dropDatabase(e);
});

describe('dead-letter lifecycle on the local stack (issue 11)', () => {
  it('keeps the exact key bytes and millisecond timestamp; the view and the engine gauge count the depth', async () => {
    const a = await deadLetterAt(0, offsets.a);
    expect(a).toMatchObject({
      reason: 'UNKNOWN_SCHEMA',
      replay_count: 0,
      replayed_from: '',
      key_base64: binaryKey.toString('base64'),
      message_ts_ms: String(ts),
    });
    expect(await depthOf("reason = 'UNKNOWN_SCHEMA'")).toBe(2);
    const [byView] = await e.ch.query<{ depth: string }>(
      `SELECT toString(depth) AS depth FROM ${quoteIdent(e.database)}.dead_letter_depth WHERE reason = 'BAD_FRAME'`,
    );
    expect(byView?.depth).toBe('1');
    await waitFor(
      'the depth gauge',
      async () => {
        const text = await metricsText(e.httpPort);
        return text.includes(`pdm_dead_letter_depth{reason="UNKNOWN_SCHEMA",topic="${topic}"} 2`)
          ? text
          : undefined;
      },
      30_000,
    );
  });

  it.skipIf('missing' in bins)(
    'the depth alert fires in Prometheus and Alertmanager delivers it',
    async () => {
      const a = await delivered('BAD_FRAME', 'firing');
      expect(a.labels).toMatchObject({ topic, severity: 'warning' });
      await delivered('UNKNOWN_SCHEMA', 'firing');
    },
  );

  it('dlq depth exits 1 above --threshold, 0 within it; top and show decode what they can', async () => {
    const above = await run(['dlq', 'depth', '--threshold', '3'], e.env);
    expect(above.code).toBe(1);
    expect(above.out).toMatch(/unresolved dead letters: 4/);
    expect(above.out).toMatch(/ABOVE threshold 3/);
    const within = await run(['dlq', 'depth', '--threshold', '4', '--since', '1h', '--json'], e.env);
    expect(within.code).toBe(0);
    expect(JSON.parse(within.out)).toMatchObject({ total: 4, aboveThreshold: false });
    const unreadable = await run(['dlq', 'depth'], {
      ...e.env,
      CLICKHOUSE_DATABASE: `${e.database}_missing`,
    });
    expect(unreadable.code).toBe(3);
    expect(unreadable.out).toMatch(/pdm-stream migrate/);

    const top = await cli(['dlq', 'top'], e.env);
    expect(top).toMatch(new RegExp(`2\\s+UNKNOWN_SCHEMA\\s+${topic.replace(/\./g, '\\.')}\\s+${UNKNOWN_ID}`));
    const show = await cli(['dlq', 'show', '--reason', 'BAD_FRAME,UNKNOWN_SCHEMA'], e.env);
    expect(show).toMatch(/frame bad-magic; magic byte 1/);
    expect(show).toMatch(new RegExp(`frame ok, schema id ${UNKNOWN_ID}; registry: .*not known`));
    const decoded = await cli(['dlq', 'show', '--reason', 'INVALID_VALUE', '--json'], e.env);
    const row = JSON.parse(decoded) as {
      machineId: number;
      payload: { schemaName?: string };
      decoded: unknown;
    };
    expect(row.machineId).toBe(17);
    expect(row.payload.schemaName).toMatch(/Telemetry$/i);
    expect(row.decoded).toMatchObject({ machineId: 17, volt: 5000 });
  });

  it('replay --dry-run changes nothing; replay re-publishes exactly, with headers, and resolves the dead letter', async () => {
    const dry = await cli(['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA', '--dry-run'], e.env);
    expect(dry).toMatch(/dry run: 2 records would be replayed, 0 refused/);
    expect(await depthOf()).toBe(4);

    const out = await cli(
      ['dlq', 'replay', '--ids', `${topic}:0:${offsets.a}`, '--note', 'schema registered'],
      e.env,
    );
    const landed = new RegExp(`replayed  ${topic.replace(/\./g, '\\.')}/0/${offsets.a} -> .*:0:(\\d+)`).exec(
      out,
    )?.[1];
    expect(landed, out).toBeDefined();
    const newOffset = landed ?? '';
    expect(out).toMatch(/replayed 1 records \(1 dead letters resolved\), refused 0/);

    const m = await readBack(0, newOffset);
    expect(m.value).toEqual(encodeFrame(UNKNOWN_ID, Buffer.from([2, 4, 6])));
    expect(m.key).toEqual(binaryKey);
    expect(m.timestamp).toBe(String(ts));
    expect(m.headers?.['pdm-replay-count']?.toString()).toBe('1');
    expect(m.headers?.['pdm-replayed-from']?.toString()).toBe(`${topic}/0/${offsets.a}`);
    expect(Date.parse(m.headers?.['pdm-replayed-at']?.toString() ?? '')).toBeGreaterThan(
      Date.now() - 300_000,
    );

    const [resolution] = await e.ch.query<Record<string, unknown>>(
      `SELECT action, note, replay_count, replayed_to_partition, toString(replayed_to_offset) AS replayed_to_offset
FROM ${quoteIdent(e.database)}.dead_letter_resolutions WHERE offset = {o:Int64} AND partition = 0`,
      { o: BigInt(offsets.a) },
    );
    expect(resolution).toEqual({
      action: 'replayed',
      note: 'schema registered',
      replay_count: 1,
      replayed_to_partition: 0,
      replayed_to_offset: newOffset,
    });

    // The schema is still unknown: the engine dead-letters the replay again, carrying its replay count.
    const again = await waitFor(
      'the replay dead-lettered again',
      async () => (await deadLetterAt(0, newOffset)) ?? undefined,
      60_000,
    );
    expect(again).toMatchObject({
      reason: 'UNKNOWN_SCHEMA',
      replay_count: 1,
      replayed_from: `${topic}/0/${offsets.a}`,
      key_base64: binaryKey.toString('base64'),
    });
    expect(await depthOf(`offset = ${offsets.a} AND partition = 0`)).toBe(0);
    expect(await depthOf()).toBe(4);

    // Loop guard: with at most one replay, the replayed record is refused (exit 3) and stays unresolved.
    const refused = await run(
      ['dlq', 'replay', '--ids', `${topic}:0:${newOffset}`, '--max-replays', '1'],
      e.env,
    );
    expect(refused.code).toBe(3);
    expect(refused.out).toMatch(/refused .*replayed 1 time already \(maximum 1\)/);
    expect(await depthOf()).toBe(4);
  });

  it('dismiss lowers the depth and records why; the gauge follows', async () => {
    const out = await cli(
      ['dlq', 'dismiss', '--dead-letter-reason', 'BAD_FRAME', '--reason', 'producer bug, data lost'],
      e.env,
    );
    expect(out).toMatch(/dismissed 1 dead letters/);
    expect(await depthOf()).toBe(3);
    const [r] = await e.ch.query<{ action: string; note: string }>(
      `SELECT action, note FROM ${quoteIdent(e.database)}.dead_letter_resolutions WHERE reason = 'BAD_FRAME'`,
    );
    expect(r).toEqual({ action: 'dismissed', note: 'producer bug, data lost' });
    expect(await cli(['dlq', 'show', '--reason', 'BAD_FRAME'], e.env)).toMatch(/no dead letters match/);
    expect(await cli(['dlq', 'show', '--reason', 'BAD_FRAME', '--include-resolved'], e.env)).toMatch(
      /resolved: dismissed: producer bug, data lost/,
    );
    expect((await run(['dlq', 'depth', '--threshold', '3'], e.env)).code).toBe(0);
    await waitFor(
      'the gauge to drop',
      async () => {
        const text = await metricsText(e.httpPort);
        return text.includes(`pdm_dead_letter_depth{reason="BAD_FRAME",topic="${topic}"} 0`)
          ? true
          : undefined;
      },
      30_000,
    );
  });

  it.skipIf('missing' in bins)(
    'the depth alert of the dismissed reason resolves and is delivered so',
    async () => {
      await delivered('BAD_FRAME', 'resolved');
      expect(
        alerting?.received.some((a) => a.labels['reason'] === 'UNKNOWN_SCHEMA' && a.status === 'resolved'),
      ).toBe(false);
    },
  );
});
