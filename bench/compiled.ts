/**
 * `--compiled`: run a bench on the project compiled to JavaScript, as `pdm-stream run` runs (dist/), instead
 * of through tsx.
 *
 * Through tsx, the ONNX worker thread registers tsx's loader and compiles its TypeScript when the engine
 * starts, inside the measured phase and competing for the same two cores: measured 2026-12-02 (engine bench,
 * 1000 × 30 days, 3 interleaved pairs, 2 cores) the engine was started after 0.85–1.22 s against 0.40–0.52 s
 * compiled, the first prediction came after 1.66–1.97 s against 1.25–1.60 s, and the peak RSS was about
 * 50 MB higher. The bench and the engine are compiled together (one module instance of each file: a bench
 * from src/ with the engine from dist/ would load kafkajs twice and its fast paths only once) into
 * `<cache>/bench-build/`, which gets a copy of package.json and a link to schemas/ (both are found relative to
 * the modules), and the compiled bench is run with the same arguments, from the project directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
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
  const cacheDir = stackPaths(loadConfig().stack).cacheDir;
  const out = join(cacheDir, 'bench-build');
  mkdirSync(out, { recursive: true });
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
  if (!existsSync(join(out, 'schemas'))) symlinkSync(join(root, 'schemas'), join(out, 'schemas'), 'dir');
  const args = process.argv.slice(2).filter((a) => a !== '--compiled');
  const child = spawn(
    process.execPath,
    [...withoutTsx(process.execArgv), join(out, 'bench', `${name}.js`), ...args],
    {
      cwd: root,
      stdio: 'inherit',
      // The build is a project directory of its own (its package.json): the stack's files stay where they are.
      env: { ...process.env, PDM_CACHE_DIR: resolve(cacheDir) },
    },
  );
  const code = await new Promise<number>((done) => {
    child.on('exit', (c, signal) => {
      done(c ?? (signal === null ? 0 : 1));
    });
  });
  process.exit(code);
}

/** Node's own flags of this process (V8 flags, --expose-gc) without tsx's loader (`--import tsx`). */
export function withoutTsx(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] as string;
    const next = execArgv[i + 1];
    if ((a === '--import' || a === '--require' || a === '--loader' || a === '-r') && next?.includes('tsx')) {
      i++;
      continue;
    }
    if (/^--(import|require|loader)=.*tsx/.test(a)) continue;
    out.push(a);
  }
  return out;
}
