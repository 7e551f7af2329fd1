/**
 * Issue 11, "Show": the dead-letter lifecycle of records whose schema was registered after the fact, on the
 * real local stack (Kafka, Apicurio through its Confluent API, ClickHouse) with the real engine (`pdm-stream
 * run`, from dist/) and, when the Debian packages are installed, a real Prometheus and Alertmanager
 * (./dlq-alerting.ts). A producer writes telemetry v2 (an added optional field) framed with a schema id the
 * registry does not know: every record is dead-lettered as UNKNOWN_SCHEMA, the depth gauge rises, the depth
 * alert fires and Alertmanager delivers it to the test's webhook. Then the schema is registered and gets
 * that id, and once the engine's 30 s belief that the id is unknown has run out (src/decode/decoder.ts; no
 * restart), `dlq replay --reason UNKNOWN_SCHEMA` re-publishes the records, the engine decodes them and
 * writes the predictions of the buckets they close (the same as the batch path over the same events), no
 * record is dead-lettered again, the depth falls to 0 and the alert resolves (Alertmanager delivers the
 * resolved notification).
 *
 * Why no restart: a restarted engine rebuilds its state by re-reading the partitions (src/pipeline/restore.ts)
 * and, the schema being known by then, decodes and scores the original records itself; their replayed copies
 * then come back as LATE_EVENT dead letters (behind the buckets just closed) or duplicates, and the depth
 * does not fall to 0. Measured with this test on 2026-11-30: 111 of 144 copies dead-lettered LATE_EVENT.
 *
 * How a frame gets an id the registry hands out only later: Apicurio's Confluent API cannot register a
 * schema under a given id (its register request has no `id`, so Confluent's IMPORT mode is not available),
 * and ids come from a sequence that other tests share, so guessing the next one would race. The test takes
 * the path a producer with a cached id takes after its schema was deleted from the registry: v2 is
 * registered, permanently deleted (its id then answers 40403, as for a schema never registered), the
 * producer frames with the id, and v2 is registered again later. Apicurio keeps a deleted version's content
 * row, whose id is the Confluent id, until its hourly orphaned-content clean-up, and a registration of the
 * same content reuses that row: the late registration gives back the producer's id. Should the clean-up run
 * in between (a few seconds' window per hour), the test fails saying so rather than replaying into the void.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createCodec,
  createSchemaRegistryClient,
  encodeFrame,
  loadProjectSchemas,
  valueSubject,
} from '../../src/decode/index.js';
import { machineKey, type PdmEvent } from '../../src/shared/records.js';
import { quoteIdent } from '../../src/sink/index.js';
import {
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  deliveryKey,
  eventTs,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
  type RawMessage,
} from '../e2e/handmade.js';
import {
  cli,
  dropDatabase,
  e2eEnv,
  expectStreamedSameAsBatch,
  metricsText,
  predictionCount,
  stopEngines,
  waitFor,
  type E2eEnv,
  type EngineProcess,
  type ExpectedRow,
} from '../e2e/support.js';
import { uniqueToken } from '../support/stack-env.js';
import { alertingBinaries, startAlerting, type Alerting, type WebhookAlert } from './dlq-alerting.js';

const START = Date.UTC(2026, 9, 5);
/** Two days of hourly telemetry: four scored 12 h buckets per machine (as the batch path says). */
const FLEET = { machines: 3, days: 2, startMs: START, seed: 53 } as const;
const NOW = Date.UTC(2026, 10, 1);
const ALERT = 'PdmDeadLetterDepthHigh';
/** RecordDecoderOptions.unknownSchemaRetryMs of the engine (its default; not a setting). */
const UNKNOWN_SCHEMA_RETRY_MS = 30_000;

const e: E2eEnv = await e2eEnv({ PDM_PARTITIONS: '2' });
const topic = e.config.kafka.topics.telemetry;
const subject = valueSubject(topic);
const registry = createSchemaRegistryClient(e.config.registry);
const engines: EngineProcess[] = [];
let alerting: Alerting | undefined;
const bins = alertingBinaries();
if ('missing' in bins)
  console.warn(`dlq-late-schema: ${bins.missing} not found; the alert checks are skipped`);

