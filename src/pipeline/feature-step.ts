/**
 * The feature step of a batch: decoded events applied to the partition's feature state. What the feature
 * stage did not use (late, invalid, future, duplicate) changes no state; the dead-letter reasons among
 * them become dead letters of their Kafka message.
 */
import type { DeadLetter } from '../dlq/index.js';
import { isDeadLetterOutcome, type FeatureEngine } from '../features/index.js';
import type { SourceBatch } from '../ingest/index.js';
import type { EngineMetrics } from '../shared/metrics.js';
import type { PdmEvent } from '../shared/records.js';
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
  for (const o of features.ingest(decoded.events)) {
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
  events: readonly PdmEvent[],
  rejected: ReadonlySet<number>,
  allowedLatenessMs: number,
): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < events.length; i++) {
    if (rejected.has(i)) continue;
    const e = events[i] as PdmEvent;
    if (e.kind !== 'telemetry') continue;
    const bound = e.record.ts - allowedLatenessMs;
    if (bound > (out.get(e.record.machineId) ?? Number.NEGATIVE_INFINITY)) out.set(e.record.machineId, bound);
  }
  return out;
}
