/**
 * One kafkajs consumer "session" of the Kafka source (kafka-source.ts): connect, subscribe, run, hand each
 * batch to the handlers, commit it after its outputs are acknowledged, and end with why. kafka-source.ts
 * decides what happens after an end (the outage policy); nothing here outlives its session.
 */
import type { Consumer, KafkaMessage } from 'kafkajs';
import { PdmError, TransientError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { kafkaError } from './kafka-errors.js';
import { FetchedRecord } from './kafkajs-fetch-decode.js';
import type { BatchOutcome, RecordSourceHandlers, SourceBatch, TopicPartition } from './record-source.js';
import type { SourceMessage } from './types.js';

/** The parts of a kafkajs consumer and admin the source uses (tests substitute fakes). */
export type SourceConsumer = Pick<
  Consumer,
  | 'connect'
  | 'disconnect'
  | 'subscribe'
  | 'run'
  | 'seek'
  | 'pause'
  | 'resume'
  | 'commitOffsets'
  | 'on'
  | 'events'
>;

/** What a session needs from the source that opens it. */
export interface SessionContext {
  /** A fresh consumer, used by this session only. */
  readonly consumer: SourceConsumer;
  readonly topics: readonly string[];
  /** Where a group without committed offsets starts. */
  readonly fromBeginning: boolean;
  readonly log: Logger;
  /** True once the source's stop() began: nothing new is taken. */
  isStopping(): boolean;
  /** The session consumes (its assignment is restored): the source is healthy again. */
  markHealthy(): void;
}

interface BatchCoordinates {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string | null;
  readonly lastOffset: string;
}

export type SessionEnd = { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: PdmError };

export interface Session {
  readonly consumer: SourceConsumer;
  /**
   * Last sign of a working broker: when the session started connecting, then every fetch response. An
   * outage is timed from the failed session's last sign of life.
   */
  aliveAtMs: number;
  assigned: TopicPartition[];
  /**
   * Partitions the handler paused (`topic:partition`) and has not resumed: the resume after an
   * assignment's restore leaves them paused (the handler may pause some while it restores).
   */
  readonly held: Set<string>;
  /** The batch handler in progress (settled when none). */
  handling: Promise<void>;
  /** Commits of taken batches, chained in the order the batches were taken. */
  commits: Promise<void>;
  end: SessionEnd | undefined;
  readonly ended: Promise<SessionEnd>;
  finish(end: SessionEnd): void;
}

function toSourceMessage(topic: string, partition: number, m: KafkaMessage): SourceMessage {
  // Decoded by kafkajs-fetch-decode.ts: already a SourceMessage once it knows where it came from.
  if (m instanceof FetchedRecord) return m.from(topic, partition);
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    timestampMs: Number(m.timestamp),
    headers: m.headers,
  };
}

/** kafkajs emits STOP before CRASH; a STOP without CRASH after this long is an unexplained end. */
const CRASH_AFTER_STOP_MS = 10_000;

