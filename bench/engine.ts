/**
 * End-to-end engine benchmark on the running local stack (`npm run stack -- up`). Prints one JSON document.
 *
 *   npx tsx bench/engine.ts [--machines 1000] [--days 3] [--rounds 15] [--compiled]
 *
 * 1. Backlog: a simulated fleet is published first, then the engine (in this process, as `pdm-stream run`
 *    builds it) starts and consumes it: events/s = records consumed / time until every closable bucket is
 *    written and the lag is 0.
 * 2. Live latency: each round publishes a bucket's worth of hours (12) of telemetry, one produce request per
 *    hour with one reading per machine, so that one more bucket closes; event→queryable latency = time
 *    from the send of the hour that closes it (the watermark, ts − allowed lateness, reaches the bucket)
 *    until all the bucket's predictions are visible in ClickHouse (FINAL). p50/p99 over rounds. (Before
 *    2026-12-01 a round was one request of all 12 hours, timed from its send: that figure included the
 *    bench's own producer encoding and sending 12,000 readings, about 400 ms here.)
 *    The engine's own count of records taken (pdm_records_in_total), sampled every 50 ms from when
 *    startEngine resolved, splits that figure: `steady` is the pace between 10 % and 90 % of the records
 *    taken, `allTakenSeconds` when the last was taken (the rest, to `seconds`, is the last writes).
 * 3. Memory: heap used after catching up minus before the engine started, and the feature state bytes,
 *    both per 1,000 machines.
 * Uses its own topic prefix and database (dropped afterwards). The database is migrated before the engine
 * starts, as the migrate job does before a deployment (fleet.ts, prepareBenchDatabase); `--fresh-database`
 * leaves it empty, so that the measured start includes creating it (a first deployment).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createRecordEncoder, createSchemaRegistryClient } from '../src/decode/index.js';
import { createKafkaClient } from '../src/ingest/index.js';
import { startEngine } from '../src/pipeline/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { HOUR_MS, machineKey } from '../src/shared/records.js';
import { createClickHouse, quoteIdent } from '../src/sink/index.js';
import { runCompiledIfAsked, runningCompiled } from './compiled.js';
import { measureCeiling } from './consume.js';
import {
  benchRead,
  counterTotal,
  expectedPredictions,
  histogramTotals,
  loadAverage,
  machineInfo,
  measurePhase,
  prepareBenchDatabase,
  printJson,
  publishFleet,
  steadyPace,
  type ProgressSample,
} from './fleet.js';
import { localStackPids } from './machine-cpu.js';
import { startHeapProfile, startProfile } from './profile.js';

await runCompiledIfAsked('engine');
const { values: args } = parseArgs({
  options: {
    machines: { type: 'string', default: '1000' },
    days: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '15' },
    /** Writes a V8 CPU profile of the backlog phase (engine start → caught up) to this file. */
    profile: { type: 'string' },
    /** Writes a sampled allocation profile of the same phase (collected objects included) to this file. */
    'heap-profile': { type: 'string' },
    /** Run on the project compiled to JavaScript, as `pdm-stream run` does (bench/compiled.ts). */
    compiled: { type: 'boolean', default: false },
    /** Skip the consume ceiling (bench/consume.ts) measured on the same topics. */
    'no-ceiling': { type: 'boolean', default: false },
    /** The engine creates the database inside the measured start (a first deployment). */
    'fresh-database': { type: 'boolean', default: false },
  },
});
const machines = Number(args.machines);
const days = Number(args.days);
const rounds = Number(args.rounds);
const loadBefore = loadAverage();
const fleet = await publishFleet({ machines, days });
const { config, records, startMs, endMs } = fleet;
const ch = createClickHouse(config.clickhouse);
const db = quoteIdent(config.clickhouse.database);
/** Predictions stored (`where` them); without FINAL (a duplicate counts twice) the count is nearly free. */
const count = async (where = '1', final = true): Promise<number> =>
  Number(
    (
      await benchRead('counting predictions', () =>
        ch.query<{ n: string }>(
          `SELECT toString(count()) AS n FROM ${db}.predictions${final ? ' FINAL' : ''}` +
            (where === '1' ? '' : ` WHERE ${where}`),
        ),
      )
    )[0]?.n ?? 0,
  );
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

// The ceiling first, on the same topics and while the engine is not running: the ratio compares the
// engine with what its own client and decoder can deliver on this machine in this run.
const ceiling = args['no-ceiling'] ? [] : await measureCeiling(config, records);

