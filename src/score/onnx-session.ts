import ort from 'onnxruntime-node';
import { ConfigError, PdmError, errorMessage } from '../shared/errors.js';
import type { Scorer } from './types.js';

/**
 * The one file that talks to onnxruntime-node (house style rule 1). It runs on whatever thread loads it:
 * the engine loads it inside the scoring worker (worker.ts), the benchmark also in-thread to measure raw
 * onnxruntime throughput.
 */
export interface OnnxSessionOptions {
  /** ONNX input name (model.json `onnx.inputName`). */
  readonly inputName: string;
  /** Name of the float32 `[n, nClasses]` probability output (model.json `onnx.probabilitiesOutput`). */
  readonly outputName: string;
  readonly nFeatures: number;
  readonly nClasses: number;
}

/**
 * One intra-op and one inter-op thread, no spinning: scoring shares two cores with Kafka consumers and the
 * feature engine, and a spinning thread pool would burn a core between micro-batches. The nested `extra`
 * keys are flattened by the Node binding into session config entries `session.intra_op.allow_spinning` etc.
 *
 * Graph optimisation `basic` (constant folding, removal of redundant nodes: rewrites that keep the
 * results): the tree ensembles train/ exports gain nothing from `all`'s fusions and layout passes, which
 * cost about 100 ms more CPU at every session start (the engine's start and every hot swap: 155 against
 * 57 ms on 2 cores for the default package, the same probabilities bit for bit on 200,000 rows).
 */
export function sessionOptions(): ort.InferenceSession.SessionOptions {
  // A fresh object per session: onnxruntime-node wraps it in a proxy that fails on frozen properties.
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'basic',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** Opens a session on `model` (a path or the ONNX bytes) and checks its input/output shapes. */
export async function createOnnxScorer(
  model: string | Uint8Array,
  options: OnnxSessionOptions,
): Promise<Scorer> {
  let session: ort.InferenceSession;
  try {
    session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions())
        : await ort.InferenceSession.create(model, sessionOptions());
  } catch (err) {
    throw new ConfigError(`cannot open ONNX model: ${errorMessage(err)}`, {
      code: 'MODEL_INVALID',
      stage: 'score',
      cause: err,
    });
  }
  checkSignature(session, options);
  const { inputName, outputName, nFeatures, nClasses } = options;
  const fetches = [outputName];
  let closed = false;

  return {
    async score(rows, nRows) {
      if (closed) throw new PdmError('scorer is closed', { code: 'SCORER_CLOSED', stage: 'score' });
      if (rows.length < nRows * nFeatures) {
        throw new PdmError(`${rows.length} values for ${nRows} rows of ${nFeatures}`, {
          code: 'SCORER_INPUT',
          stage: 'score',
        });
      }
      if (nRows === 0) return new Float32Array(0);
      const input = rows.length === nRows * nFeatures ? rows : rows.subarray(0, nRows * nFeatures);
      const tensor = new ort.Tensor('float32', input, [nRows, nFeatures]);
      const out = await session.run({ [inputName]: tensor }, fetches);
      const prob = out[outputName];
      if (prob?.type !== 'float32' || prob.dims[0] !== nRows || prob.dims[1] !== nClasses) {
        throw new PdmError(
          `unexpected ONNX output ${outputName}: ${prob ? `${prob.type} [${prob.dims.join(',')}]` : 'missing'}`,
          {
            code: 'SCORER_OUTPUT',
            stage: 'score',
          },
        );
      }
      // The binding gives a Float32Array over its own fresh buffer; keep exactly the data, so that callers
      // can transfer it between threads.
      const data = prob.data as Float32Array;
      return data.byteOffset === 0 && data.buffer.byteLength === data.byteLength ? data : data.slice();
    },
    async close() {
      if (closed) return;
      closed = true;
      await session.release();
    },
  };
}

function checkSignature(session: ort.InferenceSession, o: OnnxSessionOptions): void {
  const input = session.inputMetadata.find((m) => m.name === o.inputName);
  const output = session.outputMetadata.find((m) => m.name === o.outputName);
  const problems: string[] = [];
  if (!input?.isTensor)
    problems.push(`no tensor input "${o.inputName}" (inputs: ${session.inputNames.join(', ')})`);
  else {
    if (input.type !== 'float32') problems.push(`input "${o.inputName}" is ${input.type}, not float32`);
    const width = input.shape[1];
    if (typeof width === 'number' && width !== o.nFeatures) {
      problems.push(`input "${o.inputName}" has ${width} features, model.json lists ${o.nFeatures}`);
    }
  }
  if (!output?.isTensor) {
    problems.push(`no tensor output "${o.outputName}" (outputs: ${session.outputNames.join(', ')})`);
  } else {
    const width = output.shape[1];
    if (typeof width === 'number' && width !== o.nClasses) {
      problems.push(`output "${o.outputName}" has ${width} classes, model.json lists ${o.nClasses}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`ONNX model does not match its model.json: ${problems.join('; ')}`, {
      code: 'MODEL_INCOMPATIBLE',
      stage: 'score',
    });
  }
}