/** Telemetry v2: the project schema plus an optional field, unique to this run so that its id is new. */
const telemetryV2 = structuredClone(loadProjectSchemas().telemetry) as { fields: object[] };
telemetryV2.fields.push({
  name: 'firmware',
  type: ['null', 'string'],
  default: null,
  doc: `Firmware version of the reporting device (added in v2; test run ${uniqueToken()}).`,
});
const v2 = createCodec(telemetryV2);

// The machines (metadata, not timed) and their telemetry only: timed side events (errors, maintenance,
// failures) would be decoded at once, long before the telemetry they go with is replayed, which is another
// test's matter (late and out-of-order side events, issue 9).
const events: PdmEvent[] = fleetEvents(FLEET).filter(
  (ev) => ev.kind === 'machines' || ev.kind === 'telemetry',
);
const telemetryCount = events.filter((ev) => ev.kind === 'telemetry').length;
let lateId = -1;
/** When the engine had dead-lettered every original record (it asked the registry before that). */
let deadLetteredAt = 0;
/** topic:partition:offset of the dead letters of the original records. */
const original = new Set<string>();
let expected: Promise<Map<string, ExpectedRow>> | undefined;

/** `DELETE` on the registry's Confluent API (the engine's client has no delete: only tests delete). */
async function registryDelete(path: string): Promise<unknown> {
  const auth = e.config.registry.auth;
  const res = await fetch(`${e.config.registry.url.replace(/\/+$/, '')}${path}`, {
    method: 'DELETE',
    headers: {
      accept: 'application/vnd.schemaregistry.v1+json',
      ...(auth === undefined
        ? {}
        : {
            authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
          }),
    },
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`DELETE ${path}: HTTP ${res.status} ${body}`);
  return JSON.parse(body) as unknown;
}

async function depthOf(where = '1'): Promise<number> {
  const [r] = await e.ch.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${quoteIdent(e.database)}.dead_letters_unresolved WHERE ${where}`,
  );
  return Number(r?.n ?? -1);
}

/** The gauge's value for UNKNOWN_SCHEMA on the telemetry topic (0 when the engine exports no such series). */
async function gaugeDepth(): Promise<number> {
  const text = await metricsText(e.httpPort);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`pdm_dead_letter_depth{reason="UNKNOWN_SCHEMA",topic="${topic}"} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Waits until the webhook received an UNKNOWN_SCHEMA depth alert matching `pred`. */
function delivered(what: string, pred: (a: WebhookAlert) => boolean): Promise<WebhookAlert> {
  return waitFor(
    what,
    () =>
      Promise.resolve(
        alerting?.received.find(
          (a) => a.labels['alertname'] === ALERT && a.labels['reason'] === 'UNKNOWN_SCHEMA' && pred(a),
        ),
      ),
    60_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${alerting?.output().slice(-3000) ?? ''}`);
  });
}

beforeAll(async () => {
  await cli(['schemas', 'register'], e.env);
  engines.push(await startEngine(e));
  if (!('missing' in bins)) alerting = await startAlerting(bins, e.httpPort, join(e.tmp, 'alerting'));
});

afterAll(async () => {
  await alerting?.close();
  await stopEngines(engines);
  await dropDatabase(e);
});

describe('dead letters of a schema registered after the fact (issue 11)', () => {
  it('telemetry framed with an id the registry does not know is dead-lettered; the depth alert fires', async () => {
    lateId = await registry.register(subject, telemetryV2);
    const version = (await registry.versions(subject)).find((v) => v.id === lateId)?.version;
    expect(version, `v2 (id ${lateId}) not listed under ${subject}`).toBeDefined();
    const path = `/subjects/${encodeURIComponent(subject)}/versions/${String(version)}`;
    expect(await registryDelete(path)).toBe(version);
    expect(await registryDelete(`${path}?permanent=true`)).toBe(version);
    await expect(registry.schemaById(lateId)).rejects.toThrow(/not known to the registry/);

    const framer = await createFramer(e);
    const messages: RawMessage[] = events.map((ev) => {
      if (ev.kind !== 'telemetry') return messageFor(e, framer, ev);
      const value = encodeFrame(lateId, v2.encode({ ...ev.record, firmware: `fw-2.${ev.record.machineId}` }));
      return { topic, key: machineKey(ev.record.machineId), value, timestamp: eventTs(ev) ?? 0 };
    });
    // The batch path over the same events, while the engine works: what the replay must produce.
    expected = batchOver(e, events, NOW);
    // Awaited in the next test; a failure meanwhile must not surface as an unhandled rejection.
    expected.catch(() => undefined);
    const producer = await createTestProducer(e);
    try {
      await producer.send(messages);
    } finally {
      await producer.close();
    }
    const [engine] = engines;
    if (engine === undefined) throw new Error('no engine');
    await waitConsumed(e, engine, 60_000);
    deadLetteredAt = Date.now();

    const letters = await deadLetters(e);
    expect(letters).toHaveLength(telemetryCount);
    for (const l of letters) original.add(deliveryKey(l));
    expect(new Set(letters.map((l) => `${l.reason} ${l.topic}`))).toEqual(
      new Set([`UNKNOWN_SCHEMA ${topic}`]),
    );
    expect(letters[0]?.error).toMatch(new RegExp(`schema id ${lateId} is not known`));
    expect(await depthOf()).toBe(telemetryCount);
    expect(await predictionCount(e)).toBe(0);
    await waitFor(
      'the depth gauge to rise',
      async () => ((await gaugeDepth()) === telemetryCount ? true : undefined),
      30_000,
    );
    if (alerting !== undefined) {
      const firing = await delivered('the depth alert delivered as firing', (a) => a.status === 'firing');
      expect(firing.labels).toMatchObject({ topic, severity: 'warning' });
    }
  });

  it('registered late and replayed, they become predictions; the depth falls to 0 and the alert resolves', async () => {
    expect(lateId, 'the first test did not run').toBeGreaterThan(0);
    const registeredId = await registry.register(subject, telemetryV2);
    expect(
      registeredId,
      `registering v2 again gave id ${registeredId}, not ${lateId}: Apicurio's orphaned-content clean-up ran in between; run the test again`,
    ).toBe(lateId);
    expect(await registry.schemaById(lateId)).toContain('firmware');

    // The engine believes the id unknown for 30 s after it last asked the registry (at the latest when the
    // dead letters were written): a replay published before that would be dead-lettered again.
    await sleep(Math.max(0, deadLetteredAt + UNKNOWN_SCHEMA_RETRY_MS + 1_000 - Date.now()));
    const [engine] = engines;
    if (engine === undefined) throw new Error('no engine');

    const dry = await cli(['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA', '--dry-run'], e.env);
    expect(dry).toContain(`dry run: ${telemetryCount} records would be replayed, 0 refused`);
    const replayAt = Date.now();
    const out = await cli(
      ['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA', '--note', 'telemetry v2 registered'],
      e.env,
    );
    expect(out).toContain(
      `replayed ${telemetryCount} records (${telemetryCount} dead letters resolved), refused 0`,
    );
    await waitConsumed(e, engine, 60_000);
    // Decoded this time: no dead letter beyond the originals, every closed bucket predicted as in batch.
    const again = (await deadLetters(e)).filter((l) => !original.has(deliveryKey(l)));
    expect(
      again.map((l) => `${l.reason} ${l.topic}:${l.partition}:${l.offset}: ${l.error}`).slice(0, 5),
    ).toEqual([]);
    expect(await depthOf()).toBe(0);
    const want = await (expected ?? Promise.reject(new Error('the first test did not run')));
    expect(want.size).toBe(FLEET.machines * 4);
    await expectStreamedSameAsBatch(e, want);

    await waitFor(
      'the depth gauge to fall to 0',
      async () => ((await gaugeDepth()) === 0 ? true : undefined),
      30_000,
    );
    if (alerting !== undefined) {
      await delivered(
        'the depth alert delivered as resolved after the replay',
        (a) => a.status === 'resolved' && Date.parse(a.endsAt) >= replayAt,
      );
    }
  });
});
