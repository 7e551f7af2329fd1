/** How the kafkajs adapter judges a client error: ride it out (bounded by the outage limit) or stop now. */
import { PdmError, TransientError, errorMessage, isRetryable } from '../shared/errors.js';

interface KafkaJsErrorLike {
  readonly name?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
}

function rootCause(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 10; depth++) {
    const cause = (e as KafkaJsErrorLike | null)?.cause;
    if (cause === undefined || cause === null) return e;
    e = cause;
  }
  return e;
}

/**
 * kafkajs errors that say "the cluster is not reachable or not ready yet" although kafkajs marks them
 * non-retriable: a broker that restarts answers with these for a while (coordinator not loaded yet,
 * requests timing out), so they are ridden out like a refused connection.
 */
const OUTAGE_ERROR_NAMES = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
]);

/**
 * True for failures that a Kafka outage explains (connection refused or closed, timeouts, retries
 * exhausted, a coordinator not available yet) and for our own retryable errors. False for programmer
 * errors (TypeError …), authentication failures and requests the cluster rejects for good.
 */
export function isKafkaOutage(err: unknown): boolean {
  if (err instanceof PdmError) return isRetryable(err);
  const names = [err, rootCause(err)].map((e) => (e as KafkaJsErrorLike | null)?.name);
  if (names.some((n) => typeof n === 'string' && OUTAGE_ERROR_NAMES.has(n))) return true;
  // kafkajs's own verdict on the original error (what its crash handler uses to decide a restart).
  const root = rootCause(err) as KafkaJsErrorLike | null;
  return typeof root?.name === 'string' && root.name.startsWith('KafkaJS') && root.retriable === true;
}

/** Wraps a kafkajs failure into our error type: retryable `KAFKA_UNAVAILABLE` or fatal `KAFKA_ERROR`. */
export function kafkaError(err: unknown, what: string): PdmError {
  if (err instanceof PdmError) return err;
  const message = `${what}: ${errorMessage(err)}`;
  return isKafkaOutage(err)
    ? new TransientError(message, { code: 'KAFKA_UNAVAILABLE', stage: 'ingest', cause: err })
    : new PdmError(message, { code: 'KAFKA_ERROR', stage: 'ingest', cause: err });
}
