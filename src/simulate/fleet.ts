/**
 * The simulated fleet as a stream of events in event-time order. Only the small per-machine plans
 * (maintenance, failures, drift episodes) are held in memory; telemetry and errors are drawn tick by tick,
 * so 1,000 machines × a year costs the same memory as 1,000 machines × a day.
 */
import { ERROR_IDS, SENSORS } from '../features/index.js';
import { ConfigError } from '../shared/errors.js';
import { DAY_MS, type FailureRecord, type MachineRecord, type PdmEvent } from '../shared/records.js';
import { ERROR_RATE_PER_DAY, SENSOR_PROFILE } from './fleet-profile.js';
import {
  TICK_STREAM,
  comparePlanned,
  episodeStrength,
  planMachine,
  type DriftEpisode,
  type FleetClock,
  type MachinePlan,
  type PlannedEvent,
} from './fleet-plan.js';
import { createRng, deriveSeed, type Rng } from './prng.js';

export interface FleetOptions {
  /** Machines, with ids 1..machines. @default 20 */
  readonly machines?: number;
  /** Days of event time with telemetry. @default 30 */
  readonly days?: number;
  /** First telemetry instant, epoch ms UTC. @default Date.UTC(2026, 0, 1) */
  readonly startMs?: number;
  /** Telemetry interval. @default 60 */
  readonly intervalMinutes?: number;
  /** Same seed ⇒ identical records. @default 42 */
  readonly seed?: number;
}

export const FLEET_DEFAULTS = {
  machines: 20,
  days: 30,
  startMs: Date.UTC(2026, 0, 1),
  intervalMinutes: 60,
  seed: 42,
} as const;

export interface Fleet {
  readonly clock: FleetClock;
  readonly machines: readonly MachineRecord[];
  /** The failures the fleet will emit, in emission order (ground truth for tests and reports). */
  readonly failures: readonly FailureRecord[];
  /** Telemetry records the fleet will emit: machines × ticks. */
  readonly telemetryCount: number;
  /** A fresh iteration over all events: machines, then timed events in non-decreasing ts. */
  events(): Generator<PdmEvent>;
}

const SENSOR_COUNT = SENSORS.length;
const NOISE_SD = SENSORS.map((s) => SENSOR_PROFILE[s].noiseSd);

/** Sensor `i`: the machine's level plus the degradation shift, and noise widened by the degradation gain. */
function reading(
  i: number,
  level: ArrayLike<number>,
  shift: Float64Array,
  gain: Float64Array,
  rng: Rng,
): number {
  return (
    (level[i] as number) +
    (shift[i] as number) +
    (NOISE_SD[i] as number) * (1 + (gain[i] as number)) * rng.normal()
  );
}
const BASE_ERROR_RATE = ERROR_IDS.map((id) => ERROR_RATE_PER_DAY[id]);

function checkOptions(o: Required<FleetOptions>): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.machines) || o.machines < 1 || o.machines > 1_000_000) {
    problems.push('machines must be an integer 1..1000000');
  }
  if (!(o.days > 0 && o.days <= 3660)) problems.push('days must be > 0 and ≤ 3660');
  if (!Number.isFinite(o.startMs)) problems.push('start must be a valid date');
  if (!(o.intervalMinutes > 0 && o.intervalMinutes <= 1440))
    problems.push('interval must be in (0, 1440] minutes');
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > Number.MAX_SAFE_INTEGER) {
    problems.push('seed must be a non-negative integer');
  }
  if (problems.length > 0) throw new ConfigError(`simulate: ${problems.join('; ')}`, { stage: 'simulate' });
}

/** Per-machine mutable state of one iteration. */
interface MachineState {
  readonly plan: MachinePlan;
  readonly rng: Rng;
  nextEpisode: number;
  active: DriftEpisode[];
}

function tickOf(s: MachineState, t: number): void {
  const eps = s.plan.episodes;
  while (s.nextEpisode < eps.length && (eps[s.nextEpisode] as DriftEpisode).startMs <= t) {
    s.active.push(eps[s.nextEpisode] as DriftEpisode);
    s.nextEpisode++;
  }
  if (s.active.length > 0) s.active = s.active.filter((e) => e.endMs >= t);
}

