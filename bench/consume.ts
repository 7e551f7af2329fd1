/**
 * The consume ceiling on this machine: how fast kafkajs alone can read the engine's input topics
 * (telemetry, errors, maintenance, machines), and with the project's Avro decoder on top. Nothing the
 * engine does after decoding can go faster than this. Prints one JSON document.
 *
 *   npx tsx bench/consume.ts [--machines 1000] [--days 30]
 *
 * Each phase uses a fresh consumer group from the beginning, autoCommit off, `eachBatch`, one partition at
 * a time (as the engine), kafkajs with the engine's fast paths (src/ingest/kafkajs-long.ts: Long, record batch decoder), and
 * stops when it has seen every record published to those topics. The rate is over the time from the group
 * join to the last batch; connect and join are reported apart (`startup`).
 * `measureCeiling` runs the phases on any published topics (bench/engine.ts can call it on its own).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/index.js';
import { createRecordDecoder, createSchemaRegistryClient, loadProjectSchemas } from '../src/decode/index.js';
import { createKafkaClient } from '../src/ingest/index.js';
import { installKafkajsFastPaths, type KafkajsFastPaths } from '../src/ingest/kafkajs-long.js';
import { numberArg } from './args.js';
import { INPUT_KINDS, loadAverage, machineInfo, printJson, publishFleet } from './fleet.js';

const MiB = 1_048_576;

export interface FetchSettings {
  readonly maxBytesPerPartition: number;
  /** Whole fetch response. kafkajs default, as the engine. */
  readonly maxBytes: number;
  readonly minBytes: number;
  readonly maxWaitTimeInMs: number;
  readonly partitionsConsumedConcurrently: number;
  /** kafkajs with the engine's fast paths (src/ingest/kafkajs-long.ts), as the engine runs it. */
  readonly kafkajsFastPaths: KafkajsFastPaths;
}

export interface CeilingPhase {
  readonly name: string;
  /** Group joined (`run()` resolved) → the batch that completed the count: every fetch, no join. */
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Not in the rate. `run()` joins the group; the first batch also waits for offsets and one fetch. */
  readonly startup: {
    readonly connectSeconds: number;
    readonly joinSeconds: number;
    readonly runToFirstBatchSeconds: number;
  };
  readonly batches: number;
  readonly messages: number;
  /** Messages the decoder did not accept (a valid fleet has none); decode phases only. */
  readonly decodeFailures?: number;
  readonly settings: FetchSettings;
}

export interface CeilingOptions {
  /** One consume and one consume+decode phase per value. @default [1 MiB, 4 MiB] */
  readonly maxBytesPerPartition?: readonly number[];
  /** Per phase. @default 600_000 */
  readonly timeoutMs?: number;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

async function runPhase(
  config: Config,
  records: number,
  name: string,
  settings: FetchSettings,
  decode: boolean,
  timeoutMs: number,
): Promise<CeilingPhase> {
  const kindOfTopic = new Map(INPUT_KINDS.map((k) => [config.kafka.topics[k], k]));
  const decoder = decode
    ? createRecordDecoder(createSchemaRegistryClient(config.registry), loadProjectSchemas())
    : undefined;
  const consumer = createKafkaClient(config.kafka, '-bench').consumer({
    groupId: `${config.kafka.groupId}-ceiling-${name}-${randomBytes(2).toString('hex')}`,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    maxBytes: settings.maxBytes,
    minBytes: settings.minBytes,
    maxWaitTimeInMs: settings.maxWaitTimeInMs,
    allowAutoTopicCreation: false,
  });
  let messages = 0;
  let batches = 0;
  let decodeFailures = 0;
  let firstBatchAt: number | undefined;
  let lastBatchAt = 0;
  let reached!: () => void;
  let failed!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    reached = res;
    failed = rej;
  });
  const t0 = performance.now();
  await consumer.connect();
  const connectedAt = performance.now();
  try {
    await consumer.subscribe({ topics: [...kindOfTopic.keys()], fromBeginning: true });
    const runAt = performance.now();
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently,
      eachBatch: async ({ batch }) => {
        firstBatchAt ??= performance.now();
        batches++;
        if (decoder !== undefined) {
          const kind = kindOfTopic.get(batch.topic);
          if (kind === undefined) throw new Error(`batch of unexpected topic ${batch.topic}`);
          // As the engine: one registry round trip per unknown schema id and batch, then synchronous decode.
          await decoder.prepare(batch.messages.map((m) => m.value));
          for (const m of batch.messages) if (!decoder.decode(kind, m.value, m.key).ok) decodeFailures++;
        }
        messages += batch.messages.length;
        lastBatchAt = performance.now();
        if (messages >= records) reached();
      },
    });
    const joinedAt = performance.now();
    const timer = setTimeout(() => {
      failed(new Error(`phase ${name}: ${messages} of ${records} records after ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
    const seconds = (lastBatchAt - joinedAt) / 1000;
    return {
      name,
      seconds: round(seconds, 3),
      eventsPerSecond: seconds > 0 ? Math.round(messages / seconds) : 0,
      startup: {
        connectSeconds: round((connectedAt - t0) / 1000, 3),
        joinSeconds: round((joinedAt - runAt) / 1000, 3),
        runToFirstBatchSeconds: round(((firstBatchAt ?? runAt) - runAt) / 1000, 3),
      },
      batches,
      messages,
      ...(decode ? { decodeFailures } : {}),
      settings,
    };
  } finally {
    await consumer.disconnect();
  }
}

/** Consume-only and consume+decode phases over the input topics of `config`, which hold `records`. */
export async function measureCeiling(
  config: Config,
  records: number,
  options: CeilingOptions = {},
): Promise<CeilingPhase[]> {
  const phases: CeilingPhase[] = [];
  // The engine's client is kafkajs with these installed: the ceiling is measured on the same client.
  const kafkajsFastPaths = installKafkajsFastPaths();
  for (const maxBytesPerPartition of options.maxBytesPerPartition ?? [MiB, 4 * MiB]) {
    // minBytes 1 and a short wait: a fetch returns as soon as anything is there, and the tail of a phase
    // is not padded by kafkajs's 5 s default wait on partitions already drained.
    const settings: FetchSettings = {
      maxBytesPerPartition,
      maxBytes: 10 * MiB,
      minBytes: 1,
      maxWaitTimeInMs: 100,
      partitionsConsumedConcurrently: 1,
      kafkajsFastPaths,
    };
    const size = `${maxBytesPerPartition / MiB}MiB`;
    for (const decode of [false, true]) {
      const name = `${decode ? 'consume+decode' : 'consume'}-${size}`;
      phases.push(await runPhase(config, records, name, settings, decode, options.timeoutMs ?? 600_000));
    }
  }
  return phases;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const machines = numberArg('machines', 1000);
  const days = numberArg('days', 30);
  process.stderr.write(`consume: publishing ${machines} machines × ${days} days\n`);
  const fleet = await publishFleet({ machines, days, progress: true });
  try {
    const before = loadAverage();
    const phases = await measureCeiling(fleet.config, fleet.records);
    const after = loadAverage();
    printJson({
      bench: 'consume',
      machine: machineInfo(),
      loadAverage: { before, after },
      fleet: { machines, days, partitions: fleet.config.kafka.partitions },
      records: fleet.records,
      phases,
    });
  } finally {
    await fleet.cleanup();
  }
}
