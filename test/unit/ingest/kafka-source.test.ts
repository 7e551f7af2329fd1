/**
 * Exit paths of the Kafka source (issue 9, item 2): `done` resolves only after our stop(); a kafkajs crash
 * (STOP then CRASH), a handler exception or an outage longer than the bound reject it with the reason.
 * Commits (house style rule 7): a taken batch's offset is committed only after its `acked` resolved and
 * after the commits of the batches taken before it; stop() commits what was acknowledged before leaving.
 */
import { deferred } from '../pipeline/settle.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  createKafkaSource,
  type BatchOutcome,
  type KafkaSourceOptions,
  type RecordSourceHandlers,
  type SourceHealth,
} from '../../../src/ingest/index.js';
import { ConfigError, PdmError, TransientError } from '../../../src/shared/errors.js';
import { capturingLogger, createFakeKafka, settle, type FakeKafka } from './fake-kafka.js';

/** The handler took the batch and everything it produced is acknowledged already. */
const taken = (): Promise<BatchOutcome> => Promise.resolve({ taken: true, acked: Promise.resolve() });
const notTaken = (): Promise<BatchOutcome> => Promise.resolve({ taken: false });

/** Whether `p` settled within a few event-loop turns. */
async function settledSoon(p: Promise<unknown>, ms = 5): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle(ms);
  return settled;
}

const kafka = loadConfig({}).kafka;

/** A kafkajs-like connection error: retriable, as kafkajs marks it. */
function connectionError(): Error {
  const e = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9');
  e.name = 'KafkaJSConnectionError';
  (e as Error & { retriable: boolean }).retriable = true;
  return e;
}

function setup(extra: Partial<KafkaSourceOptions> = {}) {
  const fake: FakeKafka = createFakeKafka();
  const { log, lines } = capturingLogger();
  const health: SourceHealth[] = [];
  const source = createKafkaSource({
    kafka,
    topics: ['t'],
    log,
    client: fake.client,
    outageMaxMs: 60_000,
    retryInitialMs: 5,
    retryMaxMs: 10,
    onHealth: (h) => health.push(h),
    ...extra,
  });
  const assigned: number[] = [];
  let onBatch: RecordSourceHandlers['onBatch'] = taken;
  const handlers: RecordSourceHandlers = {
    onAssigned: (tps) => {
      assigned.push(tps.length);
      return Promise.resolve();
    },
    onBatch: (b, c) => onBatch(b, c),
  };
  // Every run joins the group at once, like a reachable broker.
  fake.onRun = (c) => {
    c.join({ t: [0] });
  };
  let outcome: 'pending' | 'resolved' | 'rejected' = 'pending';
  let reason: unknown;
  source.done.then(
    () => (outcome = 'resolved'),
    (err: unknown) => {
      outcome = 'rejected';
      reason = err;
    },
  );
  return {
    fake,
    source,
    handlers,
    lines,
    health,
    assigned,
    setOnBatch: (f: RecordSourceHandlers['onBatch']) => (onBatch = f),
    outcome: () => outcome,
    reason: () => reason,
  };
}

