import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTestTopicOf } from '../../support/stack-cleanup.js';
import { TOKENS_FILE_ENV, uniqueToken } from '../../support/stack-env.js';

describe('test stack cleanup (what an integration run deletes at its end)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('picks only the topics named with a token of this run, as the helpers name them', () => {
    const tokens = new Set(['0a1b2c3d', 'deadbeef']);
    expect(isTestTopicOf('t0a1b2c3d.telemetry', tokens)).toBe(true);
    expect(isTestTopicOf('edeadbeef.alerts', tokens)).toBe(true);
    expect(isTestTopicOf('s0a1b2c3d.errors', tokens)).toBe(true);
    // Another run's token, a bench's or a user's topic, a token not followed by the prefix dot.
    expect(isTestTopicOf('t11111111.telemetry', tokens)).toBe(false);
    expect(isTestTopicOf('bench0a1b2c3d.telemetry', tokens)).toBe(false);
    expect(isTestTopicOf('pdm.telemetry', tokens)).toBe(false);
    expect(isTestTopicOf('t0a1b2c3dx.telemetry', tokens)).toBe(false);
    expect(isTestTopicOf('x0a1b2c3d.telemetry', tokens)).toBe(false);
  });

  it('uniqueToken notes each token in the run file when the global setup named one, and only then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-tokens-test-'));
    try {
      const file = join(dir, 'tokens');
      const before = uniqueToken();
      vi.stubEnv(TOKENS_FILE_ENV, file);
      const a = uniqueToken();
      const b = uniqueToken();
      expect(a).toMatch(/^[0-9a-f]{8}$/);
      expect(readFileSync(file, 'utf8')).toBe(`${a}\n${b}\n`);
      expect(readFileSync(file, 'utf8')).not.toContain(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
