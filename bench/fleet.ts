/**
 * Shared by the bench scripts that need a published fleet on the running local stack: a config of their
 * own (topic prefix, consumer group and ClickHouse database unique to the run), the fleet published to
 * those topics, and a cleanup that drops what the run created. Also the machine facts every bench prints.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { PerformanceObserver, constants, performance, type PerformanceEntry } from 'node:perf_hooks';
import { registerSchemasAndTopics } from '../src/cli/schemas.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { isKafkaOutage } from '../src/ingest/kafka-errors.js';
import { errorMessage, isRetryable } from '../src/shared/errors.js';
import { withRetry } from '../src/shared/retry.js';
import { createProgress } from '../src/shared/progress.js';
import type { EngineMetrics } from '../src/shared/metrics.js';
import { DAY_MS, HOUR_MS, RECORD_KINDS } from '../src/shared/records.js';
import { createFleet, openKafkaPublisher, simulateToPublisher } from '../src/simulate/index.js';
import { createClickHouse, migrate, quoteIdent } from '../src/sink/index.js';
import { deleteTopicsAndSubjects } from '../test/support/stack-cleanup.js';
import { measureMachine, type MachineCpu } from './machine-cpu.js';

/** The topics the engine reads. Failures are training labels only: no bench counts them as consumed. */
export const INPUT_KINDS = ['telemetry', 'errors', 'maintenance', 'machines'] as const;

/** Same first instant as bench/engine.ts, so that figures of the two compare. */
const FLEET_START_MS = Date.UTC(2026, 0, 1);

/**
 * FLEET_START_MS, or earlier when the fleet would otherwise run past today: the engine dead-letters events
 * later than its clock plus PDM_FUTURE_SKEW_MS (FUTURE_EVENT), so their buckets would never close.
 */
function fleetStartMs(days: number): number {
  return Math.min(FLEET_START_MS, Math.floor(Date.now() / DAY_MS) * DAY_MS - days * DAY_MS);
}

export interface PublishedFleet {
  readonly config: Config;
  /** Records acknowledged on the engine's input topics ({@link INPUT_KINDS}). */
  readonly records: number;
  /** Acknowledged records per kind, failures included. */
  readonly counts: Record<string, number>;
  readonly startMs: number;
  /** First instant after the fleet's event time. */
  readonly endMs: number;
  /** Drops the run's database and deletes its topics. */
  cleanup(): Promise<void>;
}

export interface PublishFleetOptions {
  readonly machines: number;
  readonly days: number;
  /** @default 5 (bench/engine.ts) */
  readonly seed?: number;
  /** Reuse a run token (a child process publishing for its parent). @default random */
  readonly token?: string;
  /** Progress lines on stderr while publishing. @default false */
  readonly progress?: boolean;
}

/**
 * Settings of one bench run: its own topics `bench<token>.*`, group `bench-<token>`, database. With
 * `topicsToken`, the topics of an earlier run (`bench<topicsToken>.*`) under this run's group and database.
 */
export function benchConfig(token: string = randomBytes(3).toString('hex'), topicsToken = token): Config {
  return loadConfig({
    ...process.env,
    PDM_TOPIC_PREFIX: `bench${topicsToken}.`,
    PDM_GROUP_ID: `bench-${token}`,
    CLICKHOUSE_DATABASE: `pdm_bench_${token}`,
    PDM_HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
  });
}

/**
 * Drops the database and deletes the topics of a {@link benchConfig}, and their registry subjects (a
 * long-lived local stack otherwise gathers thousands, and a registry lists at most 1,000 of them).
 * `keepTopics` keeps topics and subjects, for a later `--reuse`.
 */
export async function cleanupBench(config: Config, opts: { keepTopics?: boolean } = {}): Promise<void> {
  const ch = createClickHouse(config.clickhouse);
  try {
    await ch.exec(`DROP DATABASE IF EXISTS ${quoteIdent(config.clickhouse.database)}`);
  } finally {
    await ch.close();
  }
  if (opts.keepTopics === true) return;
  // The engine's alerts topic too: it is the run's own (prefix), and was left behind before.
  const topics = new Set([...RECORD_KINDS.map((k) => config.kafka.topics[k]), config.alerts.topic]);
  await deleteTopicsAndSubjects(config, (t) => topics.has(t));
}

