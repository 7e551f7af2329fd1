/**
 * Issue 11: canary secrets set in the environment never appear in logs, metrics or dead-letter rows. The
 * real engine (`pdm-stream run`, a child process, LOG_LEVEL=debug) runs with a ClickHouse password and a
 * registry password that are canaries: it writes as pdm_engine to a private ClickHouse whose users come
 * from deploy/clickhouse/users-18.16.xml (the engine's password is the canary), and dead-letters records
 * that are not Avro. Then its log, its /metrics, the dead-letter rows and `dlq show` output (as pdm_ops)
 * are searched for each canary, raw and as HTTP basic-auth base64. The local Kafka has no SASL, so the
 * Kafka password canary is checked on the path that does handle it: `run` with SASL against this broker,
 * which fails the handshake and exits; its output must not hold the password either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/ingest/index.js';
import { createClickHouse, migrate, quoteIdent, type ClickHouseConnection } from '../../src/sink/index.js';
import { projectRoot } from '../../src/stack/index.js';
import { accessUsersEnv, accessUsersXml } from '../../src/stack/clickhouse.js';
import {
  cli,
  engineReady,
  metricsText,
  startEngineProcess,
  stopEngines,
  waitFor,
  type EngineProcess,
} from '../e2e/support.js';
import { startPrivateClickHouse, type PrivateClickHouse } from '../support/clickhouse-server.js';
import { freePort, testConfig, uniqueToken } from '../support/stack-env.js';

const token = uniqueToken();
const DB = `pdm_secrets_${token}`;
const CANARY = {
  clickhouse: `canary-ch-${token}-x1`,
  registry: `canary-reg-${token}-x2`,
  kafka: `canary-kafka-${token}-x3`,
};
const PASSWORDS = { migrator: `m-${token}`, engine: CANARY.clickhouse, dlq: `d-${token}`, ops: `o-${token}` };

/** Every form a secret could leak in: raw, and inside an HTTP basic-auth header. */
function leaks(text: string): string[] {
  const forms = Object.entries(CANARY).flatMap(([name, secret]) => [
    [name, secret],
    [`${name} (basic auth)`, Buffer.from(`pdm:${secret}`).toString('base64')],
    [`${name} (basic auth, user pdm_engine)`, Buffer.from(`pdm_engine:${secret}`).toString('base64')],
  ]);
  return forms.filter(([, f]) => f !== undefined && text.includes(f)).map(([n]) => n ?? '');
}

let server: PrivateClickHouse;
let admin: ClickHouseConnection;
let env: Record<string, string>;
let engine: EngineProcess | undefined;

beforeAll(async () => {
  server = await startPrivateClickHouse({
    usersD: { 'pdm.xml': accessUsersXml(projectRoot(), DB) },
    env: accessUsersEnv(PASSWORDS),
  });
  admin = createClickHouse({
    url: server.url,
    username: 'pdm_migrator',
    password: PASSWORDS.migrator,
    database: DB,
  });
  await migrate(admin, DB);
  env = {
    PDM_TOPIC_PREFIX: `s${token}.`,
    PDM_GROUP_ID: `secrets-${token}`,
    PDM_HTTP_PORT: String(await freePort()),
    CLICKHOUSE_URL: server.url,
    CLICKHOUSE_USER: 'pdm_engine',
    CLICKHOUSE_PASSWORD: CANARY.clickhouse,
    CLICKHOUSE_DATABASE: DB,
    SCHEMA_REGISTRY_USER: 'pdm',
    SCHEMA_REGISTRY_PASSWORD: CANARY.registry,
    LOG_LEVEL: 'debug',
  };
  await cli(['schemas', 'register'], env);
}, 180_000);

afterAll(async () => {
  await stopEngines([engine]);
  await admin.close();
  await server.close();
});

describe('canary secrets (issue 11)', () => {
  it('the engine: not in its log, its metrics, the dead-letter rows or `dlq show`', async () => {
    const started = startEngineProcess(env);
    engine = started;
    await Promise.race([
      engineReady(Number(env['PDM_HTTP_PORT'])),
      started.exited.then((code) => {
        throw new Error(`engine exited ${code}:\n${started.output().slice(-3000)}`);
      }),
    ]);
    const config = testConfig(env);
    const producer = createKafkaClient(config.kafka, '-test').producer();
    await producer.connect();
    await producer.send({
      topic: config.kafka.topics.telemetry,
      messages: [
        { key: '1', value: Buffer.from('not avro at all') },
        { key: '2', value: Buffer.from([0, 0, 0, 0x7f, 0xff, 1, 2]) }, // an unknown schema id
      ],
    });
    await producer.disconnect();
    const d = quoteIdent(DB);
    await waitFor('two dead letters', async () => {
      const [r] = await admin.query<{ n: string }>(`SELECT count() AS n FROM ${d}.dead_letters`);
      return Number(r?.n) >= 2 ? true : undefined;
    });
    const metrics = await metricsText(Number(env['PDM_HTTP_PORT']));
    const rows = await admin.query<Record<string, unknown>>(`SELECT * FROM ${d}.dead_letters`);
    const shown = await cli(['dlq', 'show', '--include-resolved', '--json'], {
      ...env,
      CLICKHOUSE_USER: 'pdm_ops',
      CLICKHOUSE_PASSWORD: PASSWORDS.ops,
      LOG_LEVEL: 'debug',
    });
    await stopEngines([engine]);
    const log = engine.output();
    // The search finds what it looks for (a control, so that an empty list means something).
    expect(
      leaks(`x${Buffer.from(`pdm:${CANARY.registry}`).toString('base64')}x ${CANARY.clickhouse}`),
    ).toEqual(['clickhouse', 'registry (basic auth)']);
    expect(log).toMatch(/engine starting/); // the log was captured
    expect(metrics).toMatch(/pdm_dead_letters_total|pdm_dead_letter/);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect({
      log: leaks(log),
      metrics: leaks(metrics),
      deadLetters: leaks(JSON.stringify(rows)),
      dlqShow: leaks(shown),
    }).toEqual({ log: [], metrics: [], deadLetters: [], dlqShow: [] });
  });

  it('run with Kafka SASL against a broker without it: it fails, and says so without the password', async () => {
    const failing = startEngineProcess({
      ...env,
      PDM_GROUP_ID: `secrets-sasl-${token}`,
      PDM_HTTP_PORT: String(await freePort()),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'pdm',
      KAFKA_SASL_PASSWORD: CANARY.kafka,
      PDM_KAFKA_OUTAGE_MAX_MS: '5000',
    });
    const timer = setTimeout(() => failing.proc.kill('SIGTERM'), 90_000);
    const code = await failing.exited;
    clearTimeout(timer);
    expect(code).not.toBe(0);
    // It failed on the SASL handshake (kafkajs: "Request is not valid given the current SASL state").
    expect(failing.output()).toMatch(/SASL/);
    expect(leaks(failing.output())).toEqual([]);
  });
});
