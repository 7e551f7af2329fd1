/**
 * Issue 13, item 3 (hot-swap), without onnxruntime: packages are real directories (copies of the committed
 * package's model.json, the ONNX file linked, so loadModelPackage checks everything), the sessions are fake
 * scorers whose runs the test may hold. Covers: a switch between two score calls (a call in progress ends
 * on the old model, which is then closed), `current` / highest-version following, each refusal reason with
 * its log line and metric (once per set of files), SIGHUP, close.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLASSES, FEATURE_COUNT } from '../../../src/features/index.js';
import {
  createHotSwapScorer,
  createMicroBatcher,
  createPackageBatcher,
  decisionRule,
  loadModelPackage,
  packageFingerprint,
  resolveFollowedPackage,
  type HotSwapScorer,
  type MicroBatcher,
  type ModelPackage,
  type Scorer,
} from '../../../src/score/index.js';
import { capturingLogger, settle } from '../ingest/fake-kafka.js';
import { DEFAULT_PACKAGE } from './package-fixtures.js';

const work = mkdtempSync(path.join(tmpdir(), 'pdm-hot-swap-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

let dirCount = 0;
/** A fresh directory of versions for one test. */
function versionsDir(): string {
  const dir = path.join(work, `models-${++dirCount}`);
  mkdirSync(dir);
  return dir;
}

type Meta = Record<string, unknown> & { version: string; onnx: Record<string, unknown> };

/** Writes `root/<dirName>` as a package: the default's model.json with `version` and `edit` applied. */
function writePackage(
  root: string,
  dirName: string,
  options: { version?: string; edit?: (meta: Meta) => void; onnxBytes?: Buffer; fixtures?: boolean } = {},
): string {
  const dir = path.join(root, dirName);
  mkdirSync(dir, { recursive: true });
  const meta = JSON.parse(readFileSync(path.join(DEFAULT_PACKAGE, 'model.json'), 'utf8')) as Meta;
  meta.version = options.version ?? dirName;
  if (options.onnxBytes === undefined) {
    symlinkSync(path.join(DEFAULT_PACKAGE, 'model.onnx'), path.join(dir, 'model.onnx'));
  } else {
    writeFileSync(path.join(dir, 'model.onnx'), options.onnxBytes);
    meta.onnx.sha256 = createHash('sha256').update(options.onnxBytes).digest('hex');
  }
  if (options.fixtures ?? true) {
    copyFileSync(path.join(DEFAULT_PACKAGE, 'fixtures.json'), path.join(dir, 'fixtures.json'));
  }
  options.edit?.(meta);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(meta));
  return dir;
}

/** Fake sessions: uniform probabilities, NaN for versions containing "nan"; `hold` keeps runs waiting. */
function fakeSessions() {
  const held: (() => void)[] = [];
  const state = { hold: false, closed: [] as string[], opened: [] as string[] };
  function scorerFor(pkg: ModelPackage): Scorer {
    return {
      async score(_rows: Float32Array, nRows: number) {
        if (state.hold) await new Promise<void>((resolve) => held.push(resolve));
        const value = pkg.version.includes('nan') ? NaN : 1 / CLASSES.length;
        return new Float32Array(nRows * CLASSES.length).fill(value);
      },
      close() {
        state.closed.push(pkg.modelVersion);
        return Promise.resolve();
      },
    };
  }
  return {
    state,
    release() {
      state.hold = false;
      for (const r of held.splice(0)) r();
    },
    createBatcher(pkg: ModelPackage): Promise<MicroBatcher> {
      state.opened.push(pkg.modelVersion);
      return Promise.resolve(
        createMicroBatcher({
          scorer: scorerFor(pkg),
          maxRows: 64,
          maxWaitMs: 0,
          nFeatures: pkg.nFeatures,
          classes: pkg.classes,
          modelVersion: pkg.modelVersion,
          decision: decisionRule(pkg),
        }),
      );
    },
  };
}

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    machineId: i,
    bucketMs: 0,
    values: new Float64Array(FEATURE_COUNT).fill(1),
  }));

