/**
 * The plan of one simulated machine: metadata, failures with their degradation, benign excursions and
 * maintenance. Pure and deterministic: each machine and each process (failures of comp<k>, visits,
 * excursions) draws from its own seeded stream, so machine m is the same in a fleet of 5 or of 500.
 */
import { COMPONENTS, ERROR_IDS, MODELS, SENSORS } from '../features/index.js';
import { DAY_MS, HOUR_MS, type MachineRecord } from '../shared/records.js';
import {
  DEGRADATION,
  DEGRADATION_DAYS,
  DEGRADATION_ERROR_RATE_PER_DAY,
  DEGRADATION_NOISE_GAIN,
  DEGRADATION_SHAPE,
  DEGRADATION_STRENGTH,
  EXCURSION,
  FIRST_FAILURE_AFTER_MS,
  HISTORY_MS,
  MAX_AGE_YEARS,
  MIN_FAILURE_GAP_MS,
  MODEL_WEIGHTS,
  MTBF_DAYS,
  NO_SCHEDULED_REPLACEMENT_MARGIN_MS,
  SCHEDULED_VISITS,
  SENSOR_PROFILE,
} from './fleet-profile.js';
import { createRng, deriveSeed, type Rng } from './prng.js';

/** Time frame shared by all machines of a fleet. */
export interface FleetClock {
  readonly seed: number;
  /** First telemetry instant, epoch ms. */
  readonly startMs: number;
  /** Telemetry instants are `startMs + i·tickMs < endMs`. */
  readonly endMs: number;
  readonly tickMs: number;
}

/** A drift of the sensors over `[startMs, endMs]`; a degradation peaks at `endMs` (the failure). */
export interface DriftEpisode {
  readonly kind: 'degradation' | 'excursion';
  readonly startMs: number;
  readonly endMs: number;
  /** Shift per sensor (SENSORS order) at full strength, in sensor units. */
  readonly shift: readonly number[];
  /** Extra noise per sensor at full strength, as a multiple of the healthy noise sd. */
  readonly noiseGain: readonly number[];
  /** Extra rate per error type (ERROR_IDS order) at full strength, per day. */
  readonly errorRatePerDay: readonly number[];
}

export interface PlannedEvent {
  readonly kind: 'maintenance' | 'failures';
  readonly ts: number;
  readonly machineId: number;
  readonly comp: string;
}

export interface MachinePlan {
  readonly machine: MachineRecord;
  /** Healthy level per sensor (SENSORS order): profile mean plus this machine's offset. */
  readonly level: readonly number[];
  /** Sorted by `startMs`. */
  readonly episodes: readonly DriftEpisode[];
  /** Maintenance and failures with `ts < endMs`, sorted by ts (maintenance first on equal ts). */
  readonly planned: readonly PlannedEvent[];
}

/** Stream ids of deriveSeed(seed, machineId, stream): fixed so that plans are stable across versions. */
const STREAM = { meta: 0, failures: 10, excursions: 20, visits: 30, ticks: 40 } as const;
export const TICK_STREAM = STREAM.ticks;