/**
 * How a bench's database is when the measured engine starts. By default it is migrated before the phase,
 * as a deployment has it: `pdm-stream migrate` runs as its own job before a rollout
 * (deploy/k8s/migrate-job.yaml), and the engine's own migrate at start finds nothing pending (one query).
 * `fresh` leaves the database empty, so that the engine creates it inside the measured start (a first
 * deployment: about 45 statements one after the other, 0.3–0.5 s on the local ClickHouse 18.16).
 */
export interface BenchDatabase {
  /** Whether the engine migrated the database itself, inside the measured phase. */
  readonly migratedByEngine: boolean;
  /** Seconds `migrate` took before the phase; null when the engine migrated it. */
  readonly migrateSeconds: number | null;
}

/** Migrates a bench's database before the measured phase, unless `fresh` ({@link BenchDatabase}). */
export async function prepareBenchDatabase(config: Config, fresh: boolean): Promise<BenchDatabase> {
  if (fresh) return { migratedByEngine: true, migrateSeconds: null };
  const ch = createClickHouse(config.clickhouse);
  try {
    const t0 = performance.now();
    await migrate(ch, config.clickhouse.database);
    return { migratedByEngine: false, migrateSeconds: Number(((performance.now() - t0) / 1000).toFixed(2)) };
  } finally {
    await ch.close();
  }
}

/** Registers the schemas, creates the topics and publishes a simulated fleet to them (acks=-1). */
export async function publishFleet(opts: PublishFleetOptions): Promise<PublishedFleet> {
  const config = benchConfig(opts.token);
  await registerSchemasAndTopics(config);
  const startMs = fleetStartMs(opts.days);
  const fleet = createFleet({ machines: opts.machines, days: opts.days, startMs, seed: opts.seed ?? 5 });
  const publisher = await openKafkaPublisher(config);
  try {
    const summary = await simulateToPublisher(
      fleet,
      publisher,
      opts.progress === true ? { progress: createProgress({ label: 'publish', tty: false }) } : {},
    );
    await publisher.flush();
    const counts: Record<string, number> = { ...summary.counts };
    return {
      config,
      records: INPUT_KINDS.reduce((n, k) => n + (counts[k] ?? 0), 0),
      counts,
      startMs,
      endMs: startMs + opts.days * DAY_MS,
      cleanup: () => cleanupBench(config),
    };
  } finally {
    await publisher.close();
  }
}

/**
 * Predictions the engine can write for a published fleet: one per machine and closable bucket, where a
 * bucket B closes once the machine's last telemetry (hourly, up to endMs − 1 h) is past B + lateness.
 */
export function expectedPredictions(
  config: Config,
  fleet: { readonly machines: number; readonly startMs: number; readonly endMs: number },
): number {
  const { bucketMs, allowedLatenessMs } = config.features;
  const lastClosable = Math.floor((fleet.endMs - HOUR_MS - allowedLatenessMs) / bucketMs);
  const firstBucket = Math.ceil(fleet.startMs / bucketMs);
  return fleet.machines * (lastClosable - firstBucket + 1);
}

/** 1, 5 and 15 minute load averages, two decimals: another job on the machine shows here. */
export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

export function machineInfo(): {
  cpus: number;
  node: string;
  cpuModel: string;
  nodeFlags: string[];
  mallocArenaMax: string | null;
} {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    node: process.version,
    cpuModel: cpus[0]?.model ?? 'unknown',
    nodeFlags: nodeFlags([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]),
    // glibc's arena limit moves the RSS figures by about 30 MB (README, "Memory of a backfill").
    mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
  };
}

/**
 * The V8 and Node flags of this run (`node --heap-growing-percent=50 --import tsx bench/…`, NODE_OPTIONS),
 * without the loaders.
 */
export function nodeFlags(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    if (['--require', '-r', '--import', '--loader', '--experimental-loader'].includes(a)) i++;
    else if (a.startsWith('--') && !/^--(require|import|loader|experimental-loader)=/.test(a)) out.push(a);
  }
  return out;
}

/** The bench's one JSON document on stdout, indented, with arrays of numbers kept on one line. */
export function printJson(doc: unknown): void {
  const text = JSON.stringify(doc, null, 2).replace(
    /\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]/g,
    (_, inner: string) => `[${inner.replace(/\s+/g, '')}]`,
  );
  console.log(text);
}

/**
 * One of a bench's own reads while the engine runs (prediction counts, committed offsets). A Kafka or
 * ClickHouse outage during a run (a broker still loading its coordinators after a restart, a ClickHouse
 * restarted mid-run) is the engine's to ride out: the bench waits for the read like the engine waits for its
 * writes (the project's retry, up to about 5 minutes), instead of ending the run without its figures.
 */