describe('Kafka source exit paths', () => {
  it('resolves done only after stop(), which leaves the group', async () => {
    const t = setup();
    await t.source.start(t.handlers);
    expect(t.source.health().state).toBe('running');
    expect(t.assigned).toEqual([1]);
    await settle(5);
    expect(t.outcome()).toBe('pending');
    await t.source.stop();
    await settle();
    expect(t.outcome()).toBe('resolved');
    expect(t.fake.consumers[0]?.disconnects).toBe(1);
    expect(t.source.health().state).toBe('stopped');
  });

  it('a kafkajs crash (STOP, then CRASH) on a non-retryable error rejects done with that error', async () => {
    const t = setup();
    await t.source.start(t.handlers);
    const err = new Error('This server does not support the requested API');
    err.name = 'KafkaJSServerDoesNotSupportApiKey';
    t.fake.consumers[0]?.crash(err);
    await settle(5);
    expect(t.outcome()).toBe('rejected');
    expect((t.reason() as PdmError).code).toBe('KAFKA_ERROR');
    expect((t.reason() as Error).message).toContain('does not support the requested API');
    expect(t.fake.consumers).toHaveLength(1);
  });

  it('STOP alone (the first half of the crash path) does not end the source', async () => {
    const t = setup();
    await t.source.start(t.handlers);
    t.fake.consumers[0]?.emitStop();
    await settle(50);
    expect(t.outcome()).toBe('pending');
    expect(t.fake.consumers).toHaveLength(1);
    // …and the CRASH that follows decides: here a retryable one, so a new session.
    t.fake.consumers[0]?.crash(connectionError());
    await settle(50);
    expect(t.fake.consumers).toHaveLength(2);
    expect(t.outcome()).toBe('pending');
    await t.source.stop();
    expect(t.outcome()).toBe('resolved');
  });

  it('a retryable crash opens a new session that re-joins (the engine re-plans its restore)', async () => {
    const t = setup();
    await t.source.start(t.handlers);
    t.fake.consumers[0]?.crash(connectionError());
    await settle(50);
    expect(t.fake.consumers.length).toBe(2);
    expect(t.assigned).toEqual([1, 1]);
    expect(t.source.health().state).toBe('running');
    expect(t.health.map((h) => h.state)).toEqual(['running', 'unavailable', 'running']);
    expect(t.lines().some((l) => l.level === 40 && l.msg.includes('Kafka unavailable'))).toBe(true);
    expect(t.outcome()).toBe('pending');
    await t.source.stop();
    expect(t.outcome()).toBe('resolved');
  });

  it('a handler exception is logged, nothing is committed, and done rejects with it', async () => {
    const t = setup();
    t.setOnBatch(() => Promise.reject(new TypeError('boom in the engine')));
    await t.source.start(t.handlers);
    await t.fake.consumers[0]?.deliver('t', 0, [5, 6, 7]);
    await settle(5);
    expect(t.outcome()).toBe('rejected');
    expect((t.reason() as Error).message).toContain('boom in the engine');
    expect(t.fake.consumers[0]?.commits).toEqual([]);
    const line = t.lines().find((l) => l.level === 50);
    expect(line?.msg).toContain('handler failed');
    expect(line).toMatchObject({ topic: 't', partition: 0, firstOffset: '5', lastOffset: '7' });
    expect(String(line?.['stack'])).toContain('TypeError');
    // The handler is not called again on the same batch (kafkajs would retry it if the error escaped).
    expect(t.fake.consumers).toHaveLength(1);
  });

  it('a batch the handler did not take is neither committed nor chained', async () => {
    const t = setup();
    t.setOnBatch(notTaken);
    await t.source.start(t.handlers);
    await t.fake.consumers[0]?.deliver('t', 0, [3, 4]);
    await settle();
    expect(t.fake.consumers[0]?.commits).toEqual([]);
    t.setOnBatch(taken);
    await t.fake.consumers[0]?.deliver('t', 0, [3, 4]);
    await settle();
    expect(t.fake.consumers[0]?.commits).toEqual([{ topic: 't', partition: 0, offset: '5' }]);
    await t.source.stop();
    expect(t.fake.consumers[0]?.commits).toHaveLength(1);
  });

  it('a configuration error from the assignment handler rejects done at once', async () => {
    const t = setup();
    const handlers: RecordSourceHandlers = {
      onAssigned: () => Promise.reject(new ConfigError('topics must have the same partition count')),
      onBatch: taken,
    };
    await t.source.start(handlers);
    await settle(5);
    expect(t.outcome()).toBe('rejected');
    expect(t.reason()).toBeInstanceOf(ConfigError);
  });

  it('a transient handler failure (Kafka gone during a batch) restarts the session instead', async () => {
    const t = setup();
    let calls = 0;
    t.setOnBatch(() => {
      calls++;
      return calls === 1
        ? Promise.reject(
            new TransientError('end offsets: broker gone', { code: 'KAFKA_UNAVAILABLE', stage: 'ingest' }),
          )
        : taken();
    });
    await t.source.start(t.handlers);
    await t.fake.consumers[0]?.deliver('t', 0, [0]);
    await settle(50);
    expect(t.fake.consumers).toHaveLength(2);
    expect(t.fake.consumers[0]?.commits).toEqual([]);
    await t.fake.consumers[1]?.deliver('t', 0, [0]);
    expect(t.fake.consumers[1]?.commits).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    expect(t.outcome()).toBe('pending');
    await t.source.stop();
  });

  it('Kafka unreachable at start: a warn line per attempt, then KAFKA_OUTAGE_TOO_LONG after the bound', async () => {
    const t = setup({ outageMaxMs: 80, retryInitialMs: 10, retryMaxMs: 20 });
    t.fake.connectError = connectionError();
    const started = Date.now();
    await t.source.start(t.handlers);
    await settle();
    expect(t.outcome()).toBe('rejected');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(80);
    expect(elapsed).toBeLessThan(1_000);
    const err = t.reason() as PdmError;
    expect(err.code).toBe('KAFKA_OUTAGE_TOO_LONG');
    expect(err.message).toContain('PDM_KAFKA_OUTAGE_MAX_MS=80');
    expect(err.message).toContain('ECONNREFUSED');
    const warns = t.lines().filter((l) => l.level === 40);
    expect(warns.length).toBe(t.fake.consumers.length - 1);
    expect(warns.length).toBeGreaterThanOrEqual(3);
    expect(warns.map((w) => w['attempt'])).toEqual(warns.map((_, i) => i + 1));
    expect(t.health.at(-1)?.state).toBe('failed');
  });

  it('Kafka back within the bound: consuming, the outage is cleared', async () => {
    const t = setup({ outageMaxMs: 10_000 });
    t.fake.connectError = connectionError();
    const starting = t.source.start(t.handlers);
    await settle(30);
    expect(t.source.health().state).toBe('unavailable');
    t.fake.connectError = undefined;
    await starting;
    expect(t.source.health().state).toBe('running');
    expect(t.outcome()).toBe('pending');
    await t.source.stop();
    expect(t.outcome()).toBe('resolved');
  });

  it('stop() during the backoff between attempts resolves done (SIGTERM during an outage exits 0)', async () => {
    const t = setup({ retryInitialMs: 60_000, retryMaxMs: 60_000 });
    t.fake.connectError = connectionError();
    const starting = t.source.start(t.handlers);
    await settle(10);
    expect(t.source.health().state).toBe('unavailable');
    await t.source.stop();
    await starting;
    await settle();
    expect(t.outcome()).toBe('resolved');
  });

  it('a non-retryable start failure (e.g. bad credentials) rejects without retrying', async () => {
    const t = setup();
    const err = new Error('SASL PLAIN authentication failed');
    err.name = 'KafkaJSSASLAuthenticationError';
    t.fake.connectError = err;
    await t.source.start(t.handlers);
    await settle();
    expect(t.outcome()).toBe('rejected');
    expect(t.fake.consumers).toHaveLength(1);
    expect((t.reason() as PdmError).retryable).toBe(false);
  });
});

