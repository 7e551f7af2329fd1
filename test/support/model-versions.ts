/**
 * A directory of model versions as an operator publishes them (README PDM_MODEL_WATCH_DIR): each version
 * written completely under a dot name and then renamed, and `current` flipped with a rename, so that the
 * engine following the directory never reads half a package. For hot-swap and shadow tests.
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PACKAGE } from '../unit/score/package-fixtures.js';

export type PackageMeta = Record<string, unknown> & { onnx: Record<string, unknown> };

/**
 * Copies package `from` (default: the committed one) to `root/<dirName>` under `version`, after `edit` of its
 * model.json. An `onnxBytes` string set by `edit` replaces model.onnx (with its checksum updated).
 */
export function publishVersion(
  root: string,
  dirName: string,
  version: string,
  edit: (meta: PackageMeta) => void = () => undefined,
  from: string = DEFAULT_PACKAGE,
): void {
  const tmp = path.join(root, `.tmp-${dirName}`);
  cpSync(from, tmp, { recursive: true });
  const file = path.join(tmp, 'model.json');
  const meta = JSON.parse(readFileSync(file, 'utf8')) as PackageMeta;
  meta['version'] = version;
  edit(meta);
  if (typeof meta['onnxBytes'] === 'string') {
    const bytes = Buffer.from(meta['onnxBytes']);
    delete meta['onnxBytes'];
    writeFileSync(path.join(tmp, 'model.onnx'), bytes);
    meta.onnx['sha256'] = createHash('sha256').update(bytes).digest('hex');
  }
  writeFileSync(file, JSON.stringify(meta, null, 2));
  // Written completely under a name without model.json at the top, then renamed: never read half-written.
  renameSync(tmp, path.join(root, dirName));
}

/** Points `current` at `dirName` atomically (write, then rename over). */
export function setCurrent(root: string, dirName: string): void {
  writeFileSync(path.join(root, 'current.tmp'), `${dirName}\n`);
  renameSync(path.join(root, 'current.tmp'), path.join(root, 'current'));
}
