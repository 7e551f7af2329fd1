/**
 * `--compiled`: run a bench on the project compiled to JavaScript, as `pdm-stream run` runs (dist/), instead
 * of through tsx.
 *
 * Through tsx, the ONNX worker thread registers tsx's loader and compiles its TypeScript when the engine
 * starts, inside the measured phase and competing for the same two cores: measured 2026-12-02 (engine bench,
 * 1000 × 30 days, 6 interleaved pairs, 2 cores) the engine was started after 0.78–1.22 s against 0.40–0.53 s
 * compiled, the first prediction came later in 5 of the 6 pairs (1.66–2.08 s against 1.25–1.86 s), and the
 * peak RSS was about 50 MB higher. The bench and the engine are compiled together (one module instance of
 * each file: a bench from src/ with the engine from dist/ would load kafkajs twice and its fast paths only
 * once) into a directory of its own under the project's `.cache/` (inside the project, so that the compiled
 * modules find its node_modules; one per run, so that no file of an earlier build or of a concurrent run is
 * loaded), with a copy of package.json and a link to schemas/ (both are found relative to the modules). The
 * compiled bench runs with the same arguments and working directory, and is removed when it ends.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { projectRoot, stackPaths } from '../src/stack/index.js';

/** True when this process is the compiled bench (a file of the build, not of bench/). */
export const runningCompiled = fileURLToPath(import.meta.url).endsWith('.js');

/**
 * With `--compiled` on the command line of a bench run through tsx: compiles, runs `bench/<name>.js` of the
 * build with the other arguments, and exits with its exit code (never returns). Otherwise returns.
 */
export async function runCompiledIfAsked(name: string): Promise<void> {
  if (!process.argv.includes('--compiled') || runningCompiled) return;
  const root = projectRoot();
  // The stack's files stay where this process finds them, whatever the build's own project directory.
  const cacheDir = resolve(stackPaths(loadConfig().stack).cacheDir);
  mkdirSync(join(root, '.cache'), { recursive: true });
  const out = mkdtempSync(join(root, '.cache', 'bench-build-'));
  try {
    process.stderr.write(`bench: compiling the project into ${out} (--compiled)\n`);
    const tsc = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(root, 'tsconfig.json'),
        '--outDir',
        out,
      ],
      { stdio: 'inherit' },
    );
    if (tsc.status !== 0) throw new Error(`bench: tsc failed (exit ${String(tsc.status)})`);
    copyFileSync(join(root, 'package.json'), join(out, 'package.json'));
    symlinkSync(join(root, 'schemas'), join(out, 'schemas'), 'dir');
    const args = process.argv.slice(2).filter((a) => a !== '--compiled');
    const child = spawn(
      process.execPath,
      [...withoutTsx(process.execArgv), join(out, 'bench', `${name}.js`), ...args],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          PDM_CACHE_DIR: cacheDir,
          NODE_OPTIONS: withoutTsx((process.env['NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean)).join(
            ' ',
          ),
        },
      },
    );
    // Ctrl-C or a kill of this process stops the bench, which then drops its topics and database itself.
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((done) => {
      child.on('exit', (c, signal) => {
        done(c ?? (signal === null ? 0 : 1));
      });
    });
    process.exitCode = code;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  process.exit();
}

/** A module of tsx: its name, or a path or URL inside its package. */
const TSX = /^(tsx(\/|$)|.*[/\\]tsx[/\\])/;
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * Node's own flags of this process (V8 flags, --expose-gc) without tsx's loader (`--import tsx`, the
 * `--require …/tsx/dist/preflight.cjs --import file:///…/tsx/dist/loader.mjs` of `npx tsx`) and without the
 * inspector (its port is this process's).
 */
export function withoutTsx(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    const next = execArgv[i + 1];
    if (LOADER_FLAGS.has(a) && next !== undefined && TSX.test(next)) {
      i++;
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0 && LOADER_FLAGS.has(a.slice(0, eq)) && TSX.test(a.slice(eq + 1))) continue;
    if (a.startsWith('--inspect')) continue;
    out.push(a);
  }
  return out;
}
