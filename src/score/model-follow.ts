import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, errorMessage } from '../shared/errors.js';

/**
 * Which package a followed directory (PDM_MODEL_WATCH_DIR) names, so that the engine can pick up a new
 * model without a restart. The directory is one of:
 *
 * - a package itself (it holds `model.json`): followed in place;
 * - a directory of versions (`models/<name>/`) with a `current` entry: a symlink to a version directory,
 *   or a file holding the name (or path, relative to the followed directory) of one;
 * - a directory of versions without `current`: the highest version, compared numerically (`10` > `9`),
 *   among the subdirectories that hold a `model.json` (names starting with `.` are skipped).
 *
 * Publishing a new version atomically (copy it under a temporary `.name` and rename it, or write it completely
 * and then flip `current` with a rename) keeps the engine from reading a half-written package; a package
 * read half-written is refused, and read again once its files change.
 */
export const CURRENT_ENTRY = 'current';

const versionOrder = new Intl.Collator('en', { numeric: true });

/** The package directory `watchDir` names now, as a real path. Throws ConfigError `MODEL_FOLLOW`. */
export async function resolveFollowedPackage(watchDir: string): Promise<string> {
  const fail = (why: string, cause?: unknown): never => {
    throw new ConfigError(`model directory ${watchDir}: ${why}`, {
      code: 'MODEL_FOLLOW',
      stage: 'score',
      ...(cause === undefined ? {} : { cause }),
    });
  };
  let root: string;
  try {
    root = await realpath(watchDir);
  } catch (err) {
    return fail(`cannot be read: ${errorMessage(err)}`, err);
  }
  if (await isFile(path.join(root, 'model.json'))) return root;
  const current = path.join(root, CURRENT_ENTRY);
  const link = await readlink(current).catch(() => undefined);
  if (link !== undefined)
    return realpath(path.resolve(root, link)).catch((err: unknown) =>
      fail(`${CURRENT_ENTRY} → ${link} cannot be read: ${errorMessage(err)}`, err),
    );
  if (await isFile(current)) {
    const name = (await readFile(current, 'utf8')).trim();
    if (name === '') return fail(`${CURRENT_ENTRY} is empty`);
    return realpath(path.resolve(root, name)).catch((err: unknown) =>
      fail(`${CURRENT_ENTRY} names ${name}, which cannot be read: ${errorMessage(err)}`, err),
    );
  }
  const entries = await readdir(root, { withFileTypes: true }).catch((err: unknown) =>
    fail(`is neither a model package nor a directory of versions: ${errorMessage(err)}`, err),
  );
  const versions: string[] = [];
  for (const e of entries) {
    // Dot entries are skipped: a version being written under a temporary name is not a candidate.
    if (e.name.startsWith('.')) continue;
    if ((e.isDirectory() || e.isSymbolicLink()) && (await isFile(path.join(root, e.name, 'model.json')))) {
      versions.push(e.name);
    }
  }
  versions.sort((a, b) => versionOrder.compare(a, b));
  const highest = versions.at(-1);
  if (highest === undefined) return fail(`no model.json, no ${CURRENT_ENTRY} entry and no version directory`);
  return realpath(path.join(root, highest));
}

/**
 * What changes when a package's files change: its real path and the size and modification time of
 * `model.json` and of the ONNX file it names. Cheap enough to read at every poll (no hashing of the model);
 * the checksum is verified when a changed package is loaded.
 */
export async function packageFingerprint(dir: string): Promise<string> {
  const jsonPath = path.join(dir, 'model.json');
  const parts = [dir, await statKey(jsonPath)];
  try {
    const meta = JSON.parse(await readFile(jsonPath, 'utf8')) as { onnx?: { file?: unknown } };
    const file = meta.onnx?.file;
    if (typeof file === 'string') parts.push(await statKey(path.resolve(dir, file)));
  } catch {
    // An unreadable model.json is reported by loadModelPackage; here it only adds nothing to the key.
  }
  return parts.join('|');
}

async function statKey(file: string): Promise<string> {
  const s = await stat(file).catch(() => undefined);
  return s === undefined ? 'absent' : `${s.size}@${s.mtimeMs}`;
}

async function isFile(file: string): Promise<boolean> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ?? false;
}
