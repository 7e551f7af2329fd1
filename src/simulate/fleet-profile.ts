/**
 * The statistics the simulated fleet imitates (public predictive-maintenance data set: 100 machines, 2015,
 * hourly) and the degradation planted before failures. All in one place so that the model of the fleet can
 * be read, and tuned, without reading the generator.
 */
import { DAY_MS } from '../shared/records.js';
import type { Sensor } from '../features/index.js';

export const MODEL_WEIGHTS = { model1: 16, model2: 17, model3: 35, model4: 32 } as const;
export const MAX_AGE_YEARS = 20;

/**
 * Healthy sensor level and noise. Reference overall mean/sd: volt 170.8/15.5, rotate 446.6/52.7,
 * pressure 100.9/11.0, vibration 40.4/5.4; the overall sd also holds per-machine offsets and degradation,
 * so the white noise is a little smaller.
 */
export const SENSOR_PROFILE = {
  volt: { mean: 170.5, noiseSd: 14.5, machineOffsetSd: 2.0 },
  rotate: { mean: 449, noiseSd: 49, machineOffsetSd: 7 },
  pressure: { mean: 100.5, noiseSd: 10.2, machineOffsetSd: 1.5 },
  vibration: { mean: 40.2, noiseSd: 5.0, machineOffsetSd: 0.7 },
} as const satisfies { readonly [S in Sensor]: { mean: number; noiseSd: number; machineOffsetSd: number } };

/**
 * Mean time between failures per component, in days. The lead asked for 60–120 days so that 20 machines ×
 * 120 days give ~100 failures; the ratios follow the reference counts (comp2 259 > comp1 192 > comp4 179 >
 * comp3 131).
 */
export const MTBF_DAYS = { comp1: 90, comp2: 70, comp3: 130, comp4: 100 } as const;
/** No two failures of one component closer than this: each needs its own degradation window. */
export const MIN_FAILURE_GAP_MS = 10 * DAY_MS;
/** Failures start this long after the first telemetry so that their degradation is observed. */
export const FIRST_FAILURE_AFTER_MS = 2 * DAY_MS;

/**
 * Planted degradation before a failure of each component: which sensors drift, in which direction, and how
 * strongly (in units of that sensor's noise sd at full degradation, before the per-failure factor). Several
 * components share a secondary sensor so that the failing component is not read off one feature.
 */
export const DEGRADATION = {
  comp1: { drift: { volt: 1 }, errors: ['error1'] },
  comp2: { drift: { rotate: -1, vibration: 0.5 }, errors: ['error2', 'error3'] },
  comp3: { drift: { pressure: 1, volt: 0.3 }, errors: ['error4'] },
  comp4: { drift: { vibration: 1, pressure: 0.4 }, errors: ['error5'] },
} as const satisfies {
  readonly [C in keyof typeof MTBF_DAYS]: {
    drift: { readonly [S in Sensor]?: number };
    errors: readonly string[];
  };
};

/** Length of the degradation before a failure, uniform in this range (days): warnings 1–7 days ahead. */
export const DEGRADATION_DAYS = { min: 2, max: 8 } as const;
/** Per-failure strength at the failure instant, in noise sds, uniform in this range. */
export const DEGRADATION_STRENGTH = { min: 1.5, max: 3 } as const;
/** Shape exponent of the ramp `x^p` (x from 0 at onset to 1 at failure): slow start, steep end. */
export const DEGRADATION_SHAPE = 1.5;
/** The primary sensor's noise grows to `1 + this` times its healthy sd at the failure. */
export const DEGRADATION_NOISE_GAIN = 0.5;
/** Extra rate of each related error type at the failure instant (per day), ramped like the drift. */
export const DEGRADATION_ERROR_RATE_PER_DAY = 1.0;

/**
 * Benign excursions: short drifts of one sensor that are not followed by a failure, so that a model must
 * tell a two-to-six-day degradation from a sub-day blip. One per machine every ~90 days on average.
 */
export const EXCURSION = {
  meanGapDays: 90,
  minHours: 6,
  maxHours: 24,
  strength: { min: 1, max: 2.5 },
} as const;

/** Baseline error rates per machine and day (reference: ~3,900 errors over 100 machine-years). */
export const ERROR_RATE_PER_DAY = {
  error1: 0.017,
  error2: 0.016,
  error3: 0.014,
  error4: 0.012,
  error5: 0.006,
} as const;

/** Scheduled maintenance: a visit every `min..max` days, replacing one component (two with `twoCompsP`). */
export const SCHEDULED_VISITS = { minDays: 20, maxDays: 40, twoCompsP: 0.3 } as const;
/** Maintenance history starts this long before the first telemetry (the reference's starts mid-2014). */
export const HISTORY_MS = 180 * DAY_MS;
/**
 * A scheduled visit does not replace a component in the last days before its failure (that would prevent
 * the failure); this margin is added to the degradation window for that check.
 */
export const NO_SCHEDULED_REPLACEMENT_MARGIN_MS = DAY_MS;
