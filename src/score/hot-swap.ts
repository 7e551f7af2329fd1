import { realpath } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import { PdmError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { MicroBatcher } from './micro-batcher.js';
import { loadModelPackage, RUNNING_SPEC, type EngineSpec, type ModelPackage } from './model-package.js';
import { packageFingerprint, resolveFollowedPackage } from './model-follow.js';
import { readFixtureRows, smokeProblem } from './package-check.js';
import type { ScoreInputRow, ScoredRow } from './types.js';

/**
 * The engine's scorer when the model may change while it runs (PDM_MODEL_WATCH_DIR): it owns the live
 * package's micro-batcher and replaces it between two `score` calls.
 *
 * Why a call never mixes models: `score` takes the live batcher synchronously and hands it all its rows
 * at once, so every row of one call is scored by one package and carries that package's `modelVersion`.
 * The replaced batcher is closed right after the switch; `MicroBatcher.close` flushes and waits for the
 * runs already queued, so a call in progress finishes on the old model before its session closes.
 *
 * A candidate is validated before anything switches: `loadModelPackage` (schema, feature set, spec hash,
 * feature names, classes, ONNX checksum), a version different from the live one, then a session is opened
 * and a smoke run on fixture rows must give probability distributions. A refused package costs one log
 * line and one `pdm_model_reload_failures_total{reason}` increment per distinct set of files; the live
 * model keeps scoring, and the package is read again only when its files change.
 */
export const RELOAD_FAILURE_REASONS = ['follow', 'invalid', 'incompatible', 'version', 'smoke'] as const;
export type ReloadFailureReason = (typeof RELOAD_FAILURE_REASONS)[number];

export type ReloadOutcome =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'swapped'; readonly from: string; readonly to: string }
  | {
      readonly kind: 'refused';
      readonly reason: ReloadFailureReason;
      readonly message: string;
      /** True when these same files were already refused (not logged or counted again). */
      readonly repeated: boolean;
    };

export interface HotSwapScorerOptions {
  /**
   * The package the scorer starts with (already loaded and validated). Undefined: none yet; `score` rejects
   * (`SCORER_UNAVAILABLE`) until a check finds a valid package in `watchDir` (the shadow: a package that cannot
   * be loaded must not stop the engine).
   */
  readonly initial: ModelPackage | undefined;
  /** Opens a package's micro-batcher with the engine's settings (`createPackageBatcher`). */
  readonly createBatcher: (pkg: ModelPackage) => Promise<MicroBatcher>;
  /** PDM_MODEL_WATCH_DIR: what to follow (model-follow.ts). Unset: the model never changes. */
  readonly watchDir?: string | undefined;
  /** PDM_MODEL_POLL_MS: how often `watchDir` is checked; 0 disables the timer. @default 10_000 */
  readonly pollMs?: number | undefined;
  /** A signal that triggers a check at once (the engine uses SIGHUP). Unset: none. */
  readonly reloadSignal?: NodeJS.Signals | undefined;
  readonly log: Logger;
  /** Where `pdm_model_info`, `pdm_model_reloads_total`, `pdm_model_reload_failures_total` go. */
  readonly registry?: Registry;
  /** What a candidate must match. @default RUNNING_SPEC */
  readonly spec?: EngineSpec;
  /**
   * Rows of the smoke run. @default the initial package's fixtures.json rows, plus the candidate's own;
   * a candidate with no rows to try is refused.
   */
  readonly smokeRows?: readonly ScoreInputRow[];
  /**
   * Which model this scorer holds: `live` (the engine's, metrics `pdm_model_*`) or `shadow` (PDM_SHADOW_MODEL_DIR,
   * metrics `pdm_shadow_model_*`, so that both can share one registry). @default 'live'
   */
  readonly role?: 'live' | 'shadow';
}

export interface HotSwapScorer {
  /** `<name>/<version>` of the live package (changes at a switch); `none` before there is one. */
  readonly modelVersion: string;
  readonly package: ModelPackage | undefined;
  /** Scores `rows` with the live package; every result carries its `modelVersion`. */
  score(rows: readonly ScoreInputRow[]): Promise<ScoredRow[]>;
  /** Reads `watchDir` now and switches if it names a new valid package. Concurrent calls share one check. */
  check(): Promise<ReloadOutcome>;
  /**
   * Opens a new session of the live package and then closes the old one: after its worker died, a batcher
   * rejects every call. Concurrent calls and calls during a switch keep whichever session is newest.
   */
  reopen(): Promise<void>;
  /** Stops following, then closes the live batcher (after its queued rows are scored). */
  close(): Promise<void>;
}

