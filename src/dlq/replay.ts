/**
 * `dlq replay` and `dlq dismiss`: plan what to do with selected dead letters (pure), then do it.
 *
 * Replay re-publishes the original value bytes, key bytes and Kafka timestamp to the original topic and
 * partition (so a machine's records stay on its home partition) with `pdm-replay-count`,
 * `pdm-replayed-from` and `pdm-replayed-at` headers, and only after the broker acknowledged them writes
 * a `replayed` resolution per dead letter: the depth goes down once the records are safely back in Kafka.
 * A crash between the two leaves the dead letters unresolved (a second replay would publish them again,
 * with the same count: the engine's dedupe and the ReplacingMergeTree keys make that harmless).
 */
import { PdmError, errorMessage } from '../shared/errors.js';
import { recordCoordinates, replayHeaders } from './replay-headers.js';
import type { Landed, Republisher, RepublishMessage } from './republisher.js';
import type { DeadLetterStore, ResolutionRow, StoredDeadLetter } from './store.js';

/** @default for `--max-replays`: how often one record may go round the dead-letter queue. */
export const DEFAULT_MAX_REPLAYS = 3;

export interface PlannedReplay {
  /** `topic/partition/offset` of the dead-lettered record. */
  readonly id: string;
  readonly rows: readonly StoredDeadLetter[];
  readonly message: RepublishMessage;
  readonly nextCount: number;
}

export interface RefusedReplay {
  readonly id: string;
  readonly rows: readonly StoredDeadLetter[];
  readonly why: string;
}

export interface ReplayPlan {
  readonly replay: readonly PlannedReplay[];
  readonly refused: readonly RefusedReplay[];
}

/** One Kafka record may have several dead-letter rows (one per reason): it is replayed once. */
function groupByRecord(rows: readonly StoredDeadLetter[]): Map<string, StoredDeadLetter[]> {
  const groups = new Map<string, StoredDeadLetter[]>();
  for (const r of rows) {
    const id = recordCoordinates(r);
    const g = groups.get(id);
    if (g === undefined) groups.set(id, [r]);
    else g.push(r);
  }
  return groups;
}

/** The loop guard: a record that has been replayed `maxReplays` times is not replayed again. */
export function replayRefusal(replayCount: number, maxReplays: number): string | undefined {
  return replayCount >= maxReplays
    ? `replayed ${replayCount} time${replayCount === 1 ? '' : 's'} already (maximum ${maxReplays}); dismiss it or fix the cause`
    : undefined;
}

/** The exact key bytes, or why they are not known (rows written before migration 5 with a binary key). */
function originalKey(row: StoredDeadLetter): { key: Buffer | null } | { why: string } {
  if (row.keyBase64 !== null) return { key: Buffer.from(row.keyBase64, 'base64') };
  if (row.key === null) return { key: null };
  if (row.key.includes('\uFFFD')) {
    return {
      why: 'its key was stored as lossy UTF-8 text (dead-lettered before migration 5); the exact key is unknown',
    };
  }
  return { key: Buffer.from(row.key, 'utf8') };
}

export function planReplay(
  rows: readonly StoredDeadLetter[],
  options: { readonly maxReplays: number; readonly nowMs: number },
): ReplayPlan {
  const replay: PlannedReplay[] = [];
  const refused: RefusedReplay[] = [];
  for (const [id, group] of groupByRecord(rows)) {
    const first = group[0];
    if (first === undefined) continue;
    const count = Math.max(...group.map((r) => r.replayCount));
    const guard = replayRefusal(count, options.maxReplays);
    if (guard !== undefined) {
      refused.push({ id, rows: group, why: guard });
      continue;
    }
    const key = originalKey(first);
    if ('why' in key) {
      refused.push({ id, rows: group, why: key.why });
      continue;
    }
    const nextCount = count + 1;
    replay.push({
      id,
      rows: group,
      nextCount,
      message: {
        topic: first.topic,
        partition: first.partition,
        key: key.key,
        // payload_base64 is '' for a record without a value (a tombstone): replayed as one.
        value:
          first.payloadBytes === 0 && first.payloadBase64 === ''
            ? null
            : Buffer.from(first.payloadBase64, 'base64'),
        timestampMs: first.messageTsMs >= 0 ? first.messageTsMs : undefined,
        headers: replayHeaders(first, nextCount, options.nowMs),
      },
    });
  }
  return { replay, refused };
}

export interface ReplayProgress {
  readonly replayed: number;
  readonly total: number;
}

export interface ReplayOutcome {
  readonly replayed: readonly (PlannedReplay & { readonly landed: Landed })[];
  readonly resolutions: number;
}

/**
 * Publishes the plan partition by partition in chunks of `chunkRecords`, resolving each chunk after its
 * acknowledgement. Rejects with {@link PdmError} `DLQ_REPLAY_FAILED` saying what was done before.
 */
export async function executeReplay(
  plan: ReplayPlan,
  deps: { readonly publisher: Republisher; readonly store: Pick<DeadLetterStore, 'resolve'> },
  options: {
    readonly note: string;
    readonly chunkRecords?: number;
    readonly onProgress?: (p: ReplayProgress) => void;
  },
): Promise<ReplayOutcome> {
  const chunk = options.chunkRecords ?? 500;
  const byPartition = new Map<string, PlannedReplay[]>();
  for (const p of plan.replay) {
    const k = `${p.message.topic}\u0000${p.message.partition}`;
    const list = byPartition.get(k);
    if (list === undefined) byPartition.set(k, [p]);
    else list.push(p);
  }
  const replayed: (PlannedReplay & { landed: Landed })[] = [];
  let resolutions = 0;
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += chunk) {
      const part = list.slice(i, i + chunk);
      let landed: Landed[];
      try {
        landed = await deps.publisher.send(part.map((p) => p.message));
      } catch (err) {
        throw new PdmError(
          `${errorMessage(err)} (${replayed.length} of ${plan.replay.length} records were replayed and resolved before)`,
          { code: 'DLQ_REPLAY_FAILED', stage: 'dlq', cause: err },
        );
      }
      const done = part.map((p, j) => ({ ...p, landed: landed[j] ?? { partition: -1, offset: '-1' } }));
      const rows: ResolutionRow[] = done.flatMap((p) =>
        p.rows.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          reason: r.reason,
          action: 'replayed' as const,
          note: options.note,
          replayCount: p.nextCount,
          replayedToPartition: p.landed.partition,
          replayedToOffset: p.landed.offset,
        })),
      );
      try {
        await deps.store.resolve(rows);
      } catch (err) {
        const ids = done.map((p) => p.id);
        throw new PdmError(
          `${ids.length} records were re-published but could not be marked replayed (${errorMessage(err)}); they still count in the depth. Dismiss them once ClickHouse answers: dlq dismiss --ids ${ids
            .slice(0, 20)
            .map((id) => id.replace(/\//g, ':'))
            .join(',')}${ids.length > 20 ? ',…' : ''} --reason "replayed"`,
          { code: 'DLQ_RESOLVE_FAILED', stage: 'dlq', cause: err },
        );
      }
      resolutions += rows.length;
      replayed.push(...done);
      options.onProgress?.({ replayed: replayed.length, total: plan.replay.length });
    }
  }
  return { replayed, resolutions };
}

/** `dismissed` resolutions for `rows`, each keeping its own replay count. */
export function dismissals(rows: readonly StoredDeadLetter[], note: string): ResolutionRow[] {
  return rows.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    reason: r.reason,
    action: 'dismissed',
    note,
    replayCount: r.replayCount,
    replayedToPartition: -1,
    replayedToOffset: '-1',
  }));
}
