/**
 * Removing what a test or bench run created on the shared local stack: Kafka topics and their registry
 * subjects. Without it a long-lived stack gathers thousands of topics (2,331 on 2026-12-01), which slows
 * the broker, its metadata answers and every run measured after them.
 */
import type { Config } from '../../src/config/index.js';
import { valueSubject } from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';

/** Whether `topic` carries one of `tokens` the way the test helpers build prefixes: `t`/`e`/`s<token>.`. */
export function isTestTopicOf(topic: string, tokens: ReadonlySet<string>): boolean {
  const m = /^[est]([0-9a-f]{8})\./.exec(topic);
  return m !== null && tokens.has(m[1] ?? '');
}

/** kafkajs deletes this many topics per request. */
const DELETE_CHUNK = 100;

/**
 * Deletes the broker's topics that `select` picks, and their value subjects for good, over one admin
 * connection; returns how many topics went. A broker not reachable within `timeoutMs` deletes nothing
 * (0); a registry that refuses is reported on stderr, not thrown: a cleanup must not fail a run.
 */
export async function deleteTopicsAndSubjects(
  config: Config,
  select: (topic: string) => boolean,
  timeoutMs = 10_000,
): Promise<number> {
  const admin = createKafkaClient(config.kafka, '-cleanup').admin();
  const timeout = new Promise<undefined>((resolve) => {
    setTimeout(() => {
      resolve(undefined);
    }, timeoutMs).unref();
  });
  try {
    // Settled either way, so that a connect failing after the timeout won the race is no unhandled rejection.
    const connecting = admin.connect().then(
      () => true,
      (err: unknown) => {
        console.error(
          `stack cleanup: Kafka not reachable: ${err instanceof Error ? err.message : String(err)}`,
        );
        return false;
      },
    );
    const connected = await Promise.race([connecting, timeout]);
    if (connected !== true) return 0;
    const doomed = (await admin.listTopics()).filter(select);
    for (let i = 0; i < doomed.length; i += DELETE_CHUNK) {
      await admin.deleteTopics({ topics: doomed.slice(i, i + DELETE_CHUNK), timeout: 30_000 });
    }
    for (const topic of doomed) await deleteSubject(config, valueSubject(topic));
    return doomed.length;
  } catch (err) {
    console.error(`stack cleanup: ${err instanceof Error ? err.message : String(err)}`);
    return 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
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
