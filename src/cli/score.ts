import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/index.js';
import {
  createPackageBatcher,
  formatScoredRows,
  loadModelPackage,
  readFeatureCsv,
  scoreCsvHeader,
} from '../score/index.js';

interface ScoreOptions {
  readonly csv: string;
  readonly out: string;
  readonly model?: string;
  readonly maxRows?: number;
  readonly maxWaitMs?: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

async function write(out: WriteStream, text: string): Promise<void> {
  // Respect the stream's buffer: a large feature file must not pile up its whole output in memory.
  if (!out.write(text)) await once(out, 'drain');
}

export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('batch-score a feature file (output of `features build`) with a model package')
    .requiredOption('--csv <file>', 'feature CSV: machineId,bucketTs,<feature names>[,label]')
    .requiredOption(
      '--out <file>',
      'output CSV: machineId,bucketTs,p_<class>…,predicted,modelVersion,alert,alertComponents,warmingUp',
    )
    .option('--model <dir>', 'model package directory (default: PDM_MODEL_DIR)')
    .option('--max-rows <n>', 'rows per inference run (default: PDM_SCORE_MAX_ROWS)', positiveInt)
    .option(
      '--max-wait-ms <ms>',
      'longest wait of a row for its run (default: PDM_SCORE_MAX_WAIT_MS)',
      nonNegativeInt,
    )
    .action(async (opts: ScoreOptions) => {
      const config = loadConfig();
      // Refuses an incompatible package (ConfigError → exit code 2) before any output is written.
      const pkg = await loadModelPackage(opts.model ?? config.score.modelDir);
      const batcher = await createPackageBatcher(pkg, {
        maxRows: opts.maxRows ?? config.score.maxRows,
        maxWaitMs: opts.maxWaitMs ?? config.score.maxWaitMs,
      });
      const out = createWriteStream(opts.out);
      const predicted = new Map<string, number>();
      // Per component: rows whose decision alerts for it (a row may alert for several).
      const alerted = new Array<number>(pkg.nClasses).fill(0);
      let alertRows = 0;
      let warmingUp = 0;
      let rows = 0;
      const t0 = performance.now();
      try {
        await write(out, scoreCsvHeader(pkg.classes));
        for await (const chunk of readFeatureCsv(opts.csv, { featureNames: pkg.featureNames })) {
          const scored = await batcher.submit(chunk);
          for (const r of scored) {
            predicted.set(r.predictedClass, (predicted.get(r.predictedClass) ?? 0) + 1);
            if (r.warmingUp) warmingUp++;
            if (r.alertMask === 0) continue;
            alertRows++;
            for (let i = 1; i < pkg.nClasses; i++) {
              if ((r.alertMask & (1 << (i - 1))) !== 0) alerted[i] = (alerted[i] ?? 0) + 1;
            }
          }
          rows += scored.length;
          await write(out, formatScoredRows(scored, pkg.classes));
        }
      } finally {
        await batcher.close();
        out.end();
        await once(out, 'close');
      }
      const seconds = (performance.now() - t0) / 1000;
      const counts = pkg.classes.map((c) => `${c} ${predicted.get(c) ?? 0}`).join(', ');
      const alerts = pkg.classes
        .slice(1)
        .map((c, i) => `${c} ${alerted[i + 1] ?? 0}`)
        .join(', ');
      const rule = pkg.alertThresholds === undefined ? ' (the package has no alert rule)' : '';
      console.error(
        `scored ${rows} rows with ${pkg.modelVersion} in ${seconds.toFixed(2)} s (${Math.round(rows / Math.max(seconds, 1e-9))} rows/s) → ${opts.out}; most likely: ${counts}; alerting rows ${alertRows}${rule} (${alerts}); warming up ${warmingUp}`,
      );
    });
}
