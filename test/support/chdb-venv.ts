/**
 * The Python venv holding chDB (PyPI `chdb`: a current ClickHouse engine in-process), under the cache
 * directory (`.cache/chdb-venv`), created and filled from PyPI on first use; later runs find it ready.
 * The wheels are large (chdb-core ≈ 180 MB, plus pandas, pyarrow and numpy, which chdb requires): about
 * 25 s to install on a fast link, ≈ 900 MB on disk.
 * .ci/run installs it up front (same directory and ready marker) so that CI shows its time separately.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Pinned: a new chDB is a new ClickHouse; bumping the pin (and rerunning the test) is a deliberate act. */
const REQUIREMENTS = fileURLToPath(new URL('./python/chdb-requirements.txt', import.meta.url));

function run(cmd: string, args: readonly string[], timeoutMs: number): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

/**
 * Path of a Python interpreter that can `import chdb`; creates `<cacheDir>/chdb-venv` on first use, and
 * again when the pinned requirements changed. @param cacheDir - PDM_CACHE_DIR, relative to the repository root.
 */
export function pythonWithChdb(cacheDir = process.env['PDM_CACHE_DIR'] ?? '.cache'): string {
  const venv = resolve(ROOT, cacheDir, 'chdb-venv');
  const python = join(venv, 'bin', 'python');
  const ready = join(venv, '.pdm-ready');
  const wanted = readFileSync(REQUIREMENTS, 'utf8');
  if (existsSync(ready) && readFileSync(ready, 'utf8') === wanted) return python;
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(resolve(ROOT, cacheDir), { recursive: true });
  run('python3', ['-m', 'venv', venv], 120_000);
  run(python, ['-m', 'pip', 'install', '--quiet', '--progress-bar', 'off', '-r', REQUIREMENTS], 900_000);
  run(python, ['-c', 'import chdb'], 60_000);
  writeFileSync(ready, wanted);
  return python;
}
