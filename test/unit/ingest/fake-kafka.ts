/**
 * A scripted stand-in for the kafkajs consumer and admin the Kafka source drives: events are emitted the
 * way kafkajs 2.2.4 does (its crash path emits STOP, then CRASH), batches are handed to `eachBatch` by the
 * test, and every commit is recorded.
 */
import { Writable } from 'node:stream';
import type { ConsumerConfig, ConsumerRunConfig, EachBatchPayload } from 'kafkajs';
import { pino, type Logger } from 'pino';
import type { SourceAdmin, SourceClient, SourceConsumer } from '../../../src/ingest/index.js';

const EVENTS = {
  FETCH: 'consumer.fetch',
  HEARTBEAT: 'consumer.heartbeat',
  GROUP_JOIN: 'consumer.group_join',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
} as const;

export interface FakeConsumer {
  /** Index of this consumer among those the client created (one per source session). */
  readonly index: number;
  readonly config: ConsumerConfig;
  readonly commits: { topic: string; partition: number; offset: string }[];
  readonly seeks: { topic: string; partition: number; offset: string }[];
  disconnects: number;
  /** pause, resume, commit and disconnect calls in order, e.g. `pause t[0]`, `commit t[0]@5`, `disconnect`. */
  readonly journal: string[];
  /** Emits GROUP_JOIN with this assignment (what kafkajs does after joining). */
  join(assignment: Record<string, number[]>): void;
  /** kafkajs's crash path: STOP, then CRASH with the error. */
  crash(error: Error): void;
  /** Only the STOP event (the first half of the crash path). */
  emitStop(): void;
  /** Hands a batch to the source's eachBatch; resolves when it returned. */
  deliver(topic: string, partition: number, offsets: readonly number[]): Promise<void>;
}

export interface FakeKafka {
  readonly client: SourceClient;
  readonly consumers: FakeConsumer[];
  /** How the next consumers' connect() behaves: resolve, or reject with this error. */
  connectError: Error | undefined;
  /** Called when a consumer's run() starts (after connect and subscribe). */
  onRun: ((c: FakeConsumer) => void) | undefined;
}

type Listener = (event: { type: string; id: number; timestamp: number; payload: unknown }) => void;

export function createFakeKafka(): FakeKafka {
  const consumers: FakeConsumer[] = [];
  const fake: FakeKafka = {
    consumers,
    connectError: undefined,
    onRun: undefined,
    client: {
      consumer(config) {
        const listeners = new Map<string, Listener[]>();
        let eachBatch: ConsumerRunConfig['eachBatch'];
        let running = false;
        const emit = (type: string, payload: unknown) => {
          for (const l of listeners.get(type) ?? []) l({ type, id: 0, timestamp: Date.now(), payload });
        };
        const c: FakeConsumer = {
          index: consumers.length,
          config,
          commits: [],
          seeks: [],
          disconnects: 0,
          journal: [],
          join(assignment) {
            emit(EVENTS.GROUP_JOIN, { memberAssignment: assignment, memberId: `m${c.index}` });
          },
          emitStop() {
            emit(EVENTS.STOP, null);
          },
          crash(error) {
            running = false;
            emit(EVENTS.STOP, null);
            emit(EVENTS.CRASH, { error, groupId: config.groupId, restart: false });
          },
          async deliver(topic, partition, offsets) {
            if (eachBatch === undefined) throw new Error('fake consumer: deliver before run');
            const first = String(offsets[0] ?? 0);
            const last = String(offsets[offsets.length - 1] ?? 0);
            const payload = {
              batch: {
                topic,
                partition,
                highWatermark: String(Number(last) + 1),
                messages: offsets.map((o) => ({
                  offset: String(o),
                  key: Buffer.from('1'),
                  value: Buffer.from('v'),
                  timestamp: '0',
                  attributes: 0,
                  headers: {},
                })),
                isEmpty: () => offsets.length === 0,
                firstOffset: () => first,
                lastOffset: () => last,
              },
              heartbeat: () => Promise.resolve(),
              resolveOffset: () => undefined,
            };
            // Only the fields the source reads are present (it is a test double of a kafkajs payload).
            await eachBatch(payload as unknown as EachBatchPayload);
          },
        };
        consumers.push(c);
        const consumer = {
          events: EVENTS,
          on(name: string, listener: Listener) {
            listeners.set(name, [...(listeners.get(name) ?? []), listener]);
            return () => undefined;
          },
          connect: () =>
            fake.connectError === undefined ? Promise.resolve() : Promise.reject(fake.connectError),
          subscribe: () => Promise.resolve(),
          run(cfg: ConsumerRunConfig) {
            eachBatch = cfg.eachBatch;
            running = true;
            fake.onRun?.(c);
            return Promise.resolve();
          },
          disconnect() {
            c.disconnects++;
            c.journal.push('disconnect');
            if (running) {
              running = false;
              emit(EVENTS.STOP, null);
            }
            return Promise.resolve();
          },
          seek(tp: { topic: string; partition: number; offset: string }) {
            c.seeks.push(tp);
          },
          pause(tps: { topic: string; partitions: number[] }[]) {
            for (const tp of tps) c.journal.push(`pause ${tp.topic}[${tp.partitions.join(',')}]`);
          },
          resume(tps: { topic: string; partitions: number[] }[]) {
            for (const tp of tps) c.journal.push(`resume ${tp.topic}[${tp.partitions.join(',')}]`);
          },
          commitOffsets(tps: { topic: string; partition: number; offset: string }[]) {
            c.commits.push(...tps);
            for (const tp of tps) c.journal.push(`commit ${tp.topic}[${tp.partition}]@${tp.offset}`);
            return Promise.resolve();
          },
        };
        // The double implements the subset the source calls; kafkajs's overloaded `on` signature cannot
        // be written as a plain object literal.
        return consumer as unknown as SourceConsumer;
      },
      admin() {
        const admin = {
          connect: () => Promise.resolve(),
          disconnect: () => Promise.resolve(),
          fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: '10', high: '10', low: '0' }]),
          fetchTopicOffsetsByTimestamp: () => Promise.resolve([{ partition: 0, offset: '0' }]),
          fetchOffsets: () => Promise.resolve([{ topic: 't', partitions: [{ partition: 0, offset: '4' }] }]),
        };
        // Same reason as above: only the methods the source calls.
        return admin as unknown as SourceAdmin;
      },
    },
  };
  return fake;
}

/** A pino logger whose lines the test can read. */
export function capturingLogger(): {
  log: Logger;
  lines: () => { level: number; msg: string; [k: string]: unknown }[];
} {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ level: 'debug' }, stream);
  return {
    log,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
}

/** Lets pending promise callbacks and zero-delay timers run. */
export function settle(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
