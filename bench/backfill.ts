/**
 * Backfill benchmark: a long history (default a year of 1,000 machines) already in Kafka, then the engine
 * started on it, as `pdm-stream run` builds it. Prints one JSON document.
 *
 *   npx tsx bench/backfill.ts [--machines 1000] [--days 365] [--timeout 600] [--keep FILE | --reuse FILE]
 *                             [--profile FILE.cpuprofile] [--compiled] [--fresh-database]
 *
 * `--keep FILE` leaves the published topics in Kafka and describes them in FILE; `--reuse FILE` runs the
 * engine (own group and database) on those topics instead of publishing: A/B runs of engine settings on
 * the same data, without the minutes of publishing each. Add `--drop-topics` to the last `--reuse` run to
 * delete the topics at its end. The database is migrated before the engine starts, as the migrate job does
 * before a deployment; `--fresh-database` has the engine create it inside the measured run (fleet.ts,
 * prepareBenchDatabase).
 *
 * The fleet is published by a child process, so that the engine's memory figures (RSS peak, sampled and
 * the kernel's high-water mark) hold no producer buffers. Every second the bench samples the RSS, the plain
 * count() of predictions (no FINAL: cheap, and duplicates only make it reach the target early, which the
 * final FINAL count checks) and the offsets the engine has committed. It stops when every closable bucket
 * has its prediction, or after `--timeout` seconds of engine time.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/index.js';
import { createKafkaClient } from '../src/ingest/index.js';
import { startEngine } from '../src/pipeline/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { createClickHouse, quoteIdent } from '../src/sink/index.js';
import { numberArg } from './args.js';
import { runCompiledIfAsked, runningCompiled } from './compiled.js';
import { localStackPids } from './machine-cpu.js';
import { startProfile } from './profile.js';
import {
  INPUT_KINDS,
  benchRead,
  benchConfig,
  cleanupBench,
  expectedPredictions,
  loadAverage,
  machineInfo,
  measurePhase,
  prepareBenchDatabase,
  printJson,
  publishFleet,
} from './fleet.js';

const SAMPLE_MS = 1_000;
const FIRST_PREDICTION_POLL_MS = 50;

function atPeak(samples: readonly Sample[]): { heapTotalBytes: number; externalBytes: number } | null {
  let peak: Sample | undefined;
  for (const s of samples) if (peak === undefined || s.rssBytes > peak.rssBytes) peak = s;
  return peak === undefined
    ? null
    : { heapTotalBytes: peak.heapTotalBytes, externalBytes: peak.externalBytes };
}
const MAX_TIMELINE_POINTS = 40;

interface Published {
  /** Token of the run that published the topics (`bench<token>.*`). */
  readonly token?: string;
  readonly records: number;
  readonly counts: Record<string, number>;
  readonly startMs: number;
  readonly endMs: number;
  readonly publishSeconds: number;
}

interface Sample {
  readonly seconds: number;
  readonly predictions: number;
  readonly committed: number;
  readonly rssBytes: number;
  /** The main thread's V8 heap and the memory outside it (Buffers), at the same instant. */
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
}

await runCompiledIfAsked('backfill');
const machines = numberArg('machines', 1000);
const days = numberArg('days', 365);
const timeoutMs = numberArg('timeout', 600) * 1000;
const childAt = process.argv.indexOf('--publish-child');
const pathArg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const keepFile = pathArg('keep');
const reuseFile = pathArg('reuse');
/** V8 CPU profile of the main thread from engine start to the end (bench/profile.ts prints its top frames). */
const profileFile = pathArg('profile');

if (childAt >= 0) {
  // Child: publish under the parent's token, report the figures over IPC, leave cleanup to the parent.
  const t0 = performance.now();
  const fleet = await publishFleet({
    machines,
    days,
    token: process.argv[childAt + 1] ?? '',
    progress: true,
  });
  const published: Published = {
    records: fleet.records,
    counts: fleet.counts,
    startMs: fleet.startMs,
    endMs: fleet.endMs,
    publishSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
  process.send?.(published);
} else {
  await main();
}

function publishInChild(token: string): Promise<Published> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--publish-child', token], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: Published | undefined;
    child.on('message', (m) => (result = m as Published));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`publishing child exited with code ${String(code)}`));
    });
  });
}

