/**
 * Issue 9, item 2: a broker crash ended `run` with exit code 0 and no error line, and with Kafka
 * unreachable at start `run` hung. Now a Kafka outage is ridden out (consumer paused, /readyz 503, nothing
 * lost) for at most PDM_KAFKA_OUTAGE_MAX_MS; past that bound, and only then, `run` exits non-zero with an
 * error line that names the outage (KAFKA_OUTAGE_TOO_LONG). SIGTERM/SIGINT stay the only ways to exit 0.
 *
 * The broker is SIGKILLed, so this file runs a broker of its own (free ports, data under a temporary
 * directory, the stack's jars; see private-broker.ts), shared by (a) and (b); the shared registry and
 * ClickHouse are used with each test's own subjects, group and database. (c), Kafka down at start, needs
 * no broker: it starts in beforeAll and runs alongside the others.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../src/sink/index.js';
import { freePort } from '../support/stack-env.js';
import {
  assertAlive,
  batchOver,
  createFramer,
  createTestProducer,
  deadLetters,
  fleetEvents,
  messageFor,
  startEngine,
  waitConsumed,
} from './handmade.js';
import { createPrivateBroker, type PrivateBroker } from './private-broker.js';
import {
  cli,
  dropDatabase,
  e2eEnv,
  expectStreamedSameAsBatch,
  predictionCount,
  startEngineProcess,
  type E2eEnv,
  type EngineProcess,
} from './support.js';

const FLEET = { machines: 6, days: 10, startMs: Date.UTC(2026, 3, 1), seed: 29 } as const;
/** Processing time for the batch path (after the fleet: nothing is a future event). */
const NOW = Date.UTC(2026, 5, 1);
/** Longest outage the engine of test (a) rides out: far above the outage it sees. */
const LONG_BOUND_MS = 120_000;
/** The bound of tests (b) and (c), small so that they end quickly. */
const SHORT_BOUND_MS = 15_000;
/** How late after the bound `run` may exit: kafkajs retries ≈ 9 s before it reports a crash, then shutdown. */
const EXIT_SLACK_MS = 15_000;
/** How long the broker of test (a) stays down: past kafkajs's retries, so the engine sees the outage. */
const OUTAGE_MS = 12_000;

interface WatchedRun {
  readonly engine: EngineProcess;
  stderr(): string;
  /** Resolves with the exit code and when the process exited. */
  readonly ended: Promise<{ code: number | null; atMs: number }>;
}

/** `run` with its stderr kept apart: that is where the logger writes, and where the error line must be. */
function watchedRun(env: Record<string, string>, engine = startEngineProcess(env)): WatchedRun {
  let stderr = '';
  engine.proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    engine,
    stderr: () => stderr,
    ended: engine.exited.then((code) => ({ code, atMs: Date.now() })),
  };
}

/** The log records of at least `minLevel` (pino: 40 warn, 50 error) in a process's output, parsed. */
function logLines(text: string, minLevel: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (typeof rec['level'] === 'number' && rec['level'] >= minLevel) out.push(rec);
    } catch {
      // Not a log record (a stack trace's continuation): not an error line either.
    }
  }
  return out;
}

const errorLines = (text: string) => logLines(text, 50);

/** The exit of `run`, or 'still running' when it has not exited by `deadlineMs` (epoch ms). */
async function exitBy(
  run: WatchedRun,
  deadlineMs: number,
): Promise<{ code: number | null; atMs: number } | 'still running'> {
  const timer = sleep(Math.max(0, deadlineMs - Date.now())).then(() => 'still running' as const);
  return Promise.race([run.ended, timer]);
}

async function readyzStatus(e: E2eEnv): Promise<number | undefined> {
  return fetch(`http://127.0.0.1:${e.httpPort}/readyz`, { signal: AbortSignal.timeout(2_000) })
    .then((r) => r.status)
    .catch(() => undefined);
}

