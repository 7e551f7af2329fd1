/**
 * Issue 6: SIGKILL the engine in the middle of a run, restart it, and end with the same ClickHouse
 * contents (after deduplication) as an uninterrupted run — which the engine test shows equals the batch
 * path, so the batch path is the reference here. Nothing may be missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../src/sink/index.js';
import {
  batchExpectation,
  cli,
  compareWithBatch,
  dropDatabase,
  e2eEnv,
  engineReady,
  expectSameAsBatch,
  predictionCount,
  startEngineProcess,
  startPacedRun,
  stopEngines,
  streamedRows,
  waitCaughtUp,
  type E2eEnv,
  type EngineProcess,
} from './support.js';

const SIM = ['--machines', '6', '--days', '10', '--seed', '23', '--start', '2026-04-01'];
let e: E2eEnv;
const engines: EngineProcess[] = [];

afterAll(async () => {
  await stopEngines(engines);
  await dropDatabase(e);
});

describe('crash and restore', () => {
  it('SIGKILL mid-run, restart: same deduplicated contents as an uninterrupted run, nothing missing', async () => {
    e = await e2eEnv();
    await cli(['schemas', 'register'], e.env);
    const expected = await batchExpectation(e, SIM);

    // Paced so that the kill lands while the fleet is still being published and scored.
    const { engine: first, publishing } = await startPacedRun(e, SIM, 250, 20);
    engines.push(first);
    first.proc.kill('SIGKILL');
    await first.exited;
    const atKill = await predictionCount(e);
    expect(atKill).toBeLessThan(expected.size); // the kill really was mid-run
    await publishing;

    const second = startEngineProcess(e.env);
    engines.push(second);
    await engineReady(e.httpPort);
    await waitCaughtUp(e, expected.size);

    const cmp = compareWithBatch(expected, await streamedRows(e));
    if (cmp.missing.length > 0) console.error(second.output().slice(-3000));
    expectSameAsBatch(cmp);
    const dl = await e.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${quoteIdent(e.database)}.dead_letters FINAL`,
    );
    expect(Number(dl[0]?.n)).toBe(0);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
