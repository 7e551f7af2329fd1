/**
 * Feature-stage benchmark; prints one JSON object.
 *
 *   npx tsx bench/features.ts [--machines 100000] [--hours 96] [--batch 10000]
 *                             [--minute-machines 500] [--minute-hours 48]
 *
 * 1. Hourly fleet (default 100k machines × 96 h, plus errors, replacements and metadata): events/s through
 *    `ingest` + `closeReady` in Kafka-sized batches (event objects are built outside the timed region), and
 *    state bytes per machine at steady state, measured two ways:
 *    - heap delta: (heapUsed + arrayBuffers) after a forced full GC, before creating the engine vs after the
 *      run (input batches released), divided by machines — everything the engine retains;
 *    - exact typed-array bytes (the engine's running byte account) and the engine's own stateBytes estimate.
 * 2. Per-minute telemetry (default 500 machines × 48 h): the same figures at 60× the frequency.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { createFeatureEngine, type FeatureEngine } from '../src/features/index.js';
import type { FeatureConfig } from '../src/config/index.js';
import type { PdmEvent } from '../src/shared/records.js';
import { numberArg } from './args.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const HOUR = 3_600_000;
const T0 = Date.UTC(2015, 0, 1);
const CONFIG: FeatureConfig = {
  bucketMs: 12 * HOUR,
  allowedLatenessMs: 2 * HOUR,
  ranges: {
    volt: { min: 0, max: 1000 },
    rotate: { min: 0, max: 5000 },
    pressure: { min: 0, max: 1000 },
    vibration: { min: 0, max: 500 },
  },
};

function retainedBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** xorshift32, so that runs are repeatable. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

interface FleetResult {
  machines: number;
  readingsPerMachine: number;
  events: number;
  rows: number;
  silentBuckets: number;
  seconds: number;
  eventsPerSec: number;
  closeReadyCalls: number;
  heapDeltaBytesPerMachine: number;
  typedArrayBytesPerMachine: number;
  statsStateBytesPerMachine: number;
  statsMicros: number;
}

function runFleet(machines: number, steps: number, stepMs: number, batchSize: number): FleetResult {
  const rnd = rng(machines * 31 + steps);
  const before = retainedBytes();
  let engine: FeatureEngine | null = createFeatureEngine({
    ...CONFIG,
    sideWatermarkMs: Number.POSITIVE_INFINITY,
  });
  const meta: PdmEvent[] = [];
  for (let m = 0; m < machines; m++) {
    meta.push({ kind: 'machines', record: { machineId: m, model: `model${1 + (m % 4)}`, age: m % 21 } });
  }
  engine.ingest(meta);
  let events = meta.length;
  let rows = 0;
  let silentBuckets = 0;
  let calls = 0;
  let ns = 0n;
  let batch: PdmEvent[] = [];
  const flush = (eng: FeatureEngine): void => {
    const t = process.hrtime.bigint();
    eng.ingest(batch);
    const r = eng.closeReady();
    ns += process.hrtime.bigint() - t;
    rows += r.rows.length;
    for (const s of r.silent) silentBuckets += s.buckets;
    calls++;
    events += batch.length;
    batch = [];
  };
  for (let step = 0; step < steps; step++) {
    const ts = T0 + step * stepMs;
    for (let m = 0; m < machines; m++) {
      batch.push({
        kind: 'telemetry',
        record: {
          machineId: m,
          ts: ts + (m % 1000),
          volt: 170 + 15 * (rnd() - 0.5),
          rotate: 446 + 50 * (rnd() - 0.5),
          pressure: 100 + 10 * (rnd() - 0.5),
          vibration: 40 + 5 * (rnd() - 0.5),
        },
      });
      // Reference rates: ~1.6 errors and ~1.3 replacements per machine per 40 days of hourly data.
      const u = rnd() * (HOUR / stepMs);
      if (u < 0.0017)
        batch.push({ kind: 'errors', record: { machineId: m, ts: ts + 7, errorId: `error${1 + (m % 5)}` } });
      else if (u < 0.003)
        batch.push({ kind: 'maintenance', record: { machineId: m, ts: ts + 9, comp: `comp${1 + (m % 4)}` } });
      if (batch.length >= batchSize) flush(engine);
    }
  }
  if (batch.length > 0) flush(engine);
  const stats = engine.stats();
  const t = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) engine.stats();
  const statsMicros = Number(process.hrtime.bigint() - t) / 1e3 / 100;
  const after = retainedBytes();
  const seconds = Number(ns) / 1e9;
  const result: FleetResult = {
    machines,
    readingsPerMachine: steps,
    events,
    rows,
    silentBuckets,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSec: Math.round((events - meta.length) / seconds),
    closeReadyCalls: calls,
    heapDeltaBytesPerMachine: Math.round((after - before) / machines),
    typedArrayBytesPerMachine: Math.round(stats.typedArrayBytes / machines),
    statsStateBytesPerMachine: Math.round(stats.stateBytes / machines),
    statsMicros: Number(statsMicros.toFixed(2)),
  };
  engine.close();
  engine = null;
  return result;
}

const hourly = runFleet(
  numberArg('machines', 100_000),
  numberArg('hours', 96),
  HOUR,
  numberArg('batch', 10_000),
);
const perMinute = runFleet(
  numberArg('minute-machines', 500),
  numberArg('minute-hours', 48) * 60,
  60_000,
  numberArg('batch', 10_000),
);
console.log(
  JSON.stringify(
    {
      bench: 'features',
      node: process.version,
      bucketMs: CONFIG.bucketMs,
      allowedLatenessMs: CONFIG.allowedLatenessMs,
      memoryMethod:
        'heapDelta = (heapUsed + arrayBuffers) after forced GC, after the run minus before the engine, per machine; ' +
        'typedArray = exact backing-store bytes from the engine byte account; statsState = engine estimate',
      hourly,
      perMinute,
    },
    null,
    2,
  ),
);