/**
 * Polls /readyz every 500 ms until `untilMs` (epoch ms) or until `run` exits, whichever comes first:
 * the statuses seen (undefined = no answer) and whether the process was still running at the end.
 */
async function watchOutage(
  e: E2eEnv,
  run: WatchedRun,
  untilMs: number,
): Promise<{ readyz: (number | undefined)[]; alive: boolean }> {
  const readyz = new Set<number | undefined>();
  const alive = () => run.engine.proc.exitCode === null && run.engine.proc.signalCode === null;
  while (alive() && Date.now() < untilMs) {
    readyz.add(await readyzStatus(e));
    await sleep(500);
  }
  return { readyz: [...readyz], alive: alive() };
}

/** Physical rows (no FINAL: unmerged copies count) and distinct (machine, bucket) keys of a table. */
async function physicalAndLogical(e: E2eEnv, table: string): Promise<{ physical: number; logical: number }> {
  const rows = await e.ch.query<{ physical: string; logical: string }>(
    `SELECT toString(count()) AS physical, toString(uniqExact(machine_id, bucket_ts)) AS logical
FROM ${quoteIdent(e.database)}.${quoteIdent(table)}`,
  );
  return { physical: Number(rows[0]?.physical), logical: Number(rows[0]?.logical) };
}

/** What was written before the kill: last bucket (s) per machine and the latest scored_at. */
async function writtenSoFar(e: E2eEnv): Promise<{ lastBucket: Map<number, number>; lastScoredAt: string }> {
  const db = quoteIdent(e.database);
  const last = await e.ch.query<{ m: number | string; b: number | string }>(
    `SELECT machine_id AS m, toUInt32(max(bucket_ts)) AS b FROM ${db}.predictions GROUP BY machine_id`,
  );
  const at = await e.ch.query<{ t: string }>(`SELECT toString(max(scored_at)) AS t FROM ${db}.predictions`);
  return { lastBucket: new Map(last.map((r) => [Number(r.m), Number(r.b)])), lastScoredAt: at[0]?.t ?? '' };
}

let privateBroker: PrivateBroker | undefined;

function ownBroker(): PrivateBroker {
  if (privateBroker === undefined) throw new Error('no private broker (beforeAll failed)');
  return privateBroker;
}
const envs: E2eEnv[] = [];
const runs: WatchedRun[] = [];
/** Test (c): `run` against a port nothing listens on, started before everything else. */
let downAtStart: { run: WatchedRun; brokers: string; startedAtMs: number } | undefined;

async function env(extra: Record<string, string>): Promise<E2eEnv> {
  const e = await e2eEnv(extra);
  envs.push(e);
  return e;
}

beforeAll(async () => {
  privateBroker = await createPrivateBroker();
  const brokers = `127.0.0.1:${await freePort()}`;
  const e = await env({ KAFKA_BROKERS: brokers, PDM_KAFKA_OUTAGE_MAX_MS: String(SHORT_BOUND_MS) });
  const run = watchedRun(e.env);
  runs.push(run);
  downAtStart = { run, brokers, startedAtMs: Date.now() };
  await privateBroker.start();
});

afterAll(async () => {
  // Our broker first, whatever happened (the shared one is never signalled: see private-broker.ts).
  await privateBroker?.close();
  for (const r of runs) {
    const p = r.engine.proc;
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGTERM');
    if ((await exitBy(r, Date.now() + 15_000)) === 'still running') p.kill('SIGKILL');
    await r.ended;
  }
  for (const e of envs) await dropDatabase(e);
});