/** Sum of the committed offsets of the engine's group on its input topics: records it is done with. */
async function committedRecords(
  admin: ReturnType<ReturnType<typeof createKafkaClient>['admin']>,
  config: Config,
): Promise<number> {
  const topics = await benchRead('reading committed offsets', () =>
    admin.fetchOffsets({
      groupId: config.kafka.groupId,
      topics: INPUT_KINDS.map((k) => config.kafka.topics[k]),
    }),
  );
  let n = 0;
  for (const t of topics) for (const p of t.partitions) n += Math.max(0, Number(p.offset));
  return n;
}

/** At most `max` points, evenly spaced, the first and the last kept. */
function downsample<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < max; i++) {
    const x = xs[Math.round((i * (xs.length - 1)) / (max - 1))];
    if (x !== undefined) out.push(x);
  }
  return out;
}

async function main(): Promise<void> {
  const token = randomBytes(3).toString('hex');
  const reused =
    reuseFile === undefined ? undefined : (JSON.parse(await readFile(reuseFile, 'utf8')) as Published);
  const config = benchConfig(token, reused?.token ?? token);
  try {
    let published: Published;
    if (reused === undefined) {
      process.stderr.write(`backfill: publishing ${machines} machines × ${days} days (bench${token}.*)\n`);
      published = { ...(await publishInChild(token)), token };
      if (keepFile !== undefined) await writeFile(keepFile, JSON.stringify(published));
    } else {
      published = reused;
      process.stderr.write(`backfill: reusing bench${reused.token ?? '?'}.* (${reused.records} records)\n`);
    }
    process.stderr.write(
      `backfill: ${published.records} records in ${published.publishSeconds} s; starting the engine\n`,
    );
    const expected = expectedPredictions(config, {
      machines,
      startMs: published.startMs,
      endMs: published.endMs,
    });
    const ch = createClickHouse(config.clickhouse);
    const admin = createKafkaClient(config.kafka, '-bench').admin();
    await admin.connect();
    const table = `${quoteIdent(config.clickhouse.database)}.predictions`;
    const count = async (final: boolean): Promise<number> =>
      Number(
        (
          await benchRead('counting predictions', () =>
            ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${table}${final ? ' FINAL' : ''}`),
          )
        )[0]?.n ?? 0,
      );

    const database = await prepareBenchDatabase(config, process.argv.includes('--fresh-database'));
    const loadBefore = loadAverage();
    const rssBeforeBytes = process.memoryUsage.rss();
    // Looked up before the phase: the status probe is not part of what is measured or profiled.
    const stackPids = await localStackPids(config);
    const profiler = profileFile === undefined ? undefined : await startProfile();
    const cost = measurePhase(stackPids);
    const t0 = performance.now();
    const running = await startEngine(config, silentLogger);
    let engineError: string | undefined;
    running.engine.done.catch((err: unknown) => {
      // Reported in the JSON rather than thrown: the figures up to the crash are the result.
      engineError = err instanceof Error ? err.message : String(err);
    });
    const samples: Sample[] = [];
    let firstPredictionSeconds: number | undefined;
    let completedSeconds: number | undefined;
    let sampledPeakRss = rssBeforeBytes;
    let loadAfter: number[];
    let engineCost: ReturnType<typeof cost.stop>;
    let finalPredictions: number;
    // The first prediction is looked for every FIRST_PREDICTION_POLL_MS (the samples' second would be the
    // resolution of the figure otherwise), until it is seen or the run ends.
    const sampling = { on: true };
    const firstPrediction = (async () => {
      while (sampling.on && firstPredictionSeconds === undefined && engineError === undefined) {
        if ((await count(false)) > 0) firstPredictionSeconds ??= (performance.now() - t0) / 1000;
        else await sleep(FIRST_PREDICTION_POLL_MS);
      }
    })();
    try {
      while (engineError === undefined) {
        await sleep(SAMPLE_MS - ((performance.now() - t0) % SAMPLE_MS));
        const { rss: rssBytes, heapTotal: heapTotalBytes, external: externalBytes } = process.memoryUsage();
        const predictions = await count(false);
        const committed = await committedRecords(admin, config);
        const seconds = (performance.now() - t0) / 1000;
        sampledPeakRss = Math.max(sampledPeakRss, rssBytes);
        samples.push({ seconds, predictions, committed, rssBytes, heapTotalBytes, externalBytes });
        if (predictions > 0) firstPredictionSeconds ??= seconds;
        if (predictions >= expected && (await count(true)) >= expected) {
          completedSeconds = seconds;
          break;
        }
        if (seconds * 1000 >= timeoutMs) break;
      }
      sampling.on = false;
      await firstPrediction;
      finalPredictions = await count(true);
      loadAfter = loadAverage();
      engineCost = cost.stop();
      if (profiler !== undefined && profileFile !== undefined) await profiler.stop(profileFile);
    } finally {
      await running.stop();
      await admin.disconnect();
      await ch.close();
    }

    const last = samples.at(-1);
    const lastCommitted = last?.committed ?? 0;
    // First sample showing the final committed count: an engine that has committed all and waits for
    // buckets that never close should not have the wait counted against its rate.
    const committedFinalSeconds = samples.find((s) => s.committed >= lastCommitted)?.seconds ?? 0;
    const seconds = completedSeconds ?? last?.seconds ?? 0;
    // Incomplete run: the rate of what the engine committed (its durable progress), not of what it was fed.
    const [doneRecords, rateSeconds] =
      completedSeconds !== undefined
        ? [published.records, completedSeconds]
        : [lastCommitted, committedFinalSeconds];
    let growing = 0;
    for (let i = 1; i < samples.length; i++) {
      if ((samples[i]?.predictions ?? 0) > (samples[i - 1]?.predictions ?? 0)) growing++;
    }
    const round1 = (x: number): number => Number(x.toFixed(1));
    printJson({
      bench: 'backfill',
      machine: machineInfo(),
      compiled: runningCompiled,
      loadAverage: { before: loadBefore, after: loadAfter },
      fleet: { machines, days, records: published.records, publishSeconds: published.publishSeconds },
      heapGrowingPercent: config.pipeline.heapGrowingPercent,
      database,
      completed: completedSeconds !== undefined,
      ...(engineError !== undefined ? { engineError } : {}),
      seconds: round1(seconds),
      eventsPerSecond: rateSeconds > 0 ? Math.round(doneRecords / rateSeconds) : 0,
      committedRecords: lastCommitted,
      committedFinalSeconds: round1(committedFinalSeconds),
      predictions: { expected, final: finalPredictions },
      firstPredictionSeconds: firstPredictionSeconds === undefined ? null : round1(firstPredictionSeconds),
      rssBeforeEngineBytes: rssBeforeBytes,
      peakRssBytes: Math.max(sampledPeakRss, process.resourceUsage().maxRSS * 1024),
      sampledPeakRssBytes: sampledPeakRss,
      // What the sampled peak was made of: the rest is code, the ONNX worker's heap and native memory.
      atSampledPeak: atPeak(samples),
      sampleIntervalMs: SAMPLE_MS,
      // Process CPU (engine, ONNX worker, the bench's sampling) and main-thread GC pauses, engine start to end.
      ...engineCost,
      predictionsTimeline: downsample(samples, MAX_TIMELINE_POINTS).map((s) => [
        round1(s.seconds),
        s.predictions,
      ]),
      committedTimeline: downsample(samples, MAX_TIMELINE_POINTS).map((s) => [
        round1(s.seconds),
        s.committed,
      ]),
      fractionOfRunWithPredictionsGrowing:
        samples.length > 1 ? Number((growing / (samples.length - 1)).toFixed(3)) : 0,
    });
  } finally {
    await cleanupBench(config, {
      keepTopics:
        keepFile !== undefined || (reuseFile !== undefined && !process.argv.includes('--drop-topics')),
    });
  }
}
