/**
 * The training-set file of `features build`: `machineId,bucketTs,<38 FEATURE_NAMES>[,label]` plus a sidecar
 * `<file>.meta.json`. Numbers are printed with `String(x)` (shortest round-trip), so reading the file back
 * gives the engine's values bit for bit. The file is written under a temporary name and renamed when
 * complete, so that a crashed run never leaves a truncated file that looks like a training set.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { rename, rm, writeFile } from 'node:fs/promises';
import { PdmError } from '../shared/errors.js';
import { CLASSES, FEATURE_NAMES, FEATURE_SET, SPEC_HASH } from './spec.js';
import type { FeatureRow } from './types.js';

export function featureCsvHeader(withLabels: boolean): string {
  return ['machineId', 'bucketTs', ...FEATURE_NAMES, ...(withLabels ? ['label'] : [])].join(',') + '\n';
}

/** CSV lines (each ending in \n) of `rows`; `labels[i]` is appended to row i when given. */
export function formatFeatureRows(rows: readonly FeatureRow[], labels?: readonly number[]): string {
  let out = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as FeatureRow;
    let line = `${row.machineId},${row.bucketMs}`;
    for (const v of row.values) line += `,${String(v)}`;
    if (labels !== undefined) line += `,${String(labels[i])}`;
    out += line + '\n';
  }
  return out;
}

/** Sidecar of a feature file: what training needs to know to trust it. */
export interface FeatureFileMeta {
  readonly featureSet: typeof FEATURE_SET;
  readonly specHash: string;
  readonly featureNames: readonly string[];
  readonly classes: readonly string[];
  readonly bucketMs: number;
  readonly allowedLatenessMs: number;
  readonly labels: boolean;
  readonly rows: number;
  /** Smallest / largest bucketTs in the file; null when it has no rows. */
  readonly firstBucketTs: number | null;
  readonly lastBucketTs: number | null;
  /** Where the events came from and what happened to them (counts), free-form per source. */
  readonly source: Readonly<Record<string, unknown>>;
}

export function featureFileMeta(fields: {
  bucketMs: number;
  allowedLatenessMs: number;
  labels: boolean;
  rows: number;
  firstBucketTs: number | null;
  lastBucketTs: number | null;
  source: Readonly<Record<string, unknown>>;
}): FeatureFileMeta {
  return {
    featureSet: FEATURE_SET,
    specHash: SPEC_HASH,
    featureNames: FEATURE_NAMES,
    classes: CLASSES,
    ...fields,
  };
}

export interface FeatureCsvWriter {
  /** Appends rows (with their labels when the file has a label column); waits when the disk is slower. */
  write(rows: readonly FeatureRow[], labels?: readonly number[]): Promise<void>;
  /** Completes the file, writes `<path>.meta.json` and moves the file into place. */
  finish(meta: FeatureFileMeta): Promise<void>;
  /** Abandons the file (removes the temporary file). Safe after finish. */
  close(): Promise<void>;
}

export async function createFeatureCsvWriter(
  path: string,
  options: { labels: boolean },
): Promise<FeatureCsvWriter> {
  const tmp = `${path}.tmp-${process.pid}`;
  const out: WriteStream = createWriteStream(tmp);
  await once(out, 'open');
  let done = false;
  let failure: unknown = null;
  out.on('error', (err) => {
    // Kept and rethrown by the next write/finish, so a disk error fails the build instead of vanishing.
    failure = err;
  });
  const put = async (text: string): Promise<void> => {
    if (failure !== null)
      throw new PdmError(`cannot write ${tmp}`, { code: 'WRITE_FAILED', stage: 'features', cause: failure });
    if (!out.write(text)) await once(out, 'drain');
  };
  await put(featureCsvHeader(options.labels));
  return {
    async write(rows, labels) {
      if (options.labels !== (labels !== undefined)) {
        throw new PdmError('labels must be given exactly when the file has a label column', {
          code: 'LABELS_MISMATCH',
          stage: 'features',
        });
      }
      if (rows.length > 0) await put(formatFeatureRows(rows, labels));
    },
    async finish(meta) {
      out.end();
      await once(out, 'close');
      if (failure !== null)
        throw new PdmError(`cannot write ${tmp}`, {
          code: 'WRITE_FAILED',
          stage: 'features',
          cause: failure,
        });
      await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2) + '\n');
      await rename(tmp, path);
      done = true;
    },
    async close() {
      if (done) return;
      done = true;
      if (!out.closed) {
        // Destroying with a write in flight (a build that fails at once) emits ERR_STREAM_DESTROYED, which
        // the error listener above takes; only 'close' is awaited, so the file is still removed and the
        // caller's own error is not replaced by this one.
        const closed = new Promise<void>((resolve) => {
          out.once('close', () => {
            resolve();
          });
        });
        out.destroy();
        await closed;
      }
      await rm(tmp, { force: true });
    },
  };
}
