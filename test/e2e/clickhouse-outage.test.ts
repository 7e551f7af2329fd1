/**
 * Issue 6: stop ClickHouse for a while mid-run. The engine holds its batch (consumer effectively paused,
 * heartbeats flowing), retries, resumes when ClickHouse is back, loses nothing and dead-letters nothing.
 * Needs the local stack (it stops and restarts the stack's own ClickHouse); skipped, visibly, against
 * external services.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { quoteIdent } from '../../src/sink/index.js';
import { localServices, stackUp } from '../../src/stack/index.js';
import {
  batchExpectation,
  cli,
  dropDatabase,
  e2eEnv,
  expectCleanExit,
  expectStreamedSameAsBatch,
  metricsText,
  metricSum,
  startPacedRun,
  stopEngines,
  waitCaughtUp,
  waitFor,
  type E2eEnv,
  type EngineProcess,
} from './support.js';

const SIM = ['--machines', '6', '--days', '10', '--seed', '31', '--start', '2026-05-01'];
const external = loadConfig().stack.external;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
let e: E2eEnv | undefined;
let engine: EngineProcess | undefined;

afterAll(async () => {
  await stackUp(loadConfig(), quiet); // whatever happened, leave ClickHouse running
  await stopEngines([engine]);
  if (e !== undefined) await dropDatabase(e);
});

describe.skipIf(external)('ClickHouse outage (local stack only)', () => {
  it('pauses, resumes, loses nothing and writes no dead letters because of the outage', async () => {
    const env = await e2eEnv();
    e = env;
    await cli(['schemas', 'register'], env.env);
    const expected = await batchExpectation(env, SIM);
    const run = await startPacedRun(env, SIM, 150, 10);
    engine = run.engine;
    const { publishing } = run;
    const running = run.engine;

    const clickhouse = localServices(loadConfig(), quiet).find((s) => s.name === 'clickhouse');
    if (clickhouse === undefined) throw new Error('no clickhouse service in the local stack');
    // A hard crash: SIGKILL (a SIGTERMed server keeps answering while it shuts down gracefully).
    const pid = (await clickhouse.status()).pid;
    if (pid === undefined) throw new Error('local ClickHouse is not running');
    process.kill(pid, 'SIGKILL');
    await waitFor('ClickHouse to be down', async () =>
      (await env.ch.ping().catch(() => false)) ? undefined : true,
    );
    await publishing; // the fleet keeps arriving while ClickHouse is down
    await sleep(4_000);
    const during = await metricsText(env.httpPort);
    expect(metricSum(during, 'pdm_clickhouse_write_errors_total')).toBeGreaterThan(0);
    const readyz = await fetch(`http://127.0.0.1:${env.httpPort}/readyz`);
    expect(readyz.status).toBe(503);
    expect(running.proc.exitCode).toBeNull(); // still alive, waiting
    expect(await clickhouse.start()).toBe('started');

    await waitCaughtUp(env, expected.size);
    await expectStreamedSameAsBatch(env, expected);
    const dl = await env.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${quoteIdent(env.database)}.dead_letters FINAL`,
    );
    if (Number(dl[0]?.n) !== 0)
      console.error(await env.ch.query(`SELECT * FROM ${quoteIdent(env.database)}.dead_letters`));
    expect(Number(dl[0]?.n)).toBe(0);
    await expectCleanExit(running);
  });
});