const open: HotSwapScorer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function start(
  watchDir: string,
  extra: {
    pollMs?: number;
    reloadSignal?: NodeJS.Signals;
    role?: 'live' | 'shadow';
    registry?: Registry;
    /** Start without a package (as the shadow does when its directory holds no valid one). */
    noInitial?: boolean;
  } = {},
) {
  const sessions = fakeSessions();
  const { log, lines } = capturingLogger();
  const registry = extra.registry ?? new Registry();
  const initial =
    extra.noInitial === true ? undefined : await loadModelPackage(await resolveFollowedPackage(watchDir));
  const scorer = await createHotSwapScorer({
    initial,
    createBatcher: (p) => sessions.createBatcher(p),
    watchDir,
    pollMs: extra.pollMs ?? 0,
    reloadSignal: extra.reloadSignal,
    log,
    registry,
    ...(extra.role === undefined ? {} : { role: extra.role }),
  });
  open.push(scorer);
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return m
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((s, v) => s + v.value, 0);
  };
  const modelInfo = async () =>
    ((await registry.getSingleMetric('pdm_model_info')?.get())?.values ?? [])
      .filter((v) => v.value === 1)
      .map((v) => v.labels['version']);
  return { scorer, sessions, lines, metric, modelInfo };
}

describe('following a model directory', () => {
  it('takes the highest version, numerically, among directories holding a model.json', async () => {
    const root = versionsDir();
    writePackage(root, '9');
    writePackage(root, '10');
    mkdirSync(path.join(root, '11-incomplete'));
    expect(await resolveFollowedPackage(root)).toBe(path.join(root, '10'));
  });

  it('prefers `current`, as a symlink or as a file naming the version', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    writePackage(root, '2');
    symlinkSync('1', path.join(root, 'current'));
    expect(await resolveFollowedPackage(root)).toBe(path.join(root, '1'));
    const other = versionsDir();
    writePackage(other, '1');
    writePackage(other, '2');
    writeFileSync(path.join(other, 'current'), '1\n');
    expect(await resolveFollowedPackage(other)).toBe(path.join(other, '1'));
  });

  it('follows a package directory in place, and refuses a directory with nothing to follow', async () => {
    const root = versionsDir();
    const pkg = writePackage(root, '1');
    expect(await resolveFollowedPackage(pkg)).toBe(pkg);
    await expect(resolveFollowedPackage(versionsDir())).rejects.toMatchObject({ code: 'MODEL_FOLLOW' });
    // A file, not a directory: a ConfigError naming it (was a bare ENOTDIR, exit 1 with a stack trace).
    await expect(resolveFollowedPackage(path.join(pkg, 'model.json'))).rejects.toMatchObject({
      code: 'MODEL_FOLLOW',
      message: expect.stringContaining('is neither a model package nor a directory of versions') as string,
    });
  });

  it("fingerprints change with the package's files", async () => {
    const pkg = writePackage(versionsDir(), '1');
    const before = await packageFingerprint(pkg);
    writeFileSync(path.join(pkg, 'model.json'), readFileSync(path.join(pkg, 'model.json'), 'utf8') + '\n');
    expect(await packageFingerprint(pkg)).not.toBe(before);
  });
});

