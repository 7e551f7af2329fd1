/**
 * End-to-end helpers for hand-made input (issue 9): fleet events as arrays that tests cut, reorder and
 * corrupt; Confluent-framed values; a kafkajs producer that reports each message's partition and offset;
 * the batch path over exactly the valid events; dead letters and "everything consumed" from the broker's
 * committed offsets, failing fast when the engine process has exited.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Admin, type Producer } from 'kafkajs';
import {
  createCodec,
  createSchemaRegistryClient,
  encodeFrame,
  loadProjectSchemas,
  valueSubject,
  type AvroCodec,
} from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';
import { quoteIdent } from '../../src/sink/index.js';
import { RECORD_KINDS, machineKey, type PdmEvent, type RecordKind } from '../../src/shared/records.js';
import { createFleet, writeReferenceCsv, type FleetOptions } from '../../src/simulate/index.js';
import {
  batchFromCsv,
  cli,
  startEngineProcess,
  type E2eEnv,
  type E2eRun,
  type EngineProcess,
  type ExpectedRow,
} from './support.js';
import type { PyMessage, PyProduceOptions } from '../support/python-producer.js';

export const ENGINE_TOPICS = ['telemetry', 'errors', 'maintenance', 'machines'] as const;

/** All events of a simulated fleet (machines first, then timed events in event-time order). */
export function fleetEvents(options: FleetOptions): PdmEvent[] {
  return [...createFleet(options).events()];
}

export function eventTs(e: PdmEvent): number | undefined {
  return 'ts' in e.record ? e.record.ts : undefined;
}

/** kafkajs' default partitioner (murmur2, like the Java client) for any key; null keys are not handled. */
const defaultPartitioner = Partitioners.DefaultPartitioner();

export function murmur2Partition(key: string, partitions: number): number {
  return defaultPartitioner({
    topic: '',
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
      partitionErrorCode: 0,
    })),
    message: { key, value: null },
  });
}

/** Registry ids and codecs of the project schemas for this test's topics (after `schemas register`). */
export interface Framer {
  readonly ids: { readonly [K in RecordKind]: number };
  readonly codecs: { readonly [K in RecordKind]: AvroCodec };
  /** Confluent frame of a record with its kind's registered schema id. */
  frame(e: PdmEvent): Buffer;
}

export async function createFramer(e: E2eEnv): Promise<Framer> {
  const schemas = loadProjectSchemas();
  const registry = createSchemaRegistryClient(e.config.registry);
  const ids = {} as Record<RecordKind, number>;
  const codecs = {} as Record<RecordKind, AvroCodec>;
  for (const kind of RECORD_KINDS) {
    const id = await registry.latestId(valueSubject(e.config.kafka.topics[kind]));
    if (id === undefined) throw new Error(`subject of ${kind} missing: run schemas register first`);
    ids[kind] = id;
    codecs[kind] = createCodec(schemas[kind]);
  }
  return {
    ids,
    codecs,
    frame: (ev) => encodeFrame(ids[ev.kind], codecs[ev.kind].encode(ev.record)),
  };
}

/** A message as the tests send it; `partition` defaults to murmur2 of the key (kafkajs' own choice). */
export interface RawMessage {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  /** Kafka record timestamp, epoch ms; default: the event time for timed records (what producers do). */
  readonly timestamp?: number;
  readonly partition?: number;
  /** Kafka record headers (the engine must not depend on them, whatever they hold). */
  readonly headers?: Readonly<Record<string, Buffer | string>>;
}

