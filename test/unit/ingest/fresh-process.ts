import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * In a fresh Node process that loads the project's ingest modules first (as the engine does, so the
 * kafkajs preload runs before kafkajs): `expression` evaluated with `m` = kafkajs's module `path`, as text.
 */
export function kafkajsModuleInFreshProcess(path: string, expression: string): string {
  const entry = fileURLToPath(new URL('../../../src/ingest/index.ts', import.meta.url));
  const script = `
    await import(${JSON.stringify(entry)});
    const { createRequire } = await import('node:module');
    const m = createRequire(${JSON.stringify(entry)})(${JSON.stringify(path)});
    process.stdout.write(String(${expression}));
  `;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
}
