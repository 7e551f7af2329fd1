import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CLASSES, FEATURE_NAMES, FEATURE_SET, SPEC_HASH, type ClassName } from '../features/index.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { alertMask, strongestAlert } from './decision.js';

/**
 * A model package `models/<name>/<version>/` as written by train/ (model.json + model.onnx + report). The
 * scorer refuses a package that was trained on other features than the running engine computes: a model fed
 * shuffled or re-defined inputs still returns plausible probabilities, so this check is the only place
 * where such a mismatch can be noticed.
 */
const MODEL_JSON = z.looseObject({
  formatVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  createdAt: z.string(),
  featureSet: z.string(),
  specHash: z.string(),
  featureNames: z.array(z.string()),
  classes: z.array(z.string()),
  onnx: z.looseObject({
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
    inputName: z.string().min(1),
    inputType: z.literal('float32'),
    probabilitiesOutput: z.string().min(1),
  }),
  alertRule: z
    .looseObject({
      kind: z.literal('per-class-threshold'),
      thresholds: z.record(z.string(), z.number().min(0).max(1)),
      /** Warming-up rows (see decision.ts): 'suppress' never alerts on them, 'score' lets the model decide. */
      warmingUp: z.enum(['suppress', 'score']).optional(),
    })
    .optional(),
});

export type ModelJson = z.infer<typeof MODEL_JSON>;

/** What a package must agree with: the running feature engine. */
export interface EngineSpec {
  readonly featureSet: string;
  readonly specHash: string;
  readonly featureNames: readonly string[];
  readonly classes: readonly string[];
}

export const RUNNING_SPEC: EngineSpec = Object.freeze({
  featureSet: FEATURE_SET,
  specHash: SPEC_HASH,
  featureNames: FEATURE_NAMES,
  classes: CLASSES,
});

export interface ModelPackage {
  readonly dir: string;
  readonly modelPath: string;
  readonly name: string;
  readonly version: string;
  /** `<name>/<version>`, written next to every prediction. */
  readonly modelVersion: string;
  readonly featureNames: readonly string[];
  readonly classes: readonly ClassName[];
  readonly nFeatures: number;
  readonly nClasses: number;
  readonly inputName: string;
  readonly outputName: string;
  /**
   * The alert rule chosen at training time: alert for class i (i ≥ 1) when `probabilities[i] ≥
   * alertThresholds[i]`; index 0 (`none`) is never alerted (Infinity). Undefined when the package has none.
   */
  readonly alertThresholds: Float64Array | undefined;
  /** `alertRule.warmingUp`: whether warming-up rows are kept from alerting. @default 'suppress' */
  readonly warmingUp: 'suppress' | 'score';
  /** The whole model.json, for reporting (metrics, ranges, library versions). */
  readonly meta: ModelJson;
}

const MAX_LISTED = 5;

/** Every way `meta` differs from `spec`, one readable line each; empty when compatible. */
export function compatibilityProblems(meta: ModelJson, spec: EngineSpec = RUNNING_SPEC): string[] {
  const problems: string[] = [];
  if (meta.featureSet !== spec.featureSet) {
    problems.push(`feature set: model "${meta.featureSet}", engine "${spec.featureSet}"`);
  }
  if (meta.specHash !== spec.specHash) {
    problems.push(`feature-spec hash: model ${meta.specHash}, engine ${spec.specHash}`);
  }
  if (meta.featureNames.length !== spec.featureNames.length) {
    problems.push(`feature count: model ${meta.featureNames.length}, engine ${spec.featureNames.length}`);
    const engine = new Set(spec.featureNames);
    const model = new Set(meta.featureNames);
    const extra = meta.featureNames.filter((n) => !engine.has(n));
    const missing = spec.featureNames.filter((n) => !model.has(n));
    if (extra.length > 0) problems.push(`features only in the model: ${listSome(extra)}`);
    if (missing.length > 0) problems.push(`features missing from the model: ${listSome(missing)}`);
  } else {
    const diffs: string[] = [];
    spec.featureNames.forEach((name, i) => {
      if (meta.featureNames[i] !== name)
        diffs.push(`#${i} model "${String(meta.featureNames[i])}", engine "${name}"`);
    });
    if (diffs.length > 0) problems.push(`feature names/order: ${listSome(diffs)}`);
  }
  if (meta.classes.length !== spec.classes.length || meta.classes.some((c, i) => c !== spec.classes[i])) {
    problems.push(`classes: model [${meta.classes.join(', ')}], engine [${spec.classes.join(', ')}]`);
  }
  return problems;
}