export function createFleet(options: FleetOptions = {}): Fleet {
  const o: Required<FleetOptions> = { ...FLEET_DEFAULTS, ...options };
  checkOptions(o);
  const tickMs = Math.round(o.intervalMinutes * 60_000);
  const clock: FleetClock = {
    seed: o.seed,
    startMs: o.startMs,
    endMs: o.startMs + Math.round(o.days * DAY_MS),
    tickMs,
  };
  const plans: MachinePlan[] = [];
  for (let id = 1; id <= o.machines; id++) plans.push(planMachine(clock, id));
  const planned: PlannedEvent[] = plans.flatMap((p) => p.planned).sort(comparePlanned);
  const ticks = Math.ceil((clock.endMs - clock.startMs) / tickMs);
  const tickDays = tickMs / DAY_MS;

  function* events(): Generator<PdmEvent> {
    for (const p of plans) yield { kind: 'machines', record: p.machine };
    const states: MachineState[] = plans.map((plan) => ({
      plan,
      rng: createRng(deriveSeed(o.seed, plan.machine.machineId, TICK_STREAM)),
      nextEpisode: 0,
      active: [],
    }));
    const shift = new Float64Array(SENSOR_COUNT);
    const gain = new Float64Array(SENSOR_COUNT);
    const rates = new Array<number>(ERROR_IDS.length).fill(0);
    const pendingErrors: PdmEvent[] = [];
    let p = 0;
    for (let i = 0; i < ticks; i++) {
      const t = clock.startMs + i * tickMs;
      // History and anything planned between ticks comes before this tick's telemetry.
      while (p < planned.length && (planned[p] as PlannedEvent).ts < t)
        yield plannedEvent(planned[p++] as PlannedEvent);
      for (const s of states) {
        tickOf(s, t);
        shift.fill(0);
        gain.fill(0);
        for (let j = 0; j < rates.length; j++) rates[j] = BASE_ERROR_RATE[j] as number;
        for (const e of s.active) {
          const x = episodeStrength(e, t);
          if (x === 0) continue;
          for (let k = 0; k < SENSOR_COUNT; k++) {
            shift[k] = (shift[k] as number) + (e.shift[k] as number) * x;
            gain[k] = (gain[k] as number) + (e.noiseGain[k] as number) * x;
          }
          for (let j = 0; j < rates.length; j++)
            rates[j] = (rates[j] as number) + (e.errorRatePerDay[j] as number) * x;
        }
        const lv = s.plan.level;
        const n = s.rng;
        const machineId = s.plan.machine.machineId;
        // Drawn in sensor order: the seeded sequence (and so every record) depends on it.
        const volt = reading(0, lv, shift, gain, n);
        const rotate = reading(1, lv, shift, gain, n);
        const pressure = reading(2, lv, shift, gain, n);
        const vibration = reading(3, lv, shift, gain, n);
        yield { kind: 'telemetry', record: { machineId, ts: t, volt, rotate, pressure, vibration } };
        // At most one error per machine and tick: rates are ≪ 1 per hour, and one draw per tick keeps the
        // generator cheap. With daily ticks a very high rate is clipped at one error a day.
        let total = 0;
        for (const r of rates) total += r;
        const u = s.rng.next();
        if (u < total * tickDays) {
          const errorId = ERROR_IDS[s.rng.weighted(rates)] ?? 'error1';
          pendingErrors.push({ kind: 'errors', record: { machineId, ts: t, errorId } });
        }
      }
      // Tie order at one instant: telemetry, errors, maintenance, failures (as readReferenceCsv yields them).
      for (const e of pendingErrors) yield e;
      pendingErrors.length = 0;
      while (p < planned.length && (planned[p] as PlannedEvent).ts === t)
        yield plannedEvent(planned[p++] as PlannedEvent);
    }
    while (p < planned.length) yield plannedEvent(planned[p++] as PlannedEvent);
  }

  return {
    clock,
    machines: plans.map((p) => p.machine),
    failures: planned
      .filter((e) => e.kind === 'failures')
      .map((e) => ({ machineId: e.machineId, ts: e.ts, failure: e.comp })),
    telemetryCount: ticks * o.machines,
    events,
  };
}

function plannedEvent(e: PlannedEvent): PdmEvent {
  return e.kind === 'maintenance'
    ? { kind: 'maintenance', record: { machineId: e.machineId, ts: e.ts, comp: e.comp } }
    : { kind: 'failures', record: { machineId: e.machineId, ts: e.ts, failure: e.comp } };
}
