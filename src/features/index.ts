/**
 * Feature stage (feature set pdm-v1, ../shared/FEATURES.md). Other stages import only from here.
 */
export * from './spec.js';
export {
  createFeatureEngine,
  DEFAULT_FUTURE_SKEW_MS,
  type FeatureEngine,
  type FeatureEngineOptions,
} from './engine.js';
export { checkEventTime, END_EVENT_TS_MS, formatInstant, MIN_EVENT_TS_MS } from './validate.js';
export {
  FEATURE_DEAD_LETTER_REASONS,
  isDeadLetterOutcome,
  type FeatureDeadLetterReason,
  type CloseResult,
  type DeadLetterOutcome,
  type DuplicateOutcome,
  type EventOutcome,
  type FeatureCounts,
  type FeatureEngineStats,
  type FeatureRow,
  type SilentRun,
} from './types.js';
export {
  labelFailureProblem,
  labelFor,
  labelWindowComplete,
  LABEL_HORIZON_MS,
  type LabelFailureProblem,
} from './label.js';
export {
  createFailureIndex,
  type FailureAddOutcome,
  type FailureIndex,
  type FailureIndexCounts,
} from './failure-index.js';
export { windowGeometry, MIN_SLOT_MS, type WindowGeometry } from './window-math.js';
export { buildFeatures, type BuildFeaturesOptions, type BuildFeaturesSummary } from './batch.js';
export {
  createFeatureCsvWriter,
  featureCsvHeader,
  featureFileMeta,
  formatFeatureRows,
  type FeatureCsvWriter,
  type FeatureFileMeta,
} from './feature-csv.js';