describe('hot-swap scorer', () => {
  it('switches between two score calls; a call in progress ends on the old model, which is then closed', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer, sessions, lines, metric, modelInfo } = await start(root);
    expect(scorer.modelVersion).toBe('pdm-default/1');
    expect(await modelInfo()).toEqual(['pdm-default/1']);
    expect((await scorer.score(rows(3))).map((r) => r.modelVersion)).toEqual(Array(3).fill('pdm-default/1'));
    expect(await scorer.check()).toEqual({ kind: 'unchanged' });

    sessions.state.hold = true;
    const inProgress = scorer.score(rows(100)); // two runs of 64 + 36 on version 1
    writePackage(root, '2');
    // The smoke run of version 2 is held as well: release everything once the check is under way.
    const checking = scorer.check();
    await settle(20);
    sessions.release();
    expect(await checking).toEqual({ kind: 'swapped', from: 'pdm-default/1', to: 'pdm-default/2' });
    const first = await inProgress;
    expect(new Set(first.map((r) => r.modelVersion))).toEqual(new Set(['pdm-default/1']));
    expect(first).toHaveLength(100);
    expect(sessions.state.closed).toEqual(['pdm-default/1']);
    expect(scorer.modelVersion).toBe('pdm-default/2');
    expect(new Set((await scorer.score(rows(5))).map((r) => r.modelVersion))).toEqual(
      new Set(['pdm-default/2']),
    );
    expect(await modelInfo()).toEqual(['pdm-default/2']);
    expect(await metric('pdm_model_reloads_total')).toBe(1);
    expect(await metric('pdm_model_reload_failures_total')).toBe(0);
    expect(lines().filter((l) => l.msg === 'live model package switched')).toHaveLength(1);
  });

  it('a shadow scorer shares the registry with the live one under pdm_shadow_model_* and says so in its logs', async () => {
    const registry = new Registry();
    const liveRoot = versionsDir();
    writePackage(liveRoot, '1');
    const shadowRoot = versionsDir();
    writePackage(shadowRoot, '7');
    await start(liveRoot, { registry });
    const shadow = await start(shadowRoot, { registry, role: 'shadow' });
    writePackage(shadowRoot, '8');
    expect(await shadow.scorer.check()).toEqual({
      kind: 'swapped',
      from: 'pdm-default/7',
      to: 'pdm-default/8',
    });
    const info = async (name: string) =>
      ((await registry.getSingleMetric(name)?.get())?.values ?? [])
        .filter((v) => v.value === 1)
        .map((v) => v.labels['version']);
    expect(await info('pdm_model_info')).toEqual(['pdm-default/1']);
    expect(await info('pdm_shadow_model_info')).toEqual(['pdm-default/8']);
    expect(await shadow.metric('pdm_shadow_model_reloads_total')).toBe(1);
    expect(await shadow.metric('pdm_model_reloads_total')).toBe(0);
    expect(shadow.lines().filter((l) => l.msg === 'shadow model package switched')).toHaveLength(1);
  });

  it('without a package it refuses to score until a check finds a valid one', async () => {
    const root = versionsDir();
    writePackage(root, '1', { edit: (m) => (m['specHash'] = '0'.repeat(64)) });
    const { scorer, metric, modelInfo, lines } = await start(root, { noInitial: true, role: 'shadow' });
    expect(scorer.modelVersion).toBe('none');
    expect(scorer.package).toBeUndefined();
    await expect(scorer.score(rows(2))).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'incompatible' });
    expect(await metric('pdm_shadow_model_reload_failures_total', { reason: 'incompatible' })).toBe(1);
    expect(lines().filter((l) => l.msg.startsWith('shadow model package refused'))).toHaveLength(1);
    writePackage(root, '2');
    expect(await scorer.check()).toEqual({ kind: 'swapped', from: 'none', to: 'pdm-default/2' });
    expect((await scorer.score(rows(2))).map((r) => r.modelVersion)).toEqual([
      'pdm-default/2',
      'pdm-default/2',
    ]);
    expect(await modelInfo()).toEqual([]); // pdm_model_info is the live role's; this one is the shadow
    expect(await metric('pdm_shadow_model_info', { version: 'pdm-default/2' })).toBe(1);
  });

  it('reopen: a new session of the same package replaces the old one, which is closed', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer, sessions } = await start(root);
    await scorer.reopen();
    expect(sessions.state.closed).toEqual(['pdm-default/1']);
    expect(sessions.state.opened).toEqual(['pdm-default/1', 'pdm-default/1']);
    expect((await scorer.score(rows(1))).map((r) => r.modelVersion)).toEqual(['pdm-default/1']);
  });

  it('a call started after the switch uses the new model even while the old one drains', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer } = await start(root);
    writePackage(root, '2');
    const swap = scorer.check();
    const during = scorer.score(rows(2));
    await swap;
    const after = await scorer.score(rows(2));
    // `during` was submitted before the switch completed: one model for the whole call, whichever it was.
    expect(new Set((await during).map((r) => r.modelVersion)).size).toBe(1);
    expect(after.map((r) => r.modelVersion)).toEqual(['pdm-default/2', 'pdm-default/2']);
  });

  const refusals: {
    name: string;
    reason: string;
    write: (root: string) => void;
  }[] = [
    {
      name: 'another spec hash',
      reason: 'incompatible',
      write: (root) => writePackage(root, '2', { edit: (m) => (m['specHash'] = '0'.repeat(64)) }),
    },
    {
      name: 'another feature set',
      reason: 'incompatible',
      write: (root) => writePackage(root, '2', { edit: (m) => (m['featureSet'] = 'pdm-v2') }),
    },
    {
      name: 'an ONNX file that is not the one model.json describes',
      reason: 'invalid',
      write: (root) => writePackage(root, '2', { edit: (m) => (m.onnx['sha256'] = 'f'.repeat(64)) }),
    },
    {
      name: 'a session returning NaN on the fixture rows',
      reason: 'smoke',
      write: (root) => writePackage(root, '2-nan'),
    },
    {
      name: 'other model bytes under the live version',
      reason: 'version',
      write: (root) =>
        writePackage(root, '2', { version: '1', onnxBytes: Buffer.from('not the same model') }),
    },
  ];

  it.each(refusals)(
    'refuses $name ($reason): one log line, one count, the old model keeps scoring',
    async (c) => {
      const root = versionsDir();
      writePackage(root, '1');
      const { scorer, sessions, lines, metric, modelInfo } = await start(root);
      c.write(root);
      expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: c.reason, repeated: false });
      expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: c.reason, repeated: true });
      expect(await metric('pdm_model_reload_failures_total', { reason: c.reason })).toBe(1);
      expect(await metric('pdm_model_reload_failures_total')).toBe(1);
      expect(await metric('pdm_model_reloads_total')).toBe(0);
      const refusedLines = lines().filter((l) => l.msg.startsWith('live model package refused'));
      expect(refusedLines).toHaveLength(1);
      expect(refusedLines[0]).toMatchObject({ reason: c.reason, current: 'pdm-default/1' });
      expect(scorer.modelVersion).toBe('pdm-default/1');
      expect(await modelInfo()).toEqual(['pdm-default/1']);
      expect((await scorer.score(rows(2))).map((r) => r.modelVersion)).toEqual([
        'pdm-default/1',
        'pdm-default/1',
      ]);
      // A session opened for the smoke run is closed again; the live one is not.
      expect(sessions.state.closed).toEqual(c.reason === 'smoke' ? ['pdm-default/2-nan'] : []);
    },
  );

  it('tries a refused package again once its files change, and switches when it is fixed', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer, metric } = await start(root);
    const bad = writePackage(root, '2', { edit: (m) => (m['specHash'] = '0'.repeat(64)) });
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'incompatible' });
    rmSync(bad, { recursive: true });
    writePackage(root, '2');
    expect(await scorer.check()).toMatchObject({ kind: 'swapped', to: 'pdm-default/2' });
    expect(await metric('pdm_model_reload_failures_total')).toBe(1);
    expect(await metric('pdm_model_reloads_total')).toBe(1);
  });

  it('refuses a package without fixture rows when the live one has none either', async () => {
    const root = versionsDir();
    writePackage(root, '1', { fixtures: false });
    const { scorer } = await start(root);
    writePackage(root, '2', { fixtures: false });
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'smoke' });
  });

  it('does not switch to the same model found under another path', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer, metric } = await start(root);
    writePackage(root, '1-copy', { version: '1' });
    expect(await scorer.check()).toEqual({ kind: 'unchanged' });
    expect(await metric('pdm_model_reload_failures_total')).toBe(0);
  });

  it('follows `current` back and forth (a rollback is a switch too)', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    writePackage(root, '2');
    writeFileSync(path.join(root, 'current'), '1');
    const { scorer } = await start(root);
    expect(scorer.modelVersion).toBe('pdm-default/1');
    writeFileSync(path.join(root, 'current'), '2');
    expect(await scorer.check()).toMatchObject({ kind: 'swapped', to: 'pdm-default/2' });
    writeFileSync(path.join(root, 'current'), '1');
    expect(await scorer.check()).toMatchObject({ kind: 'swapped', to: 'pdm-default/1' });
  });

  it('counts a directory that cannot be followed any more once, as reason "follow"', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { scorer, metric } = await start(root);
    writeFileSync(path.join(root, 'current'), 'missing');
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'follow', repeated: false });
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'follow', repeated: true });
    expect(await metric('pdm_model_reload_failures_total', { reason: 'follow' })).toBe(1);
    expect((await scorer.score(rows(1)))[0]?.modelVersion).toBe('pdm-default/1');
  });

  it('checks on its poll timer and on the reload signal; close stops both', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const listeners = process.listenerCount('SIGHUP');
    const polled = await start(root, { pollMs: 20 });
    writePackage(root, '2');
    await expect.poll(() => polled.scorer.modelVersion, { timeout: 2000 }).toBe('pdm-default/2');

    const other = versionsDir();
    writePackage(other, '1');
    const signalled = await start(other, { pollMs: 0, reloadSignal: 'SIGHUP' });
    expect(process.listenerCount('SIGHUP')).toBe(listeners + 1);
    writePackage(other, '2');
    process.emit('SIGHUP', 'SIGHUP');
    await expect.poll(() => signalled.scorer.modelVersion, { timeout: 2000 }).toBe('pdm-default/2');
    await signalled.scorer.close();
    expect(process.listenerCount('SIGHUP')).toBe(listeners);
    await expect(signalled.scorer.score(rows(1))).rejects.toMatchObject({ code: 'SCORER_CLOSED' });
    expect(signalled.sessions.state.closed).toEqual(['pdm-default/1', 'pdm-default/2']);
  });

  it('without a followed directory it never changes model and registers no signal', async () => {
    const sessions = fakeSessions();
    const listeners = process.listenerCount('SIGHUP');
    const scorer = await createHotSwapScorer({
      initial: await loadModelPackage(DEFAULT_PACKAGE),
      createBatcher: (p) => sessions.createBatcher(p),
      reloadSignal: 'SIGHUP',
      log: capturingLogger().log,
    });
    open.push(scorer);
    expect(process.listenerCount('SIGHUP')).toBe(listeners);
    expect(await scorer.check()).toEqual({ kind: 'unchanged' });
    expect(scorer.package?.dir).toBe(DEFAULT_PACKAGE);
  });
});

