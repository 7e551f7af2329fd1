/**
 * Scoring stage: model package loading and validation, the micro-batcher, and the onnxruntime session in a
 * worker thread. Other stages import only from here.
 */
import { decisionRule } from './decision.js';
import { createMicroBatcher, type MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import type { ModelPackage } from './model-package.js';
import { createOnnxScorer } from './onnx-session.js';
import type { Scorer } from './types.js';
import { createWorkerScorer } from './worker-scorer.js';

export type { Scorer, ScoreInputRow, ScoredRow } from './types.js';
export {
  loadModelPackage,
  validateModelJson,
  compatibilityProblems,
  alertIndex,
  RUNNING_SPEC,
  type ModelPackage,
  type ModelJson,
  type EngineSpec,
  type LoadModelPackageOptions,
} from './model-package.js';
export {
  decisionRule,
  warmUpPairs,
  isWarmingUp,
  alertMask,
  strongestAlert,
  alertClasses,
  MAX_ALERT_CLASSES,
  type DecisionRule,
  type DecisionSource,
} from './decision.js';
export { createOnnxScorer, sessionOptions, type OnnxSessionOptions } from './onnx-session.js';
export { createWorkerScorer, type WorkerScorerOptions } from './worker-scorer.js';
export { createMicroBatcher, type MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
export {
  createHotSwapScorer,
  RELOAD_FAILURE_REASONS,
  type HotSwapScorer,
  type HotSwapScorerOptions,
  type ReloadOutcome,
  type ReloadFailureReason,
} from './hot-swap.js';
export { resolveFollowedPackage, packageFingerprint, CURRENT_ENTRY } from './model-follow.js';
export { readFixtureRows, smokeProblem, FIXTURES_FILE, PROBABILITY_SUM_TOLERANCE } from './package-check.js';
export {
  readFeatureCsv,
  featureColumns,
  parseFeatureLine,
  scoreCsvHeader,
  formatScoredRows,
  formatFloat32,
  type FeatureCsvOptions,
} from './score-csv.js';

export interface PackageScorerOptions {
  /**
   * Run onnxruntime on the calling thread instead of a worker. Only for measurements and one-shot tools:
   * a run then blocks the event loop for its whole duration. @default false
   */
  readonly inThread?: boolean;
}

/** Opens an onnxruntime session for a loaded package, in a worker thread unless told otherwise. */
export function createPackageScorer(pkg: ModelPackage, options: PackageScorerOptions = {}): Promise<Scorer> {
  const session = {
    inputName: pkg.inputName,
    outputName: pkg.outputName,
    nFeatures: pkg.nFeatures,
    nClasses: pkg.nClasses,
  };
  return options.inThread === true
    ? createOnnxScorer(pkg.modelPath, session)
    : createWorkerScorer({ modelPath: pkg.modelPath, ...session });
}

/** The micro-batcher of a loaded package: its scorer (in a worker), shapes, model version and decision rule. */
export async function createPackageBatcher(
  pkg: ModelPackage,
  options: Required<Pick<MicroBatcherOptions, 'maxRows' | 'maxWaitMs'>> &
    Pick<MicroBatcherOptions, 'maxRunsInFlight'>,
): Promise<MicroBatcher> {
  return createMicroBatcher({
    scorer: await createPackageScorer(pkg),
    maxRows: options.maxRows,
    maxWaitMs: options.maxWaitMs,
    ...(options.maxRunsInFlight === undefined ? {} : { maxRunsInFlight: options.maxRunsInFlight }),
    nFeatures: pkg.nFeatures,
    classes: pkg.classes,
    modelVersion: pkg.modelVersion,
    decision: decisionRule(pkg),
  });
}