export interface Delivered {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** The message a well-behaved producer sends for an event: key = machineId, Kafka timestamp = event time. */
export function messageFor(e: E2eEnv, framer: Framer, ev: PdmEvent): RawMessage {
  const ts = eventTs(ev);
  return {
    topic: e.config.kafka.topics[ev.kind],
    key: machineKey(ev.record.machineId),
    value: framer.frame(ev),
    ...(ts === undefined ? {} : { timestamp: ts }),
  };
}

export interface TestProducer {
  /** Sends in order, in chunks; resolves with each message's partition and offset once acknowledged. */
  send(messages: readonly RawMessage[], chunk?: number): Promise<Delivered[]>;
  close(): Promise<void>;
}

export async function createTestProducer(e: E2eEnv): Promise<TestProducer> {
  const producer: Producer = createKafkaClient(e.config.kafka, '-e2e-producer').producer({
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const partitions = e.config.kafka.partitions;
  return {
    async send(messages, chunk = 2_000) {
      const out: Delivered[] = [];
      for (let i = 0; i < messages.length; i += chunk) {
        const part = messages.slice(i, i + chunk);
        // Explicit partitions let us compute offsets: within one request, a partition's messages are
        // appended in the order given, starting at the base offset the broker reports.
        const placed = part.map((m) => ({
          m,
          partition: m.partition ?? (m.key === null ? 0 : murmur2Partition(m.key, partitions)),
        }));
        const byTopic = new Map<string, typeof placed>();
        for (const p of placed) {
          const list = byTopic.get(p.m.topic);
          if (list === undefined) byTopic.set(p.m.topic, [p]);
          else list.push(p);
        }
        const meta = await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, ms]) => ({
            topic,
            messages: ms.map((p) => ({
              key: p.m.key,
              value: p.m.value,
              partition: p.partition,
              ...(p.m.timestamp === undefined ? {} : { timestamp: String(p.m.timestamp) }),
              ...(p.m.headers === undefined ? {} : { headers: { ...p.m.headers } }),
            })),
          })),
        });
        const base = new Map(
          meta.map((r) => [`${r.topicName}:${r.partition}`, BigInt(r.baseOffset ?? '-1')]),
        );
        const next = new Map<string, bigint>();
        for (const p of placed) {
          const k = `${p.m.topic}:${p.partition}`;
          const offset = next.get(k) ?? base.get(k);
          if (offset === undefined || offset < 0n) throw new Error(`no base offset for ${k}`);
          next.set(k, offset + 1n);
          out.push({ topic: p.m.topic, partition: p.partition, offset: Number(offset) });
        }
      }
      return out;
    },
    close: () => producer.disconnect(),
  };
}

let nowSupported: boolean | undefined;

/** Whether `features build` takes `--now` (FEATURES.md revision 2). */
export async function featuresBuildHasNow(e: E2eEnv): Promise<boolean> {
  nowSupported ??= (await cli(['features', 'build', '--help'], e.env)).includes('--now');
  return nowSupported;
}

/**
 * The batch path over exactly `events` (reference CSV → `features build --now nowMs` → `score`). `--now`
 * is passed when the CLI has it (callers that need it assert {@link featuresBuildHasNow} themselves), so
 * that the comparison still runs against an engine from before revision 2.
 */
export async function batchOver(
  e: E2eEnv,
  events: Iterable<PdmEvent>,
  nowMs: number,
  name = 'batch',
): Promise<Map<string, ExpectedRow>> {
  const dir = join(e.tmp, `${name}-csv`);
  await writeReferenceCsv(dir, sortedForCsv(events));
  const extra = (await featuresBuildHasNow(e)) ? ['--now', new Date(nowMs).toISOString()] : [];
  return batchFromCsv(e, dir, extra, name);
}

/** Machines first, then timed events by ts (stable, so the fleet's tie order is kept). */
function sortedForCsv(events: Iterable<PdmEvent>): PdmEvent[] {
  const list = [...events];
  const rank = (ev: PdmEvent): number => eventTs(ev) ?? Number.NEGATIVE_INFINITY;
  return list
    .map((ev, i) => ({ ev, i }))
    .sort((a, b) => rank(a.ev) - rank(b.ev) || a.i - b.i)
    .map((x) => x.ev);
}

export interface DeadLetterInfo {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly reason: string;
  readonly stage: string;
  readonly error: string;
  readonly key: string | null;
  readonly machineId: number;
}

/** Logical dead letters (FINAL), ordered by topic, partition, offset. */
export async function deadLetters(e: E2eEnv): Promise<DeadLetterInfo[]> {
  const rows = await e.ch.query<{
    topic: string;
    partition: number;
    offset: string;
    reason: string;
    stage: string;
    error_message: string;
    key: string | null;
    machine_id: string | number;
  }>(
    `SELECT topic, partition, toString(offset) AS offset, reason, stage, error_message, key, machine_id
FROM ${quoteIdent(e.database)}.dead_letters FINAL ORDER BY topic, partition, offset`,
  );
  return rows.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    reason: r.reason,
    stage: r.stage,
    error: r.error_message,
    key: r.key,
    machineId: Number(r.machine_id),
  }));
}

export function deliveryKey(d: Pick<Delivered, 'topic' | 'partition' | 'offset'>): string {
  return `${d.topic}:${d.partition}:${d.offset}`;
}

/** Throws with the engine's output when it is no longer running. */
export function assertAlive(engine: EngineProcess): void {
  if (engine.proc.exitCode !== null || engine.proc.signalCode !== null) {
    throw new Error(
      `engine exited (code ${engine.proc.exitCode}, signal ${engine.proc.signalCode}); output tail:\n${engine
        .output()
        .slice(-3000)}`,
    );
  }
}

