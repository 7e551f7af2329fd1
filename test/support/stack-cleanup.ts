/**
 * Removing what a test or bench run created on the shared local stack: Kafka topics and their registry
 * subjects. Without it a long-lived stack gathers thousands of topics (2,331 on 2026-12-01, about 9,000
 * partitions), which slows the broker, its metadata answers and every run measured after them.
 */
import type { Config } from '../../src/config/index.js';
import { valueSubject } from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';

/** Where uniqueToken() notes its tokens during an integration run (set by the global setup). */
export const TOKENS_FILE_ENV = 'PDM_TEST_TOKENS_FILE';

/** Whether `topic` carries one of `tokens` the way the test helpers build prefixes: `t`/`e`/`s<token>.`. */
export function isTestTopicOf(topic: string, tokens: ReadonlySet<string>): boolean {
  const m = /^[est]([0-9a-f]{8})\./.exec(topic);
  return m !== null && tokens.has(m[1] ?? '');
}

/** kafkajs deletes this many topics per request. */
const DELETE_CHUNK = 100;

/** The broker's topic names; undefined when it cannot be reached within `timeoutMs`. */
export async function listTopics(config: Config, timeoutMs = 10_000): Promise<Set<string> | undefined> {
  const admin = createKafkaClient(config.kafka, '-cleanup').admin();
  const timeout = new Promise<undefined>((resolve) => {
    setTimeout(() => {
      resolve(undefined);
    }, timeoutMs).unref();
  });
  try {
    return await Promise.race([
      (async () => {
        await admin.connect();
        return new Set(await admin.listTopics());
      })(),
      timeout,
    ]);
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Deletes `topics` (those that exist) and their value subjects for good. A subject or topic that is not
 * there is fine; a registry that refuses is reported on stderr, not thrown: a cleanup must not fail a run.
 */
export async function deleteTopicsAndSubjects(config: Config, topics: readonly string[]): Promise<void> {
  const existing = await listTopics(config);
  const doomed = existing === undefined ? [] : topics.filter((t) => existing.has(t));
  if (doomed.length > 0) {
    const admin = createKafkaClient(config.kafka, '-cleanup').admin();
    await admin.connect();
    try {
      for (let i = 0; i < doomed.length; i += DELETE_CHUNK) {
        await admin.deleteTopics({ topics: doomed.slice(i, i + DELETE_CHUNK), timeout: 30_000 });
      }
    } finally {
      await admin.disconnect();
    }
  }
  for (const topic of topics) await deleteSubject(config, valueSubject(topic));
}

/** Deletes a subject and its versions (Confluent API: soft delete, then `permanent=true`). */
async function deleteSubject(config: Config, subject: string): Promise<void> {
  const { url, auth } = config.registry;
  const headers: Record<string, string> =
    auth === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
  for (const query of ['', '?permanent=true']) {
    const path = `${url}/subjects/${encodeURIComponent(subject)}${query}`;
    const res = await fetch(path, { method: 'DELETE', headers, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (!res.ok && res.status !== 404) {
      console.error(`stack cleanup: deleting subject ${subject}${query}: HTTP ${res.status}`);
      return;
    }
  }
}