export function benchRead<T>(what: string, read: () => Promise<T>): Promise<T> {
  return withRetry(read, {
    maxMs: 2_000,
    maxAttempts: 150,
    retryOn: (err) => isRetryable(err) || isKafkaOutage(err),
    onRetry: (err, attempt) => {
      if (attempt === 1 || attempt % 10 === 0) {
        console.error(`bench: ${what} failed (attempt ${attempt}): ${errorMessage(err)}; retrying`);
      }
    },
  });
}

/** CPU seconds and garbage-collection pauses of one phase of a bench (less sensitive to load than wall time). */
export interface PhaseCost {
  stop(): {
    cpuSeconds: number;
    /**
     * Share of the phase this process's event loop spent outside its wait for I/O and timers: the main
     * thread running JavaScript (the engine's and the bench's polls) or ready to run it. Near 1: the main
     * thread set the phase's pace; its CPU seconds (machineCpu) below the phase's length then mean it was
     * waiting for a core.
     */
    eventLoopUtilization: number;
    gc: { count: number; scavengeMs: number; markCompactMs: number; otherMs: number };
    /** The machine's cores, the local stack's processes and this process's main thread over the phase (Linux). */
    machineCpu?: MachineCpu;
  };
}

/** `stackPids`: the local services whose CPU seconds are reported too (machine-cpu.ts localStackPids). */
export function measurePhase(stackPids: Record<string, number> = {}): PhaseCost {
  const machine = measureMachine(stackPids);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const gc = { count: 0, scavengeMs: 0, markCompactMs: 0, otherMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      gc.count++;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavengeMs += e.duration;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.markCompactMs += e.duration;
      else gc.otherMs += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      observer.disconnect();
      const cpu = process.cpuUsage(cpu0);
      const machineCpu = machine.stop();
      const r = (x: number) => Math.round(x);
      return {
        ...(machineCpu === undefined ? {} : { machineCpu }),
        cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
        eventLoopUtilization: Number(performance.eventLoopUtilization(elu0).utilization.toFixed(3)),
        gc: {
          count: gc.count,
          scavengeMs: r(gc.scavengeMs),
          markCompactMs: r(gc.markCompactMs),
          otherMs: r(gc.otherMs),
        },
      };
    },
  };
}

/** `_sum` and `_count` of a histogram of the engine's registry: all label sets, or those of one `table`. */
export async function histogramTotals(
  registry: EngineMetrics['registry'],
  name: string,
  table?: string,
): Promise<{ sum: number; count: number }> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return { sum: 0, count: 0 };
  const { values } = await m.get();
  let sum = 0;
  let count = 0;
  // Histogram samples carry their series name (`_bucket`, `_sum`, `_count`); prom-client's type omits it.
  for (const v of values as ((typeof values)[number] & { metricName?: string })[]) {
    if (table !== undefined && v.labels['table'] !== table) continue;
    if (v.metricName === `${name}_sum`) sum += v.value;
    else if (v.metricName === `${name}_count`) count += v.value;
  }
  return { sum, count };
}

/** The total of a counter of the engine's registry over all its label sets (0 when it is not registered). */
export async function counterTotal(registry: EngineMetrics['registry'], name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const { values } = await m.get();
  return values.reduce((n, v) => n + v.value, 0);
}

/** One sample of a backlog's progress: seconds since the engine's start, records it had taken by then. */
export interface ProgressSample {
  readonly seconds: number;
  readonly records: number;
}

/**
 * The backlog's pace once started: records per second between the first samples at or past `from` and at
 * or past `to` of `total` records taken (undefined when the samples do not reach both), so that neither
 * the start (connecting, joining, the ONNX worker) nor the tail (the last writes) is in it.
 */
export function steadyPace(
  samples: readonly ProgressSample[],
  total: number,
  from = 0.1,
  to = 0.9,
): { eventsPerSecond: number; fromSeconds: number; toSeconds: number } | undefined {
  const a = samples.find((s) => s.records >= from * total);
  const b = samples.find((s) => s.records >= to * total);
  if (a === undefined || b === undefined || b.seconds <= a.seconds) return undefined;
  return {
    eventsPerSecond: Math.round((b.records - a.records) / (b.seconds - a.seconds)),
    fromSeconds: Number(a.seconds.toFixed(2)),
    toSeconds: Number(b.seconds.toFixed(2)),
  };
}