const database = await prepareBenchDatabase(config, args['fresh-database']);

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let peakRss = process.memoryUsage().rss;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);
// Looked up before the phase: the status probe is not part of what is measured or profiled.
const stackPids = await localStackPids(config);
const profiler = args.profile === undefined ? undefined : await startProfile();
const heapProfiler = args['heap-profile'] === undefined ? undefined : await startHeapProfile();
const cost = measurePhase(stackPids);
const t0 = performance.now();
const running = await startEngine(config, silentLogger);
const startedSeconds = (performance.now() - t0) / 1000;
const expected = expectedPredictions(config, { machines, startMs, endMs });
const progress: ProgressSample[] = [];
const sampleProgress = async () => {
  const taken = await counterTotal(running.metrics.registry, 'pdm_records_in_total');
  progress.push({ seconds: (performance.now() - t0) / 1000, records: taken });
};
await sampleProgress();
const progressTimer = setInterval(() => void sampleProgress(), 50);
let firstPredictionSeconds: number | undefined;
for (;;) {
  // Every 50 ms (the figures' resolution) a plain count, which ClickHouse answers from its parts' row
  // counts; FINAL (no duplicates) only once that reaches the target.
  const n = await count('1', false);
  if (n > 0) firstPredictionSeconds ??= (performance.now() - t0) / 1000;
  if (n >= expected && (await count()) >= expected) break;
  await sleep(50);
}
const backlogSeconds = (performance.now() - t0) / 1000;
clearInterval(progressTimer);
await sampleProgress();
const backlogCost = cost.stop();
if (profiler !== undefined && args.profile !== undefined) await profiler.stop(args.profile);
if (heapProfiler !== undefined && args['heap-profile'] !== undefined) {
  await heapProfiler.stop(args['heap-profile']);
}
clearInterval(rssTimer);
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const state = running.engine.featureStats();

// Live rounds, as devices send: one produce request per hour of readings (one per machine), a bucket's
// worth of hours per round. A round's bucket B closes on the hour whose readings move the watermark
// (ts − allowed lateness) to B: event→queryable is measured from that hour's send. The round's other
// hours are sent unmeasured (the later ones while nothing waits, as in a fleet that goes on sending).
const { bucketMs, allowedLatenessMs } = config.features;
if (bucketMs % HOUR_MS !== 0 || allowedLatenessMs % HOUR_MS !== 0 || allowedLatenessMs >= bucketMs) {
  throw new Error(
    'the live rounds need whole hours for the bucket and the allowed lateness, lateness < bucket',
  );
}
const hoursPerRound = bucketMs / HOUR_MS;
const closingHour = allowedLatenessMs / HOUR_MS;
const registry = createSchemaRegistryClient(config.registry);
const encoder = await createRecordEncoder(registry, config.kafka.topics);
const producer = createKafkaClient(config.kafka, '-bench').producer({
  idempotent: true,
  maxInFlightRequests: 1,
});
await producer.connect();
/** From the closing hour's send call and from its acknowledgement (all its readings in Kafka). */
const latenciesMs: number[] = [];
const fromAckMs: number[] = [];
const sendMs: number[] = [];
// The engine's own histograms, read before and after the rounds: where a live round's time goes inside it.
const stages = {
  eventToWrite: ['pdm_event_to_write_seconds'],
  scoring: ['pdm_inference_seconds'],
  insertPredictions: ['pdm_clickhouse_write_seconds', 'predictions'],
  insertFeatureVectors: ['pdm_clickhouse_write_seconds', 'feature_vectors'],
} as const;
const stageTotals = () =>
  Promise.all(
    Object.entries(stages).map(
      async ([stage, [name, table]]) =>
        [stage, await histogramTotals(running.metrics.registry, name, table)] as const,
    ),
  );
const stagesBefore = new Map(await stageTotals());
type Totals = { sum: number; count: number };
/** Per stage: observations between `before` (absent: the start) and `after`, and their mean in ms. */
const stageMeans = (after: Iterable<readonly [string, Totals]>, before?: ReadonlyMap<string, Totals>) =>
  Object.fromEntries(
    [...after].map(([stage, a]) => {
      const b = before?.get(stage) ?? { sum: 0, count: 0 };
      const count = a.count - b.count;
      return [stage, { meanMs: count > 0 ? Math.round(((a.sum - b.sum) / count) * 1000) : null, count }];
    }),
  );
