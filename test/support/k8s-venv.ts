/**
 * The Python venv for the Kubernetes manifest tests (`.cache/k8s-venv`): kubernetes-validate (PyPI; the
 * core kinds against the Kubernetes OpenAPI schemas) and pydantic models generated from the KEDA and
 * Prometheus operator CRDs (PyPI: cloudcoil-models-*). ≈ 170 MB, ≈ 15 s to install. Created on first use
 * and again when the pinned requirements change; .ci/run installs it up front (same directory and marker).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REQUIREMENTS = fileURLToPath(new URL('./python/k8s-requirements.txt', import.meta.url));

function run(cmd: string, args: readonly string[], timeoutMs: number): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** The venv's bin directory; creates `<cacheDir>/k8s-venv` when missing or stale. */
export function k8sVenvBin(cacheDir = process.env['PDM_CACHE_DIR'] ?? '.cache'): string {
  const venv = resolve(ROOT, cacheDir, 'k8s-venv');
  const bin = join(venv, 'bin');
  const ready = join(venv, '.pdm-ready');
  const wanted = readFileSync(REQUIREMENTS, 'utf8');
  if (existsSync(ready) && readFileSync(ready, 'utf8') === wanted) return bin;
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(resolve(ROOT, cacheDir), { recursive: true });
  run('python3', ['-m', 'venv', venv], 120_000);
  run(
    join(bin, 'python'),
    ['-m', 'pip', 'install', '--quiet', '--progress-bar', 'off', '-r', REQUIREMENTS],
    600_000,
  );
  writeFileSync(ready, wanted);
  return bin;
}
