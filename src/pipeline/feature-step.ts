/**
 * The feature step of a batch: decoded events applied to the partition's feature state. What the feature
 * stage did not use (late, invalid, future, duplicate) changes no state; the dead-letter reasons among
 * them become dead letters of their Kafka message.
 */
import type { DeadLetter } from '../dlq/index.js';
import { isDeadLetterOutcome, type FeatureEngine } from '../features/index.js';
import type { SourceBatch } from '../ingest/index.js';
import type { EngineMetrics } from '../shared/metrics.js';
import { reject, type DecodedBatch } from './decode-step.js';

/** Applies `decoded`; returns the indexes (into `decoded.events`) of the events not used. */
export function applyEvents(
  features: FeatureEngine,
  metrics: EngineMetrics,
  batch: SourceBatch,
  decoded: DecodedBatch,
  deadLetters: DeadLetter[],
): Set<number> {
  const rejected = new Set<number>();
  const outcomes =
    decoded.telemetry === undefined
      ? features.ingest(decoded.events)
      : features.ingestTelemetry(decoded.telemetry);
  for (const o of outcomes) {
    rejected.add(o.index);
    if (!isDeadLetterOutcome(o)) {
      metrics.outcomes.inc({ reason: o.kind });
      metrics.duplicates.inc();
      continue;
    }
    const message = batch.messages[decoded.messageIndex[o.index] ?? -1];
    if (message === undefined) throw new Error('feature outcome index out of range (programmer error)');
    reject(metrics, deadLetters, {
      message,
      reason: o.kind,
      stage: 'features',
      error: o.message,
      schemaId: decoded.schemaIds[o.index],
      machineId: o.machineId,
    });
  }
  return rejected;
}

/**
 * Per machine of a telemetry batch, the bound of its side-completeness claim: its largest accepted
 * telemetry ts in the batch minus the allowed lateness (events the feature stage did not use change no
 * state, so they make no claim either).
 */
export function telemetryBounds(
  decoded: DecodedBatch,
  rejected: ReadonlySet<number>,
  allowedLatenessMs: number,
): Map<number, number> {
  const out = new Map<number, number>();
  const rows = decoded.telemetry;
  if (rows === undefined) return out;
  const { machineId, ts } = rows;
  // Per machine the row of its largest ts (an index: no number boxed per row), then one bound each.
  const latest = new Map<number, number>();
  for (let i = 0; i < rows.length; i++) {
    if (rejected.has(i)) continue;
    const id = machineId[i] as number;
    const j = latest.get(id);
    if (j === undefined || (ts[i] as number) > (ts[j] as number)) latest.set(id, i);
  }
  for (const [id, j] of latest) out.set(id, (ts[j] as number) - allowedLatenessMs);
  return out;
}