let ts = endMs;
for (let r = 0; r < rounds; r++) {
  // Rounds start on a bucket instant: the first bucket they can close is the one at their start.
  const target = ts;
  for (let h = 0; h < hoursPerRound; h++, ts += HOUR_MS) {
    const messages = [];
    for (let m = 1; m <= machines; m++) {
      const record = { machineId: m, ts, volt: 170 + (m % 7), rotate: 450, pressure: 100, vibration: 40 };
      messages.push({
        key: machineKey(m),
        value: encoder.encode('telemetry', record),
        timestamp: String(ts),
      });
    }
    const sent = performance.now();
    await producer.send({ topic: config.kafka.topics.telemetry, acks: -1, messages });
    if (h !== closingHour) continue;
    const acked = performance.now();
    sendMs.push(acked - sent);
    const where = `bucket_ts = toDateTime(${Math.floor(target / 1000)})`;
    // Every 5 ms (the figure's resolution; 20 ms before 2026-12-01) the plain count, which merges no
    // duplicates and is cheap; FINAL (duplicates counted once) only once that reaches the fleet.
    while ((await count(where, false)) < machines || (await count(where)) < machines) await sleep(5);
    latenciesMs.push(performance.now() - sent);
    fromAckMs.push(performance.now() - acked);
  }
}
await producer.disconnect();
/** Mean milliseconds per observation during the live rounds, and how many there were. */
const liveStages = stageMeans(await stageTotals(), stagesBefore);
// Idle shutdown: the engine is caught up and waiting for records.
await sleep(1_000);
const stopStarted = performance.now();
await running.stop();
const shutdownSeconds = (performance.now() - stopStarted) / 1000;
await ch.close();
await fleet.cleanup();

const eventsPerSecond = Math.round(records / backlogSeconds);
const best = (name: string) =>
  Math.max(0, ...ceiling.filter((p) => p.name.startsWith(name)).map((p) => p.eventsPerSecond));
printJson({
  bench: 'engine',
  machine: machineInfo(),
  // The engine as compiled JavaScript (`--compiled`), or its TypeScript through tsx.
  compiled: runningCompiled,
  loadAverage: { before: loadBefore, after: loadAverage() },
  fleet: { machines, days, recordsConsumed: records, predictions: expected },
  heapGrowingPercent: config.pipeline.heapGrowingPercent,
  database,
  backlog: {
    seconds: Number(backlogSeconds.toFixed(2)),
    eventsPerSecond,
    firstPredictionSeconds: Number((firstPredictionSeconds ?? Number.NaN).toFixed(2)),
    // Records taken per second between 10 % and 90 % of them (header), and when the last was taken.
    steady: steadyPace(progress, records) ?? null,
    allTakenSeconds: Number((progress.find((p) => p.records >= records)?.seconds ?? Number.NaN).toFixed(2)),
    // Until startEngine resolved: migrated (or found nothing pending), the engine started (joining the
    // group, maybe not joined yet), the ONNX worker ready.
    engineStartedSeconds: Number(startedSeconds.toFixed(2)),
    peakRssBytes: peakRss,
    // Process CPU (engine, its ONNX worker thread, the bench's polling) and main-thread GC pauses.
    ...backlogCost,
    ceiling: ceiling.map((p) => ({ name: p.name, eventsPerSecond: p.eventsPerSecond })),
    ratioToConsume: Number((eventsPerSecond / best('consume-')).toFixed(3)),
    ratioToConsumeDecode: Number((eventsPerSecond / best('consume+decode')).toFixed(3)),
    // The same histograms as the live rounds' engineStages, over the backlog (count = ONNX runs, inserts).
    engineStages: stageMeans(stagesBefore),
  },
  shutdownWhenIdleSeconds: Number(shutdownSeconds.toFixed(2)),
  live: {
    rounds,
    readingsPerRound: hoursPerRound * machines,
    // The hour of a round whose send is measured: the one that moves the watermark onto its bucket.
    closingHour,
    eventToQueryableMs: {
      p50: Math.round(quantile(latenciesMs, 0.5)),
      p99: Math.round(quantile(latenciesMs, 0.99)),
      max: Math.round(Math.max(...latenciesMs)),
      // Every round in order. The first ones after a backlog decide risk-alert transitions (the bench's flat
      // readings resolve what the backlog fired), and their insert into risk_alerts goes before the predictions'.
      rounds: latenciesMs.map((x) => Math.round(x)),
    },
    // The closing hour's readings are one produce request: all of them are in Kafka once it is acked.
    sendMs: { p50: Math.round(quantile(sendMs, 0.5)), max: Math.round(Math.max(...sendMs)) },
    ackToQueryableMs: {
      p50: Math.round(quantile(fromAckMs, 0.5)),
      p99: Math.round(quantile(fromAckMs, 0.99)),
    },
    sideGraceMs: config.kafka.sideGraceMs,
    // Inside the engine: record received → prediction acknowledged (includes the grace), scoring per group
    // (ONNX runs and the worker round trip), inserts per table.
    engineStages: liveStages,
  },
  memory: {
    heapDeltaBytesPer1000Machines: Math.round(((heapAfter - heapBefore) / machines) * 1000),
    featureStateBytesPer1000Machines: Math.round((state.stateBytes / machines) * 1000),
    gcExposed: typeof global.gc === 'function',
  },
});
