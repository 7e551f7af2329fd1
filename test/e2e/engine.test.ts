/**
 * Issue 6, end to end on the local stack: simulate a fleet (with failures), run the engine, and check that
 * every closed bucket of every machine has exactly one logical prediction, equal to `features build` +
 * `score` on the same fleet exported with --out-csv; logged feature vectors equal the batch features;
 * injected bad messages each produce exactly one dead letter with the right reason; no valid record is
 * dead-lettered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createCodec,
  createSchemaRegistryClient,
  encodeFrame,
  loadProjectSchemas,
  valueSubject,
} from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';
import { quoteIdent } from '../../src/sink/index.js';
import {
  batchExpectation,
  cli,
  compareWithBatch,
  expectSameAsBatch,
  dropDatabase,
  e2eEnv,
  engineReady,
  stopEngines,
  startEngineProcess,
  streamedRows,
  waitCaughtUp,
  waitFor,
  type E2eEnv,
  type EngineProcess,
} from './support.js';

const SIM = ['--machines', '6', '--days', '8', '--seed', '11', '--start', '2026-03-01'];
let e: E2eEnv;
let engine: EngineProcess | undefined;

afterAll(async () => {
  await stopEngines([engine]);
  await dropDatabase(e);
});

describe('engine end to end', () => {
  it('streams the same predictions and features as the batch path, and dead-letters exactly the bad messages', async () => {
    e = await e2eEnv();
    await cli(['schemas', 'register'], e.env);
    const expected = await batchExpectation(e, SIM);
    expect(expected.size).toBeGreaterThan(50);

    engine = startEngineProcess(e.env);
    await engineReady(e.httpPort);
    await cli(['simulate', ...SIM, '--no-progress'], e.env);
    await waitCaughtUp(e, expected.size);

    const cmp = compareWithBatch(expected, await streamedRows(e));
    expectSameAsBatch(cmp);
    // Issue 13: the package's decision (alerting components, warming up) streamed equals `score`'s.
    const decided = (m: unknown, b: unknown, alert: string, components: string, warm: unknown) =>
      `${String(m)}:${String(b)} ${alert} ${components} ${String(warm)}`;
    const scores = readFileSync(join(e.tmp, 'scores.csv'), 'utf8').trim().split('\n');
    const col = (name: string) => (scores[0] ?? '').split(',').indexOf(name);
    const [cAlert, cComponents, cWarm] = [col('alert'), col('alertComponents'), col('warmingUp')];
    const batchDecisions = scores.slice(1).map((line) => {
      const c = line.split(',');
      return decided(c[0], Number(c[1]) / 1000, c[cAlert] ?? '', c[cComponents] ?? '', c[cWarm]);
    });
    const streamedDecisions = (
      await e.ch.query<{ m: number; b: number; a: string; c: string[]; w: number }>(
        `SELECT machine_id AS m, toUInt32(bucket_ts) AS b, alert_class AS a, alert_components AS c, warming_up AS w
FROM ${quoteIdent(e.database)}.predictions FINAL`,
      )
    ).map((r) => decided(r.m, r.b, r.a, r.c.join('|'), r.w));
    expect(streamedDecisions.sort()).toEqual(batchDecisions.sort());
    // Each machine's first two buckets are warming up (6 machines start together).
    expect(batchDecisions.filter((d) => d.endsWith(' 1')).length).toBe(12);
    const report = await cli(['report'], e.env);
    expect(report).toContain(`predictions: ${expected.size} for 6 machines`);
    expect(report).toMatch(/dead letters: none/);
    const db = quoteIdent(e.database);
    const raw = await e.ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${db}.predictions`);
    expect(Number(raw[0]?.n)).toBe(expected.size); // one run, no replay: not even physical duplicates
    const before = await e.ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${db}.dead_letters`);
    expect(Number(before[0]?.n)).toBe(0); // no valid record was dead-lettered

    // Inject one bad message of each kind, keyed like real ones.
    const schemas = loadProjectSchemas();
    const registry = createSchemaRegistryClient(e.config.registry);
    const telemetryId = await registry.latestId(valueSubject(e.config.kafka.topics.telemetry));
    if (telemetryId === undefined) throw new Error('telemetry subject missing');
    const codec = createCodec(schemas.telemetry);
    const start = Date.UTC(2026, 2, 1);
    const good = {
      machineId: 1,
      ts: start + 90 * 60_000,
      volt: 170,
      rotate: 450,
      pressure: 100,
      vibration: 40,
    };
    const body = codec.encode(good);
    const injected = [
      { reason: 'BAD_FRAME', value: Buffer.concat([Buffer.from([1]), body]) },
      { reason: 'UNKNOWN_SCHEMA', value: encodeFrame(987_654, body) },
      { reason: 'DECODE_ERROR', value: encodeFrame(telemetryId, body.subarray(0, body.length - 4)) },
      {
        reason: 'INVALID_VALUE',
        value: encodeFrame(
          telemetryId,
          codec.encode({ ...good, ts: start + 9 * 86_400_000, volt: Number.NaN }),
        ),
      },
      // A valid reading for an instant whose bucket has long been closed and scored.
      { reason: 'LATE_EVENT', value: encodeFrame(telemetryId, body) },
    ];
    const producer = createKafkaClient(e.config.kafka, '-e2e').producer();
    await producer.connect();
    await producer.send({
      topic: e.config.kafka.topics.telemetry,
      messages: injected.map((m) => ({ key: '1', value: m.value })),
    });
    await producer.disconnect();

    const letters = await waitFor('five dead letters', async () => {
      const rows = await e.ch.query<{ reason: string; key: string; payload_base64: string; stage: string }>(
        `SELECT reason, key, payload_base64, stage FROM ${db}.dead_letters FINAL ORDER BY offset`,
      );
      return rows.length >= injected.length ? rows : undefined;
    });
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more may arrive
    const final = await e.ch.query<{ reason: string }>(
      `SELECT reason FROM ${db}.dead_letters FINAL ORDER BY offset`,
    );
    expect(final.map((r) => r.reason)).toEqual(injected.map((m) => m.reason));
    letters.forEach((row, i) => {
      expect(row.key).toBe('1');
      expect(Buffer.from(row.payload_base64, 'base64').equals(injected[i]?.value ?? Buffer.alloc(0))).toBe(
        true,
      );
    });
    expect(letters.map((l) => l.stage)).toEqual(['decode', 'decode', 'decode', 'features', 'features']);
    // The late reading changed nothing that was already written.
    const cmpAfter = compareWithBatch(expected, await streamedRows(e));
    expect(cmpAfter.missing).toEqual([]);
    expect(cmpAfter.maxProb).toBeLessThanOrEqual(1e-6);

    engine.proc.kill('SIGTERM');
    expect(await engine.exited).toBe(0);
  });
});
