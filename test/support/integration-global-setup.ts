/**
 * Global setup of the integration project (vitest.config.ts): the test helpers note every token they
 * generate (uniqueToken() in stack-env.ts) in a file named here; after the run the topics named with those
 * tokens, and their subjects, are deleted. Nothing else is touched, so another run on the same stack
 * keeps its topics. A broker that cannot be reached skips the cleanup; the tests report that themselves.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { deleteTopicsAndSubjects, isTestTopicOf } from './stack-cleanup.js';
import { TOKENS_FILE_ENV } from './stack-env.js';

export default function setup(): () => Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-test-tokens-'));
  const file = join(dir, 'tokens');
  writeFileSync(file, '');
  // Test workers start after this and inherit the environment.
  process.env[TOKENS_FILE_ENV] = file;
  return async () => {
    const tokens = new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((t) => t !== ''),
    );
    rmSync(dir, { recursive: true, force: true });
    // A run that made no topics (the training smoke after the stack is down) needs no broker.
    if (tokens.size === 0) return;
    const t0 = performance.now();
    const deleted = await deleteTopicsAndSubjects(loadConfig(process.env), (t) => isTestTopicOf(t, tokens));
    console.error(
      `stack cleanup: deleted ${deleted} topics of ${tokens.size} test tokens and their subjects in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  };
}
