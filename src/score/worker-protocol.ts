import type { OnnxSessionOptions } from './onnx-session.js';

/** Messages between the scoring worker (worker.ts) and its owner (worker-scorer.ts). */
export interface WorkerInit {
  readonly modelPath: string;
  readonly session: OnnxSessionOptions;
}

export type WorkerRequest =
  | { readonly type: 'score'; readonly id: number; readonly rows: Float32Array; readonly nRows: number }
  | { readonly type: 'close' };

export type WorkerResponse =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly probabilities: Float32Array }
  | { readonly type: 'error'; readonly id: number | null; readonly message: string; readonly code: string }
  | { readonly type: 'closed' };
