import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError, PdmError } from '../shared/errors.js';
import type { OnnxSessionOptions } from './onnx-session.js';
import type { Scorer } from './types.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker-protocol.js';

export interface WorkerScorerOptions extends OnnxSessionOptions {
  /** Absolute path of model.onnx (ModelPackage.modelPath). */
  readonly modelPath: string;
}

/**
 * The worker's code. Compiled, it is dist/score/worker.js next to this file. Run from TypeScript sources
 * (vitest, tsx bench scripts) it is worker.ts, which a worker thread can only load after registering tsx's
 * loader inside that thread (tsx is a dev dependency, present wherever the sources are run); `--import` in
 * a worker's execArgv is not applied to its entry module on Node 20, hence the small bootstrap.
 */
function startWorker(init: WorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', self), { workerData: init });
  const tsxApi = resolveEsm('tsx/esm/api', self);
  const entry = new URL('./worker.ts', self).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

/** The ESM entry of a package export (require.resolve would give the CommonJS one). */
function resolveEsm(specifier: string, from: string): string {
  const meta = import.meta as { resolve?: (s: string) => string };
  if (typeof meta.resolve === 'function') return meta.resolve(specifier);
  // Test runners that rewrite import.meta: the file next to the CommonJS entry, as tsx's exports map has it.
  return pathToFileURL(
    createRequire(from)
      .resolve(specifier)
      .replace(/\.cjs$/, '.mjs'),
  ).href;
}

interface Pending {
  resolve(p: Float32Array): void;
  reject(err: unknown): void;
}

/**
 * A {@link Scorer} whose onnxruntime session lives in a worker thread. Row buffers are transferred, not
 * copied, to the worker (the caller's array is detached afterwards), and the probability buffers come back
 * the same way. Resolves once the session is open; rejects with the worker's error (e.g. ConfigError
 * MODEL_INCOMPATIBLE when the ONNX signature does not match) otherwise.
 */
export function createWorkerScorer(options: WorkerScorerOptions): Promise<Scorer> {
  const init: WorkerInit = {
    modelPath: options.modelPath,
    session: {
      inputName: options.inputName,
      outputName: options.outputName,
      nFeatures: options.nFeatures,
      nClasses: options.nClasses,
    },
  };
  const worker = startWorker(init);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let failure: PdmError | undefined;
  let closing: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;

  return new Promise<Scorer>((resolveReady, rejectReady) => {
    let ready = false;

    const fail = (err: PdmError): void => {
      failure ??= err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      if (ready) return;
      rejectReady(err);
      // Nobody holds a scorer to close: its worker, alive with no session, would keep the process running
      // (`pdm-stream run` with a corrupt model.onnx printed the error and never exited).
      void worker.terminate();
    };

    worker.on('message', (msg: WorkerResponse) => {
      switch (msg.type) {
        case 'ready':
          ready = true;
          // An idle scorer does not keep the process alive; a request in flight does (see `score`).
          worker.unref();
          resolveReady(scorer);
          return;
        case 'result': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          if (pending.size === 0) worker.unref();
          p?.resolve(msg.probabilities);
          return;
        }
        case 'error': {
          const err =
            msg.code === 'MODEL_INCOMPATIBLE' || msg.code === 'MODEL_INVALID'
              ? new ConfigError(msg.message, { code: msg.code, stage: 'score' })
              : new PdmError(msg.message, { code: msg.code, stage: 'score' });
          if (msg.id === null) {
            fail(err);
            return;
          }
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          if (pending.size === 0) worker.unref();
          p?.reject(err);
          return;
        }
        case 'closed':
          onClosed?.();
          return;
      }
    });
    worker.on('error', (err) => {
      fail(
        new PdmError(`scoring worker crashed: ${err.message}`, {
          code: 'SCORER_FAILED',
          stage: 'score',
          cause: err,
        }),
      );
    });
    worker.on('exit', (code) => {
      onClosed?.();
      if (closing === undefined || pending.size > 0) {
        fail(new PdmError(`scoring worker exited (code ${code})`, { code: 'SCORER_FAILED', stage: 'score' }));
      }
    });

    const scorer: Scorer = {
      score(rows, nRows) {
        if (failure) return Promise.reject(failure);
        if (closing)
          return Promise.reject(new PdmError('scorer is closed', { code: 'SCORER_CLOSED', stage: 'score' }));
        const n = nRows * options.nFeatures;
        // Only a whole, unshared buffer can be transferred; anything else is copied once.
        const own =
          rows.byteOffset === 0 && rows.buffer.byteLength === n * 4 && rows.buffer instanceof ArrayBuffer;
        const payload = own ? rows : rows.slice(0, n);
        const id = nextId++;
        return new Promise<Float32Array>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.ref();
          const msg: WorkerRequest = { type: 'score', id, rows: payload, nRows };
          worker.postMessage(msg, [payload.buffer as ArrayBuffer]);
        });
      },
      close() {
        closing ??= new Promise<void>((resolve) => {
          if (failure) {
            void worker.terminate().then(() => {
              resolve();
            });
            return;
          }
          onClosed = resolve;
          worker.ref();
          worker.postMessage({ type: 'close' } satisfies WorkerRequest);
        });
        return closing;
      },
    };
  });
}