interface Live {
  readonly pkg: ModelPackage;
  readonly batcher: MicroBatcher;
  /** packageFingerprint of its directory: a poll that reads the same one does nothing. */
  readonly fingerprint: string;
}

const DEFAULT_POLL_MS = 10_000;

function reasonOf(err: unknown): ReloadFailureReason {
  if (err instanceof PdmError) {
    if (err.code === 'MODEL_FOLLOW') return 'follow';
    if (err.code === 'MODEL_INCOMPATIBLE') return 'incompatible';
    if (err.code === 'MODEL_INVALID') return 'invalid';
  }
  return 'smoke';
}

export async function createHotSwapScorer(options: HotSwapScorerOptions): Promise<HotSwapScorer> {
  const { initial, createBatcher, watchDir, log } = options;
  const spec = options.spec ?? RUNNING_SPEC;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const registers = options.registry === undefined ? [] : [options.registry];
  const role = options.role ?? 'live';
  const prefix = role === 'live' ? 'pdm_model' : 'pdm_shadow_model';
  const info = new Gauge({
    name: `${prefix}_info`,
    help: `The ${role} model package: 1 for its version (name/version)`,
    labelNames: ['version'],
    registers,
  });
  const reloads = new Counter({
    name: `${prefix}_reloads_total`,
    help: `Switches to a new ${role} model package without a restart`,
    registers,
  });
  const failures = new Counter({
    name: `${prefix}_reload_failures_total`,
    help: `${role === 'live' ? 'Model' : 'Shadow model'} packages refused while the ${role} one kept scoring, by reason (follow, invalid, incompatible, version, smoke)`,
    labelNames: ['reason'],
    registers,
  });
  for (const reason of RELOAD_FAILURE_REASONS) failures.inc({ reason }, 0);

  const initialSmoke =
    options.smokeRows ?? (initial === undefined ? [] : (await readFixtureRows(initial.dir)).rows);
  let live: Live | undefined =
    initial === undefined
      ? undefined
      : {
          pkg: initial,
          batcher: await createBatcher(initial),
          fingerprint: await packageFingerprint(await realpath(initial.dir)),
        };
  if (initial !== undefined) info.set({ version: initial.modelVersion }, 1);
  /** The files last refused: the same files are not loaded, logged and counted again at every poll. */
  let refused:
    { readonly key: string; readonly reason: ReloadFailureReason; readonly message: string } | undefined;
  let checking: Promise<ReloadOutcome> | undefined;
  const state = { closed: false };
  // A function, not a read of the flag: `close()` may set it while a check awaits, which narrowing ignores.
  const isClosed = (): boolean => state.closed;

  function refuse(key: string, reason: ReloadFailureReason, message: string, dir?: string): ReloadOutcome {
    const repeated = key === refused?.key;
    if (!repeated) {
      refused = { key, reason, message };
      failures.inc({ reason });
      log.error(
        { dir, reason, err: message, role, current: live?.pkg.modelVersion ?? 'none' },
        `${role} model package refused; the ${role} model keeps scoring`,
      );
    }
    return { kind: 'refused', reason, message, repeated };
  }

  async function smokeRun(batcher: MicroBatcher, pkg: ModelPackage): Promise<string | undefined> {
    const own = options.smokeRows === undefined ? (await readFixtureRows(pkg.dir)).rows : [];
    const rows = [...initialSmoke, ...own];
    if (rows.length === 0) return 'no fixture rows to try the package on';
    const scored = await batcher.submit(rows);
    return smokeProblem(scored, rows.length, pkg.nClasses);
  }

  async function runCheck(): Promise<ReloadOutcome> {
    if (watchDir === undefined || state.closed) return { kind: 'unchanged' };
    let dir: string;
    let fingerprint: string;
    try {
      dir = await resolveFollowedPackage(watchDir);
      fingerprint = await packageFingerprint(dir);
    } catch (err) {
      return refuse(`follow:${errorMessage(err)}`, 'follow', errorMessage(err), watchDir);
    }
    if (fingerprint === live?.fingerprint) {
      refused = undefined;
      return { kind: 'unchanged' };
    }
    if (refused !== undefined && fingerprint === refused.key) {
      return { kind: 'refused', reason: refused.reason, message: refused.message, repeated: true };
    }
    let pkg: ModelPackage;
    try {
      pkg = await loadModelPackage(dir, { spec });
    } catch (err) {
      return refuse(fingerprint, reasonOf(err), errorMessage(err), dir);
    }
    if (live !== undefined && pkg.modelVersion === live.pkg.modelVersion) {
      // The same model under another path or with touched files: nothing to switch.
      if (pkg.meta.onnx.sha256 === live.pkg.meta.onnx.sha256) {
        live = { ...live, fingerprint };
        return { kind: 'unchanged' };
      }
      return refuse(
        fingerprint,
        'version',
        `${dir} is another model under the live version ${pkg.modelVersion}: its predictions could not be told apart`,
        dir,
      );
    }
    let batcher: MicroBatcher | undefined;
    let problem: string | undefined;
    try {
      batcher = await createBatcher(pkg);
      problem = await smokeRun(batcher, pkg);
    } catch (err) {
      problem = `session or smoke run failed: ${errorMessage(err)}`;
    }
    if (problem !== undefined || batcher === undefined || isClosed()) {
      await batcher?.close().catch((err: unknown) => {
        log.warn({ err: errorMessage(err), dir }, 'closing a refused model session');
      });
      if (isClosed()) return { kind: 'unchanged' };
      return refuse(fingerprint, 'smoke', problem ?? 'no session', dir);
    }
    // The switch: synchronous, so no `score` call sees half of it.
    const old = live;
    live = { pkg, batcher, fingerprint };
    refused = undefined;
    info.reset();
    info.set({ version: pkg.modelVersion }, 1);
    reloads.inc();
    const from = old?.pkg.modelVersion ?? 'none';
    log.info({ from, to: pkg.modelVersion, dir, role }, `${role} model package switched`);
    // Queued rows of the old batcher are scored before its session closes (see the file comment).
    if (old !== undefined) await closeReplaced(old);
    return { kind: 'swapped', from, to: pkg.modelVersion };
  }

  async function closeReplaced(old: Live): Promise<void> {
    await old.batcher.close().catch((err: unknown) => {
      // The old session is no longer used: a failed close leaks at most a worker until exit.
      log.warn(
        { err: errorMessage(err), version: old.pkg.modelVersion, role },
        'closing the replaced model session',
      );
    });
  }

  async function reopen(): Promise<void> {
    const current = live;
    if (current === undefined || state.closed) return;
    const batcher = await createBatcher(current.pkg);
    // A switch or another reopen meanwhile, or a close: this session is not needed any more.
    if (live !== current || isClosed()) {
      await batcher.close().catch(() => undefined);
      return;
    }
    live = { ...current, batcher };
    log.warn({ version: current.pkg.modelVersion, role }, `${role} model session reopened`);
    await closeReplaced(current);
  }

  function check(): Promise<ReloadOutcome> {
    checking ??= runCheck().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  const onTick = (): void => {
    // runCheck turns every expected failure into a refusal; anything else is a bug worth a log line.
    check().catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'model package check failed');
    });
  };
  const timer = watchDir !== undefined && pollMs > 0 ? setInterval(onTick, pollMs) : undefined;
  timer?.unref();
  const signal = watchDir !== undefined ? options.reloadSignal : undefined;
  if (signal !== undefined) process.on(signal, onTick);

  return {
    get modelVersion() {
      return live?.pkg.modelVersion ?? 'none';
    },
    get package() {
      return live?.pkg;
    },
    score(rows) {
      if (state.closed) {
        return Promise.reject(new PdmError('scorer is closed', { code: 'SCORER_CLOSED', stage: 'score' }));
      }
      if (live === undefined) {
        return Promise.reject(
          new PdmError(`no ${role} model package loaded yet`, { code: 'SCORER_UNAVAILABLE', stage: 'score' }),
        );
      }
      return live.batcher.submit(rows);
    },
    check,
    reopen,
    async close() {
      if (state.closed) return;
      state.closed = true;
      if (timer !== undefined) clearInterval(timer);
      if (signal !== undefined) process.off(signal, onTick);
      await checking?.catch(() => undefined);
      await live?.batcher.close();
    },
  };
}