/** Strength of an episode at `t` in [0, 1]: a convex ramp for degradations, a triangle for excursions. */
export function episodeStrength(e: DriftEpisode, t: number): number {
  if (t < e.startMs || t > e.endMs) return 0;
  const x = e.endMs === e.startMs ? 1 : (t - e.startMs) / (e.endMs - e.startMs);
  return e.kind === 'degradation' ? x ** DEGRADATION_SHAPE : 1 - Math.abs(2 * x - 1);
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

function alignToTick(clock: FleetClock, t: number): number {
  return clock.startMs + Math.round((t - clock.startMs) / clock.tickMs) * clock.tickMs;
}

interface PlannedFailure {
  readonly ts: number;
  readonly comp: (typeof COMPONENTS)[number];
  readonly episode: DriftEpisode;
}

function degradationEpisode(comp: (typeof COMPONENTS)[number], failureMs: number, rng: Rng): DriftEpisode {
  const spec = DEGRADATION[comp];
  const lengthMs = rng.uniform(DEGRADATION_DAYS.min, DEGRADATION_DAYS.max) * DAY_MS;
  const strength = rng.uniform(DEGRADATION_STRENGTH.min, DEGRADATION_STRENGTH.max);
  const shift = zeros(SENSORS.length);
  const noiseGain = zeros(SENSORS.length);
  SENSORS.forEach((s, i) => {
    const w: number = (spec.drift as { readonly [k: string]: number | undefined })[s] ?? 0;
    shift[i] = w * strength * SENSOR_PROFILE[s].noiseSd;
    if (Math.abs(w) === 1) noiseGain[i] = DEGRADATION_NOISE_GAIN;
  });
  const errorRatePerDay = zeros(ERROR_IDS.length);
  for (const id of spec.errors) {
    errorRatePerDay[ERROR_IDS.indexOf(id)] = DEGRADATION_ERROR_RATE_PER_DAY / spec.errors.length;
  }
  return {
    kind: 'degradation',
    startMs: failureMs - lengthMs,
    endMs: failureMs,
    shift,
    noiseGain,
    errorRatePerDay,
  };
}

function planFailures(clock: FleetClock, machineId: number): PlannedFailure[] {
  const out: PlannedFailure[] = [];
  COMPONENTS.forEach((comp, k) => {
    const rng = createRng(deriveSeed(clock.seed, machineId, STREAM.failures + k));
    const meanGapMs = MTBF_DAYS[comp] * DAY_MS - MIN_FAILURE_GAP_MS;
    let t = clock.startMs + FIRST_FAILURE_AFTER_MS + rng.exponential(meanGapMs);
    for (;;) {
      const ts = alignToTick(clock, t);
      if (ts >= clock.endMs) break;
      out.push({ ts, comp, episode: degradationEpisode(comp, ts, rng) });
      t = ts + MIN_FAILURE_GAP_MS + rng.exponential(meanGapMs);
    }
  });
  return out;
}

function planExcursions(clock: FleetClock, machineId: number): DriftEpisode[] {
  const rng = createRng(deriveSeed(clock.seed, machineId, STREAM.excursions));
  const out: DriftEpisode[] = [];
  let t = clock.startMs + rng.exponential(EXCURSION.meanGapDays * DAY_MS);
  while (t < clock.endMs) {
    const lengthMs = rng.uniform(EXCURSION.minHours, EXCURSION.maxHours) * HOUR_MS;
    const sensor = rng.int(0, SENSORS.length - 1);
    const strength = rng.uniform(EXCURSION.strength.min, EXCURSION.strength.max);
    const shift = zeros(SENSORS.length);
    const name = SENSORS[sensor] ?? 'volt';
    // Same direction as that sensor's degradation, so an excursion looks like the start of one.
    shift[sensor] = (name === 'rotate' ? -1 : 1) * strength * SENSOR_PROFILE[name].noiseSd;
    out.push({
      kind: 'excursion',
      startMs: t,
      endMs: t + lengthMs,
      shift,
      noiseGain: zeros(SENSORS.length),
      errorRatePerDay: zeros(ERROR_IDS.length),
    });
    t += lengthMs + rng.exponential(EXCURSION.meanGapDays * DAY_MS);
  }
  return out;
}

function planVisits(
  clock: FleetClock,
  machineId: number,
  failures: readonly PlannedFailure[],
): PlannedEvent[] {
  const rng = createRng(deriveSeed(clock.seed, machineId, STREAM.visits));
  const out: PlannedEvent[] = [];
  let t = clock.startMs - HISTORY_MS + rng.uniform(0, SCHEDULED_VISITS.maxDays) * DAY_MS;
  while (t < clock.endMs) {
    const ts = alignToTick(clock, t);
    const count = rng.next() < SCHEDULED_VISITS.twoCompsP ? 2 : 1;
    const order = rng.next();
    if (ts < clock.endMs) {
      // Replacing a component during its degradation would prevent the failure the plan already holds.
      const eligible = COMPONENTS.filter(
        (c) =>
          !failures.some(
            (f) => f.comp === c && ts <= f.ts && ts >= f.episode.startMs - NO_SCHEDULED_REPLACEMENT_MARGIN_MS,
          ),
      );
      const first = Math.floor(order * eligible.length);
      for (let j = 0; j < Math.min(count, eligible.length); j++) {
        const comp = eligible[(first + j) % eligible.length] ?? 'comp1';
        out.push({ kind: 'maintenance', ts, machineId, comp });
      }
    }
    t += rng.uniform(SCHEDULED_VISITS.minDays, SCHEDULED_VISITS.maxDays) * DAY_MS;
  }
  return out;
}

const RANK = { maintenance: 0, failures: 1 } as const;

export function comparePlanned(a: PlannedEvent, b: PlannedEvent): number {
  return a.ts - b.ts || RANK[a.kind] - RANK[b.kind] || a.machineId - b.machineId;
}

export function planMachine(clock: FleetClock, machineId: number): MachinePlan {
  const meta = createRng(deriveSeed(clock.seed, machineId, STREAM.meta));
  const model = MODELS[meta.weighted(MODELS.map((m) => MODEL_WEIGHTS[m]))] ?? 'model1';
  const age = meta.int(0, MAX_AGE_YEARS);
  const level = SENSORS.map(
    (s) => SENSOR_PROFILE[s].mean + SENSOR_PROFILE[s].machineOffsetSd * meta.normal(),
  );

  const failures = planFailures(clock, machineId);
  const planned: PlannedEvent[] = planVisits(clock, machineId, failures);
  for (const f of failures) {
    // The failed component is replaced at the failure instant, as in the reference data set.
    planned.push({ kind: 'maintenance', ts: f.ts, machineId, comp: f.comp });
    planned.push({ kind: 'failures', ts: f.ts, machineId, comp: f.comp });
  }
  planned.sort(comparePlanned);
  const episodes = [...failures.map((f) => f.episode), ...planExcursions(clock, machineId)].sort(
    (a, b) => a.startMs - b.startMs,
  );
  return { machine: { machineId, model, age }, level, episodes, planned };
}
