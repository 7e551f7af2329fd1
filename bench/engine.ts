/**
 * End-to-end engine benchmark on the running local stack (`npm run stack -- up`). Prints one JSON document.
 *
 *   npx tsx bench/engine.ts [--machines 1000] [--days 3] [--rounds 15]
 *
 * 1. Backlog: a simulated fleet is published first, then the engine (in this process, as `pdm-stream run`
 *    builds it) starts and consumes it: events/s = records consumed / time until every closable bucket is
 *    written and the lag is 0.
 * 2. Live latency: in each round one more hour of telemetry is published for every machine so that one
 *    more bucket closes; event→queryable latency = time from the send of that telemetry until all the new
 *    bucket's predictions are visible in ClickHouse (FINAL). p50/p99 over rounds.
 * 3. Memory: heap used after catching up minus before the engine started, and the feature state bytes,
 *    both per 1,000 machines.
 * Uses its own topic prefix and database (dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { createRecordEncoder, createSchemaRegistryClient } from '../src/decode/index.js';
import { registerSchemasAndTopics } from '../src/cli/schemas.js';
import { createKafkaClient } from '../src/ingest/index.js';
import { startEngine } from '../src/pipeline/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { HOUR_MS, machineKey } from '../src/shared/records.js';
import { createFleet, openKafkaPublisher, simulateToPublisher } from '../src/simulate/index.js';
import { createClickHouse, quoteIdent } from '../src/sink/index.js';

const { values: args } = parseArgs({
  options: {
    machines: { type: 'string', default: '1000' },
    days: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '15' },
  },
});
const machines = Number(args.machines);
const days = Number(args.days);
const rounds = Number(args.rounds);
const token = randomBytes(3).toString('hex');
const database = `pdm_bench_${token}`;
const config = loadConfig({
  ...process.env,
  PDM_TOPIC_PREFIX: `bench${token}.`,
  PDM_GROUP_ID: `bench-${token}`,
  CLICKHOUSE_DATABASE: database,
  PDM_HTTP_PORT: '0',
  LOG_LEVEL: 'silent',
});
const ch = createClickHouse(config.clickhouse);
const db = quoteIdent(database);
const count = async (where = '1'): Promise<number> =>
  Number(
    (
      await ch.query<{ n: string }>(
        `SELECT toString(count()) AS n FROM ${db}.predictions FINAL WHERE ${where}`,
      )
    )[0]?.n ?? 0,
  );
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

await registerSchemasAndTopics(config);
const startMs = Date.UTC(2026, 0, 1);
const fleet = createFleet({ machines, days, startMs, seed: 5 });
const publisher = await openKafkaPublisher(config);
const published = await simulateToPublisher(fleet, publisher, {});
await publisher.flush();
await publisher.close();
const records = Object.entries(published.counts)
  .filter(([k]) => k !== 'failures')
  .reduce((n, [, v]) => n + v, 0);

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
const running = await startEngine(config, silentLogger);
const endMs = startMs + days * 24 * HOUR_MS;
// Closable buckets: B ≤ last telemetry ts − lateness for each machine (hourly data up to endMs − 1 h).
const lastClosable = Math.floor(
  (endMs - HOUR_MS - config.features.allowedLatenessMs) / config.features.bucketMs,
);
const firstBucket = Math.ceil(startMs / config.features.bucketMs);
const expected = machines * (lastClosable - firstBucket + 1);
while ((await count()) < expected) await sleep(250);
const backlogSeconds = (performance.now() - t0) / 1000;
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const state = running.engine.featureStats();

// Live rounds: each adds 12 hourly readings per machine, which closes exactly one more bucket.
const registry = createSchemaRegistryClient(config.registry);
const encoder = await createRecordEncoder(registry, config.kafka.topics);
const producer = createKafkaClient(config.kafka, '-bench').producer({
  idempotent: true,
  maxInFlightRequests: 1,
});
await producer.connect();
const latenciesMs: number[] = [];
let ts = endMs;
for (let r = 0; r < rounds; r++) {
  // Rounds start on a bucket instant: its 12 new readings move the watermark past exactly this bucket.
  const target = ts;
  const messages = [];
  for (let h = 0; h < 12; h++, ts += HOUR_MS) {
    for (let m = 1; m <= machines; m++) {
      const record = { machineId: m, ts, volt: 170 + (m % 7), rotate: 450, pressure: 100, vibration: 40 };
      messages.push({
        key: machineKey(m),
        value: encoder.encode('telemetry', record),
        timestamp: String(ts),
      });
    }
  }
  const sent = performance.now();
  await producer.send({ topic: config.kafka.topics.telemetry, acks: -1, messages });
  const where = `bucket_ts = toDateTime(${Math.floor(target / 1000)})`;
  while ((await count(where)) < machines) await sleep(20);
  latenciesMs.push(performance.now() - sent);
}
await producer.disconnect();
await running.stop();
await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
await ch.close();

console.log(
  JSON.stringify(
    {
      bench: 'engine',
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      fleet: { machines, days, recordsConsumed: records, predictions: expected },
      backlog: {
        seconds: Number(backlogSeconds.toFixed(2)),
        eventsPerSecond: Math.round(records / backlogSeconds),
      },
      live: {
        rounds,
        readingsPerRound: 12 * machines,
        eventToQueryableMs: {
          p50: Math.round(quantile(latenciesMs, 0.5)),
          p99: Math.round(quantile(latenciesMs, 0.99)),
          max: Math.round(Math.max(...latenciesMs)),
        },
      },
      memory: {
        heapDeltaBytesPer1000Machines: Math.round(((heapAfter - heapBefore) / machines) * 1000),
        featureStateBytesPer1000Machines: Math.round((state.stateBytes / machines) * 1000),
        gcExposed: typeof global.gc === 'function',
      },
    },
    null,
    2,
  ),
);