export function openSession(ctx: SessionContext, handlers: RecordSourceHandlers): Session {
  const { consumer, log } = ctx;
  let finishEnded: ((end: SessionEnd) => void) | undefined;
  const ended = new Promise<SessionEnd>((resolve) => {
    finishEnded = resolve;
  });
  const s: Session = {
    consumer,
    aliveAtMs: Date.now(),
    assigned: [],
    held: new Set(),
    handling: Promise.resolve(),
    commits: Promise.resolve(),
    end: undefined,
    ended,
    finish(end) {
      if (s.end !== undefined) return;
      s.end = end;
      finishEnded?.(end);
    },
  };
  const fail = (err: unknown, what: string) => {
    if (s.end === undefined && !ctx.isStopping()) s.finish({ kind: 'failed', error: kafkaError(err, what) });
  };
  // Time of the latest fetch response: a batch being processed was fetched at or before it.
  let lastFetchAt = 0;
  consumer.on(consumer.events.FETCH, (e) => {
    lastFetchAt = e.timestamp;
    s.aliveAtMs = e.timestamp;
  });
  // While a batch is held (a sink or the registry down) nothing is fetched, but heartbeats continue.
  consumer.on(consumer.events.HEARTBEAT, (e) => {
    s.aliveAtMs = e.timestamp;
  });
  consumer.on(consumer.events.CRASH, (e) => {
    fail(e.payload.error, 'Kafka consumer crashed');
  });
  consumer.on(consumer.events.STOP, () => {
    if (s.end !== undefined || ctx.isStopping()) return;
    // Not ours: kafkajs's crash path, whose CRASH event (with the reason) follows.
    setTimeout(() => {
      fail(
        new TransientError('Kafka consumer stopped without reporting a crash', {
          code: 'KAFKA_UNAVAILABLE',
          stage: 'ingest',
        }),
        'Kafka consumer stopped',
      );
    }, CRASH_AFTER_STOP_MS).unref();
  });
  // Seeks must be issued after run(); GROUP_JOIN fires after each rebalance with our new assignment.
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assigned: TopicPartition[] = [];
    for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
      for (const partition of parts) assigned.push({ topic, partition });
    }
    s.assigned = assigned;
    log.info({ assigned: assigned.length, memberId: e.payload.memberId }, 'partitions assigned');
    // Hold fetching while the handler plans the restore and seeks; resume from the seeked offsets, except
    // what the handler paused meanwhile (a new assignment starts with nothing held).
    s.held.clear();
    consumer.pause(groupByTopic(assigned));
    handlers.onAssigned(assigned).then(
      () => {
        if (s.end !== undefined) return;
        consumer.resume(groupByTopic(assigned.filter((tp) => !s.held.has(`${tp.topic}:${tp.partition}`))));
        ctx.markHealthy();
      },
      (err: unknown) => {
        if (s.end !== undefined) return;
        const e2 = kafkaError(err, 'partition assignment handling failed');
        logHandlerFailure(log, e2, err, {});
        s.finish({ kind: 'failed', error: e2 });
      },
    );
  });
  const failBatch = (at: BatchCoordinates, err: unknown) => {
    // Not rethrown: kafkajs would retry the handler on the same batch. The session ends instead; nothing
    // of this batch is committed, and the next session (if any) restores from scratch.
    const e = kafkaError(err, `batch handler failed on ${at.topic}[${at.partition}]`);
    logHandlerFailure(log, e, err, { ...at });
    s.finish({ kind: 'failed', error: e });
  };
  /**
   * Commits after the batch's last offset once everything it produced is acknowledged, after the commits
   * of the batches taken before it. Declared outside eachBatch and given plain values: it outlives the
   * batch, whose messages must not stay reachable through its closure until the commit.
   */
  const commitWhenAcked = (at: BatchCoordinates, acked: Promise<void>) => {
    const offset = (BigInt(at.lastOffset) + 1n).toString();
    s.commits = s.commits.then(async () => {
      try {
        await acked;
      } catch (err) {
        failBatch(at, err);
        return;
      }
      if (s.end?.kind === 'failed') return;
      await consumer
        .commitOffsets([{ topic: at.topic, partition: at.partition, offset }])
        .catch((err: unknown) => {
          // A rebalance or a broker gone: kafkajs re-joins or the session ends; the batch is read again
          // by whoever owns the partition then, and its outputs are idempotent.
          log.warn({ ...at, err: errorMessage(err) }, 'offset commit failed; the batch will be read again');
        });
    });
  };
  /**
   * A stop (or a failure) while the consumer was still connecting: its disconnect ran before the
   * connection existed, so the connection is closed here instead of joining the group. Without this a
   * stop during the start (the engine failing to open its model) left a consumer connected and the
   * process never exited.
   */
  const endedWhileStarting = async (): Promise<boolean> => {
    if (s.end === undefined && !ctx.isStopping()) return false;
    await consumer.disconnect().catch((err: unknown) => {
      log.debug({ err: errorMessage(err) }, 'Kafka consumer disconnect after a stop during its start');
    });
    return true;
  };
  (async () => {
    await consumer.connect();
    if (await endedWhileStarting()) return;
    for (const topic of ctx.topics) {
      await consumer.subscribe({ topic, fromBeginning: ctx.fromBeginning });
    }
    if (await endedWhileStarting()) return;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        // After a failure the session is being torn down, and after stop() nothing new is taken: leave
        // batches already fetched unprocessed (not resolved, so never committed).
        if (s.end !== undefined || ctx.isStopping() || batch.isEmpty()) return;
        const sourceBatch: SourceBatch = {
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          fetchedAtMs: lastFetchAt > 0 ? lastFetchAt : Date.now(),
          messages: batch.messages.map((m) => toSourceMessage(batch.topic, batch.partition, m)),
        };
        const at: BatchCoordinates = {
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: batch.firstOffset(),
          lastOffset: batch.lastOffset(),
        };
        const handled = handlers.onBatch(sourceBatch, { heartbeat: () => payload.heartbeat() });
        s.handling = handled.then(
          () => undefined,
          () => undefined,
        );
        let outcome: BatchOutcome;
        try {
          outcome = await handled;
        } catch (err) {
          failBatch(at, err);
          return;
        }
        if (!outcome.taken) return;
        // Taken: kafkajs fetches on from after this batch.
        payload.resolveOffset(at.lastOffset);
        commitWhenAcked(at, outcome.acked);
      },
    });
    await endedWhileStarting();
  })().catch((err: unknown) => {
    fail(err, 'Kafka consumer could not start');
  });
  return s;
}

function logHandlerFailure(
  log: Logger,
  e: PdmError,
  original: unknown,
  where: Record<string, unknown>,
): void {
  if (e.retryable) {
    log.warn({ ...where, code: e.code, err: e.message }, 'transient failure while handling Kafka input');
    return;
  }
  const stack = original instanceof Error && !(original instanceof PdmError) ? original.stack : undefined;
  log.error(
    { ...where, code: e.code, err: e.message, ...(stack === undefined ? {} : { stack }) },
    'handler failed; stopping the consumer without committing the batch',
  );
}

export function groupByTopic(tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const tp of tps) {
    const list = m.get(tp.topic) ?? [];
    list.push(tp.partition);
    m.set(tp.topic, list);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}