describe('Kafka source commits (BatchOutcome)', () => {
  it('commits the offset after a taken batch only once its acked resolved', async () => {
    const t = setup();
    const acked = deferred();
    t.setOnBatch(() => Promise.resolve({ taken: true, acked: acked.promise }));
    await t.source.start(t.handlers);
    // The handler resolved at once: kafkajs is free to fetch on while the outputs are written.
    expect(
      await settledSoon(
        t.fake.consumers[0]?.deliver('t', 0, [3, 4]) ?? Promise.reject(new Error('no consumer')),
      ),
    ).toBe(true);
    await settle(5);
    expect(t.fake.consumers[0]?.commits).toEqual([]);
    acked.resolve();
    await settle();
    expect(t.fake.consumers[0]?.commits).toEqual([{ topic: 't', partition: 0, offset: '5' }]);
    await t.source.stop();
  });

  it('never commits a batch before the batches taken before it, whatever order their acks resolve in', async () => {
    const t = setup();
    const acks = [deferred(), deferred(), deferred()];
    let n = 0;
    t.setOnBatch(() => {
      const acked = acks[n++]?.promise ?? Promise.resolve();
      return Promise.resolve({ taken: true, acked });
    });
    await t.source.start(t.handlers);
    const c = t.fake.consumers[0];
    await c?.deliver('t', 0, [0, 1]);
    await c?.deliver('t', 0, [2]);
    await c?.deliver('t', 0, [3, 4, 5]);
    acks[2]?.resolve();
    acks[1]?.resolve();
    await settle(5);
    expect(c?.commits).toEqual([]);
    acks[0]?.resolve();
    await settle(5);
    expect(c?.commits.map((x) => x.offset)).toEqual(['2', '3', '6']);
    await t.source.stop();
  });

  it('a rejected acked (non-retryable) ends the source without committing that batch or any later one', async () => {
    const t = setup();
    const failure = new PdmError('insert: ClickHouse error 117', { code: 'CLICKHOUSE_117', stage: 'sink' });
    const first = deferred();
    const acks = [deferred(), first, deferred()];
    let n = 0;
    t.setOnBatch(() => Promise.resolve({ taken: true, acked: acks[n++]?.promise ?? Promise.resolve() }));
    await t.source.start(t.handlers);
    const c = t.fake.consumers[0];
    await c?.deliver('t', 0, [0]);
    await c?.deliver('t', 0, [1]);
    await c?.deliver('t', 0, [2]);
    acks[0]?.resolve();
    acks[2]?.resolve();
    await settle(5);
    expect(c?.commits.map((x) => x.offset)).toEqual(['1']);
    first.reject(failure);
    await settle(5);
    expect(t.outcome()).toBe('rejected');
    expect(t.reason()).toBe(failure);
    expect(c?.commits.map((x) => x.offset)).toEqual(['1']);
    const line = t.lines().find((l) => l.level === 50);
    expect(line?.msg).toContain('handler failed');
    expect(line).toMatchObject({ topic: 't', partition: 0, firstOffset: '1', lastOffset: '1' });
    expect(t.fake.consumers).toHaveLength(1);
  });

  it('a rejected acked (retryable) ends the session uncommitted and opens a new one', async () => {
    const t = setup();
    const acked = deferred();
    t.setOnBatch(() => Promise.resolve({ taken: true, acked: acked.promise }));
    await t.source.start(t.handlers);
    await t.fake.consumers[0]?.deliver('t', 0, [0]);
    acked.reject(
      new TransientError('ClickHouse unreachable', { code: 'CLICKHOUSE_UNAVAILABLE', stage: 'sink' }),
    );
    await settle(50);
    expect(t.fake.consumers).toHaveLength(2);
    expect(t.fake.consumers[0]?.commits).toEqual([]);
    expect(t.fake.consumers[0]?.disconnects).toBe(1);
    expect(t.outcome()).toBe('pending');
    t.setOnBatch(taken);
    await t.fake.consumers[1]?.deliver('t', 0, [0]);
    await settle();
    expect(t.fake.consumers[1]?.commits).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    await t.source.stop();
    expect(t.outcome()).toBe('resolved');
  });

  it('stop() pauses, waits for the acks of taken batches, commits them, then disconnects', async () => {
    const t = setup();
    const acks = [deferred(), deferred()];
    let n = 0;
    t.setOnBatch(() => Promise.resolve({ taken: true, acked: acks[n++]?.promise ?? Promise.resolve() }));
    await t.source.start(t.handlers);
    const c = t.fake.consumers[0];
    await c?.deliver('t', 0, [0, 1]);
    await c?.deliver('t', 0, [2]);
    const stopping = t.source.stop();
    expect(await settledSoon(stopping)).toBe(false);
    expect(c?.disconnects).toBe(0);
    acks[0]?.resolve();
    expect(await settledSoon(stopping)).toBe(false);
    acks[1]?.resolve();
    await stopping;
    expect(c?.journal.filter((j) => !j.startsWith('resume'))).toEqual([
      'pause t[0]', // GROUP_JOIN: held while the assignment handler runs
      'pause t[0]', // stop()
      'commit t[0]@2',
      'commit t[0]@3',
      'disconnect',
    ]);
    expect(t.outcome()).toBe('resolved');
  });

  it('a partition the handler paused during its restore stays paused when the source resumes the rest', async () => {
    const t = setup();
    t.fake.onRun = (c) => {
      c.join({ t: [0, 1, 2] });
    };
    t.handlers.onAssigned = () => {
      // side-first: telemetry of partition 1 waits for its side topics from the first fetch on
      t.source.pause([{ topic: 't', partition: 1 }]);
      return Promise.resolve();
    };
    await t.source.start(t.handlers);
    await settle(5);
    const c = t.fake.consumers[0];
    expect(c?.journal).toEqual(['pause t[0,1,2]', 'pause t[1]', 'resume t[0,2]']);
    t.source.resume([{ topic: 't', partition: 1 }]);
    expect(c?.journal.at(-1)).toBe('resume t[1]');
    await t.source.stop();
  });

  it('stop() waits for the handler in progress, then for its acked, and commits it', async () => {
    const t = setup();
    const handled = deferred<BatchOutcome>();
    const acked = deferred();
    t.setOnBatch(() => handled.promise);
    await t.source.start(t.handlers);
    const c = t.fake.consumers[0];
    const delivered = c?.deliver('t', 0, [7, 8]);
    await settle();
    const stopping = t.source.stop();
    expect(await settledSoon(stopping)).toBe(false);
    handled.resolve({ taken: true, acked: acked.promise });
    await delivered;
    expect(await settledSoon(stopping)).toBe(false);
    expect(c?.disconnects).toBe(0);
    acked.resolve();
    await stopping;
    expect(c?.journal.slice(-2)).toEqual(['commit t[0]@9', 'disconnect']);
  });

  it('after stop() no new batch is handed to the handler', async () => {
    const t = setup();
    let calls = 0;
    t.setOnBatch(() => {
      calls++;
      return taken();
    });
    await t.source.start(t.handlers);
    const c = t.fake.consumers[0];
    await t.source.stop();
    await c?.deliver('t', 0, [0]);
    expect(calls).toBe(0);
    expect(c?.commits).toEqual([]);
  });
});