function listSome(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; … (${items.length} in all)` : shown;
}

/**
 * Parses and checks a model.json value. Throws ConfigError `MODEL_INVALID` when it is not a model package
 * description, `MODEL_INCOMPATIBLE` (listing each difference) when it does not match `spec`.
 */
export function validateModelJson(raw: unknown, source: string, spec: EngineSpec = RUNNING_SPEC): ModelJson {
  const parsed = MODEL_JSON.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`${source} is not a valid model description: ${issues}`, {
      code: 'MODEL_INVALID',
      stage: 'score',
    });
  }
  const problems = compatibilityProblems(parsed.data, spec);
  if (problems.length > 0) {
    throw new ConfigError(
      `model package ${source} does not match the running feature engine (${spec.featureSet}): ${problems.join('; ')}`,
      { code: 'MODEL_INCOMPATIBLE', stage: 'score' },
    );
  }
  const rule = parsed.data.alertRule;
  if (rule) {
    const unknown = Object.keys(rule.thresholds).filter((c) => !spec.classes.slice(1).includes(c));
    if (unknown.length > 0) {
      throw new ConfigError(`${source}: alertRule names unknown classes ${unknown.join(', ')}`, {
        code: 'MODEL_INVALID',
        stage: 'score',
      });
    }
  }
  return parsed.data;
}

export interface LoadModelPackageOptions {
  /** What the package must match. @default RUNNING_SPEC (this engine's pdm-v1) */
  readonly spec?: EngineSpec;
}

/**
 * Reads `dir/model.json`, validates it against the running feature engine and checks that the ONNX file is
 * the one it describes (sha256). Does not start a session: see `createWorkerScorer`.
 */
export async function loadModelPackage(
  dir: string,
  options: LoadModelPackageOptions = {},
): Promise<ModelPackage> {
  const spec = options.spec ?? RUNNING_SPEC;
  const jsonPath = path.join(dir, 'model.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read model package ${jsonPath}: ${errorMessage(err)}`, {
      code: 'MODEL_INVALID',
      stage: 'score',
      cause: err,
    });
  }
  const meta = validateModelJson(raw, dir, spec);
  const modelPath = path.resolve(dir, meta.onnx.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch (err) {
    throw new ConfigError(`cannot read ${modelPath}: ${errorMessage(err)}`, {
      code: 'MODEL_INVALID',
      stage: 'score',
      cause: err,
    });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== meta.onnx.sha256) {
    throw new ConfigError(`${modelPath} has sha256 ${sha} but model.json expects ${meta.onnx.sha256}`, {
      code: 'MODEL_INVALID',
      stage: 'score',
    });
  }
  // validateModelJson checked that the classes equal the engine's, which are ClassName values.
  const classes = meta.classes as readonly ClassName[];
  let alertThresholds: Float64Array | undefined;
  if (meta.alertRule) {
    const thresholds = meta.alertRule.thresholds;
    alertThresholds = Float64Array.from(classes, (c, i) =>
      i === 0 ? Infinity : (thresholds[c] ?? Infinity),
    );
  }
  return Object.freeze({
    dir,
    modelPath,
    name: meta.name,
    version: meta.version,
    modelVersion: `${meta.name}/${meta.version}`,
    featureNames: meta.featureNames,
    classes,
    nFeatures: meta.featureNames.length,
    nClasses: classes.length,
    inputName: meta.onnx.inputName,
    outputName: meta.onnx.probabilitiesOutput,
    alertThresholds,
    warmingUp: meta.alertRule?.warmingUp ?? 'suppress',
    meta,
  });
}

/**
 * The package's alert rule applied to one row: the alerting class with the largest `p / threshold`, or 0
 * (`none`) when no class reaches its threshold. Same rule as train/'s report (`alert_prediction`).
 */
export function alertIndex(probabilities: ArrayLike<number>, thresholds: Float64Array): number {
  return strongestAlert(probabilities, thresholds, alertMask(probabilities, thresholds));
}