describe('issue 9: broker crash and Kafka outages', () => {
  it('(a) SIGKILL of the broker, back within the bound: engine stays up, output equals the batch path', async () => {
    const broker = ownBroker();
    const e = await env({ KAFKA_BROKERS: broker.brokers, PDM_KAFKA_OUTAGE_MAX_MS: String(LONG_BOUND_MS) });
    await cli(['schemas', 'register'], e.env);
    const events = fleetEvents(FLEET);
    const expected = await batchOver(e, events, NOW);
    const framer = await createFramer(e);
    const messages = events.map((ev) => messageFor(e, framer, ev));
    const run = watchedRun(e.env, await startEngine(e));
    runs.push(run);

    const publish = async (from: number, to: number) => {
      const p = await createTestProducer(e);
      await p.send(messages.slice(from, to), 1_000);
      await p.close();
    };
    /** Down for OUTAGE_MS after a SIGKILL (ridden out: alive, /readyz 503), then the same broker again. */
    const rideOut = async (what: string, killedAtMs: number) => {
      const outage = await watchOutage(e, run, killedAtMs + OUTAGE_MS);
      assertAlive(run.engine);
      expect(outage.readyz, `${what}: /readyz while the broker was down`).toContain(503);
      await broker.start();
      return `${what}: /readyz ${outage.readyz.join(', ')}, broker serving again after ${Date.now() - killedAtMs} ms`;
    };

    // Crash 1, mid-stream. The fleet is published in small acknowledged chunks while the engine consumes
    // it, and the broker is killed right after a chunk's acknowledgement once predictions flow: the engine
    // is then fetching, scoring or committing (the commit of the batch in hand fails), while no produce
    // request is in flight (a resent chunk would be a duplicate).
    const producer = await createTestProducer(e);
    let sent = 0;
    const CHUNK = 30;
    for (;;) {
      await producer.send(messages.slice(sent, sent + CHUNK), CHUNK);
      sent = Math.min(messages.length, sent + CHUNK);
      if (sent >= messages.length / 4 && (await predictionCount(e)) > 0) break;
      if (sent >= messages.length) throw new Error('no prediction while the whole fleet was published');
      await sleep(200); // ≈ 150 records/s: the engine keeps up, so predictions flow during the publish
    }
    await broker.kill();
    const firstKillAtMs = Date.now();
    await producer.close().catch(() => undefined); // nothing of it is pending; its broker is gone
    const atKill = await writtenSoFar(e);
    const predictionsAtKill = await predictionCount(e);
    const first = await rideOut('mid-stream', firstKillAtMs);

    // Crash 2, idle: everything so far consumed and committed, the session only heartbeating (the path
    // on which kafkajs stops its consumer and reports the crash afterwards). The last part follows it.
    const idleCut = Math.floor(messages.length * 0.9);
    await publish(sent, idleCut);
    await waitConsumed(e, run.engine, 120_000);
    await broker.kill();
    const second = await rideOut('idle', Date.now());
    const backAtMs = Date.now();
    await publish(idleCut, messages.length);
    await waitConsumed(e, run.engine, 120_000);
    assertAlive(run.engine);
    console.info(
      `(a) first kill after ${sent} of ${messages.length} messages (${predictionsAtKill} of ${expected.size} predictions); ` +
        `${first}; ${second}; all consumed ${Date.now() - backAtMs} ms later; warnings: ` +
        [...new Set(logLines(run.stderr(), 40).map((l) => String(l['msg'])))].join(' | '),
    );

    expect((await deadLetters(e)).map((l) => `${l.reason} ${l.topic} ${l.error}`)).toEqual([]);
    await expectStreamedSameAsBatch(e, expected);
    // Nothing written twice: the sessions after the outage re-planned the restore from ClickHouse and
    // suppressed what was there, instead of replaying it (FINAL alone would hide a second copy). A
    // re-written prediction has a later scored_at, so this holds even after ClickHouse merged the copies.
    const rewritten = await e.ch.query<{ m: number | string; b: number | string }>(
      `SELECT machine_id AS m, toUInt32(bucket_ts) AS b FROM ${quoteIdent(e.database)}.predictions
WHERE toString(scored_at) > {at:String}`,
      { at: atKill.lastScoredAt },
    );
    expect(
      rewritten.filter(
        (r) => Number(r.b) <= (atKill.lastBucket.get(Number(r.m)) ?? Number.NEGATIVE_INFINITY),
      ),
    ).toEqual([]);
    for (const table of ['predictions', 'feature_vectors']) {
      const rows = await physicalAndLogical(e, table);
      expect(rows.physical, `${table}: physical rows`).toBe(rows.logical);
    }

    run.engine.proc.kill('SIGTERM');
    expect((await run.ended).code).toBe(0);
  });

  it('(b) broker SIGKILLed and kept down past the bound: non-zero exit, after the bound, with an error line', async () => {
    const broker = ownBroker();
    // (a) leaves it running, unless it failed during an outage.
    if (!(await broker.running())) await broker.start();
    const e = await env({ KAFKA_BROKERS: broker.brokers, PDM_KAFKA_OUTAGE_MAX_MS: String(SHORT_BOUND_MS) });
    await cli(['schemas', 'register'], e.env);
    const run = watchedRun(e.env, await startEngine(e));
    runs.push(run);

    await broker.kill();
    const killedAtMs = Date.now();
    const deadlineMs = killedAtMs + SHORT_BOUND_MS + EXIT_SLACK_MS;
    const outage = await watchOutage(e, run, deadlineMs);
    const end = await exitBy(run, deadlineMs);
    if (end === 'still running') {
      throw new Error(
        `run still running ${SHORT_BOUND_MS + EXIT_SLACK_MS} ms after the broker was killed (bound ${SHORT_BOUND_MS} ms); stderr tail:\n${run.stderr().slice(-2000)}`,
      );
    }
    const elapsedMs = end.atMs - killedAtMs;
    console.info(`(b) run exited ${end.code} ${elapsedMs} ms after the broker was killed`);
    expect(end.code, run.stderr().slice(-2000)).not.toBe(0);
    expect(end.code).not.toBeNull(); // an exit, not a signal
    // Not before the bound: the outage is timed from the last heartbeat (every 3 s) before the kill.
    expect(elapsedMs, run.stderr().slice(-2000)).toBeGreaterThanOrEqual(SHORT_BOUND_MS - 3_000);
    const errors = errorLines(run.stderr());
    expect(
      errors.map((l) => l['code']),
      run.stderr().slice(-2000),
    ).toContain('KAFKA_OUTAGE_TOO_LONG');
    // Until then the outage was ridden out, and /readyz said so.
    expect(outage.readyz).toContain(503);
  });

  it('(c) Kafka unreachable at start: retried up to the bound, then a clear error and a non-zero exit', async () => {
    if (downAtStart === undefined) throw new Error('test (c) was not started');
    const { run, brokers, startedAtMs } = downAtStart;
    const end = await exitBy(run, startedAtMs + SHORT_BOUND_MS + EXIT_SLACK_MS);
    if (end === 'still running') {
      throw new Error(
        `run still running ${SHORT_BOUND_MS + EXIT_SLACK_MS} ms after it started with Kafka down (bound ${SHORT_BOUND_MS} ms); stderr tail:\n${run.stderr().slice(-2000)}`,
      );
    }
    console.info(`(c) run exited ${end.code} ${end.atMs - startedAtMs} ms after it started`);
    expect(end.code, run.stderr().slice(-2000)).not.toBe(0);
    expect(end.code).not.toBeNull();
    expect(end.atMs - startedAtMs).toBeGreaterThanOrEqual(SHORT_BOUND_MS);
    // One error line that says why: the outage, with the broker that could not be reached.
    const why = errorLines(run.stderr()).find((l) => l['code'] === 'KAFKA_OUTAGE_TOO_LONG');
    expect(why, run.stderr().slice(-2000)).toBeDefined();
    expect(String(why?.['err'])).toContain(brokers);
  });
});
