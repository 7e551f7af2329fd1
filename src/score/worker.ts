import { parentPort, workerData } from 'node:worker_threads';
import { PdmError, errorMessage } from '../shared/errors.js';
import { createOnnxScorer } from './onnx-session.js';
import type { Scorer } from './types.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker-protocol.js';

/**
 * Entry of the scoring worker thread: owns the onnxruntime session so that a long `run` never blocks the
 * main event loop (Kafka heartbeats, HTTP metrics). Requests are handled strictly one after another: the
 * session has one intra-op thread, so running two batches at once would only interleave them.
 */
const port = parentPort;
if (!port) throw new Error('src/score/worker must be started as a worker thread');
const init = workerData as WorkerInit;

function post(msg: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

function codeOf(err: unknown): string {
  return err instanceof PdmError ? err.code : 'SCORER_FAILED';
}

let scorer: Scorer | undefined;
let chain: Promise<void> = createOnnxScorer(init.modelPath, init.session).then(
  (s) => {
    scorer = s;
    post({ type: 'ready' });
  },
  (err: unknown) => {
    post({ type: 'error', id: null, message: errorMessage(err), code: codeOf(err) });
  },
);

async function handle(msg: WorkerRequest): Promise<void> {
  if (msg.type === 'close') {
    await scorer?.close();
    post({ type: 'closed' });
    port?.close();
    return;
  }
  if (!scorer) {
    post({ type: 'error', id: msg.id, message: 'ONNX session failed to open', code: 'SCORER_FAILED' });
    return;
  }
  try {
    const probabilities = await scorer.score(msg.rows, msg.nRows);
    post({ type: 'result', id: msg.id, probabilities }, [probabilities.buffer as ArrayBuffer]);
  } catch (err) {
    // Reported to the owner, which rejects the caller's promise with it: not swallowed.
    post({ type: 'error', id: msg.id, message: errorMessage(err), code: codeOf(err) });
  }
}

port.on('message', (msg: WorkerRequest) => {
  chain = chain.then(() => handle(msg));
});