async function committedAndEnds(
  admin: Admin,
  e: E2eEnv,
): Promise<{ topic: string; partition: number; end: bigint; committed: bigint }[]> {
  const out: { topic: string; partition: number; end: bigint; committed: bigint }[] = [];
  for (const kind of ENGINE_TOPICS) {
    const topic = e.config.kafka.topics[kind];
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId: e.config.kafka.groupId, topics: [topic] });
    const byPartition = new Map(
      (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [
        p.partition,
        BigInt(p.offset),
      ]),
    );
    for (const p of ends)
      out.push({
        topic,
        partition: p.partition,
        end: BigInt(p.high),
        committed: byPartition.get(p.partition) ?? -1n,
      });
  }
  return out;
}

/**
 * Waits until the engine's group has committed the current end offset of every non-empty partition of the
 * four engine topics (outputs are acknowledged before a commit, so ClickHouse then holds everything), and
 * throws at once when the engine process exits meanwhile.
 */
export async function waitConsumed(e: E2eEnv, engine: EngineProcess, timeoutMs = 180_000): Promise<void> {
  const admin = createKafkaClient(e.config.kafka, '-e2e-admin').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let behind: string[] = [];
    for (;;) {
      assertAlive(engine);
      const state = await committedAndEnds(admin, e);
      behind = state
        .filter((s) => s.end > 0n && s.committed < s.end)
        .map((s) => `${s.topic}[${s.partition}] ${s.committed}/${s.end}`);
      if (behind.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `engine did not consume everything within ${timeoutMs} ms: ${behind.join(', ')}\n${engine
            .output()
            .slice(-3000)}`,
        );
      await sleep(500);
    }
  } finally {
    await admin.disconnect();
  }
}

/** The feature vector columns of the 38 pdm-v1 features (FEATURES.md order). */
export const FEATURE_INDEX = {
  error1: 24,
  comp1: 29,
  age: 33,
  model1: 34,
} as const;

/** Feature vectors of one machine, by bucket (epoch s). */
export async function featureVectorsOf(e: E2eEnv, machineId: number): Promise<Map<number, number[]>> {
  const rows = await e.ch.query<{ b: number; f: number[] }>(
    `SELECT toUInt32(bucket_ts) AS b, features AS f FROM ${quoteIdent(e.database)}.feature_vectors FINAL
WHERE machine_id = {m:Int64} ORDER BY b`,
    { m: machineId },
  );
  return new Map(rows.map((r) => [r.b, r.f]));
}

/**
 * Starts `pdm-stream run` and waits for /readyz 200; fails at once with the engine's output when it exits
 * first, or after `timeoutMs`.
 */
export async function startEngine(e: E2eEnv, timeoutMs = 120_000): Promise<EngineProcess> {
  const engine = startEngineProcess(e.env);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertAlive(engine);
    const ok = await fetch(`http://127.0.0.1:${e.httpPort}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return engine;
    if (Date.now() > deadline) {
      engine.proc.kill('SIGTERM');
      throw new Error(
        `engine not ready after ${timeoutMs} ms; output tail:\n${engine.output().slice(-3000)}`,
      );
    }
    await sleep(500);
  }
}

/** The project's .avsc files by record kind, for the Python producer's serializers. */
export const SCHEMA_FILES: Readonly<Record<string, string>> = Object.fromEntries(
  RECORD_KINDS.map((k) => [k, fileURLToPath(new URL(`../../schemas/${k}.avsc`, import.meta.url))]),
);

/** An event as produce.py takes it: the project's schema, keyed by machineId, event time as timestamp. */
export function pyMessage(
  e: E2eEnv,
  ev: PdmEvent,
  headers?: ReadonlyArray<readonly [string, string | null]>,
): PyMessage {
  const ts = eventTs(ev);
  return {
    topic: e.config.kafka.topics[ev.kind],
    schema: ev.kind,
    key: machineKey(ev.record.machineId),
    value: { ...ev.record },
    ...(ts === undefined ? {} : { timestamp: ts }),
    ...(headers === undefined ? {} : { headers }),
  };
}

/** produce.py against the test's broker and registry with the project's schemas. */
export function pyOptions(e: E2eEnv, topicPartitioners: Record<string, string> = {}): PyProduceOptions {
  return {
    bootstrap: e.config.kafka.brokers.join(','),
    registryUrl: e.config.registry.url,
    schemas: SCHEMA_FILES,
    topicPartitioners,
  };
}

/**
 * A fresh environment for one fleet: its batch-path rows (the expected result, features at `nowMs`) and a
 * running engine (stopped by `run`'s afterAll).
 */
export async function engineOnFleet(
  run: E2eRun,
  fleet: Parameters<typeof fleetEvents>[0],
  nowMs: number,
): Promise<{
  e: E2eEnv;
  events: PdmEvent[];
  expected: Awaited<ReturnType<typeof batchOver>>;
  engine: EngineProcess;
}> {
  const e = await run.env();
  const events = fleetEvents(fleet);
  const expected = await batchOver(e, events, nowMs, 'all');
  const engine = await startEngine(e);
  run.engines.push(engine);
  return { e, events, expected, engine };
}