describe('hot-swap scorer with onnxruntime sessions (worker threads)', () => {
  it('switches to a copy under another version and refuses a file that is not an ONNX model', async () => {
    const root = versionsDir();
    writePackage(root, '1');
    const { log, lines } = capturingLogger();
    const scorer = await createHotSwapScorer({
      initial: await loadModelPackage(await resolveFollowedPackage(root)),
      createBatcher: (p) => createPackageBatcher(p, { maxRows: 16, maxWaitMs: 0 }),
      watchDir: root,
      pollMs: 0,
      log,
    });
    open.push(scorer);
    const fixtureRows = (
      JSON.parse(readFileSync(path.join(DEFAULT_PACKAGE, 'fixtures.json'), 'utf8')) as { rows: number[][] }
    ).rows.map((values, i) => ({ machineId: i, bucketMs: 0, values }));
    const before = await scorer.score(fixtureRows);
    writePackage(root, '2');
    expect(await scorer.check()).toMatchObject({ kind: 'swapped', to: 'pdm-default/2' });
    const after = await scorer.score(fixtureRows);
    expect(after.map((r) => r.modelVersion)).toEqual(fixtureRows.map(() => 'pdm-default/2'));
    // Same model bytes: same probabilities.
    after.forEach((r, i) => {
      expect(Array.from(r.probabilities)).toEqual(Array.from(before[i]?.probabilities ?? []));
    });
    writePackage(root, '3', { onnxBytes: Buffer.from('this is not an ONNX model') });
    expect(await scorer.check()).toMatchObject({ kind: 'refused', reason: 'smoke' });
    expect(lines().filter((l) => l.msg.startsWith('live model package refused'))).toHaveLength(1);
    expect((await scorer.score(fixtureRows.slice(0, 2))).map((r) => r.modelVersion)).toEqual([
      'pdm-default/2',
      'pdm-default/2',
    ]);
  });
});
