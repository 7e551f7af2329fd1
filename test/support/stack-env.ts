/**
 * Settings for integration tests. Services come from the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
 * CLICKHOUSE_URL) or the local stack's defaults — always through loadConfig(), never from ports written in
 * test files — with a unique topic prefix and consumer group per call so tests never see each other's
 * records.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadConfig, type Config } from '../../src/config/index.js';

/** Where uniqueToken() notes its tokens during an integration run (set by its global setup). */
export const TOKENS_FILE_ENV = 'PDM_TEST_TOKENS_FILE';

/**
 * A short random token usable in topic, group, table and database names. Under the integration project's
 * global setup it is also noted, so that the run's topics are deleted at its end (stack-cleanup.ts).
 */
export function uniqueToken(): string {
  const token = randomBytes(4).toString('hex');
  const file = process.env[TOKENS_FILE_ENV];
  if (file !== undefined) appendFileSync(file, `${token}\n`);
  return token;
}

/**
 * loadConfig() over the current environment plus `overrides`, with `PDM_TOPIC_PREFIX=t<token>.` and
 * `PDM_GROUP_ID=test-<token>` unless the overrides set them.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const token = uniqueToken();
  // loadConfig takes a whole environment; the test's own environment is the base it overrides.
  return loadConfig({
    ...process.env,
    PDM_TOPIC_PREFIX: `t${token}.`,
    PDM_GROUP_ID: `test-${token}`,
    ...overrides,
  });
}

/** A TCP port that was free a moment ago on `host` (the OS picks it; nothing is hard-coded). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}
