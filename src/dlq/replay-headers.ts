/**
 * The Kafka headers `dlq replay` puts on a re-published record, and how a dead letter reads them back.
 *
 * Loop guard design: the replay count travels with the record. `dlq replay` sends
 * `pdm-replay-count = <count of the dead letter> + 1`; when the replayed record is dead-lettered again,
 * the engine copies the header into `dead_letters.replay_count` (and `pdm-replayed-from` into
 * `replayed_from`), so the next `dlq replay` knows how often this record went round and refuses it past
 * the maximum. The resolution row of each replay records the same count for audit.
 */
import type { MessageHeaders } from '../ingest/index.js';

export const REPLAY_HEADERS = {
  count: 'pdm-replay-count',
  from: 'pdm-replayed-from',
  at: 'pdm-replayed-at',
} as const;

/** Largest count a header may claim; anything larger or malformed reads as 0 (not ours). */
const MAX_HEADER_COUNT = 1_000_000;

function headerText(headers: MessageHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  // A header without a value (null) says nothing: read as absent, never as an error on a dead letter.
  if (one === undefined || one === null) return undefined;
  return typeof one === 'string' ? one : one.toString('utf8');
}

/** `pdm-replay-count` of a record: a decimal count, 0 when absent or malformed. */
export function replayCountOf(headers: MessageHeaders | undefined): number {
  const text = headerText(headers, REPLAY_HEADERS.count);
  if (text === undefined || !/^(0|[1-9][0-9]{0,6})$/.test(text)) return 0;
  const n = Number(text);
  return n <= MAX_HEADER_COUNT ? n : 0;
}

/** `pdm-replayed-from` of a record (`topic/partition/offset`), '' when absent; capped like an id. */
export function replayedFromOf(headers: MessageHeaders | undefined): string {
  return (headerText(headers, REPLAY_HEADERS.from) ?? '').slice(0, 512);
}

/** Where a dead letter sits in Kafka, as `pdm-replayed-from` and `--ids` write it. */
export function recordCoordinates(r: {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}): string {
  return `${r.topic}/${r.partition}/${r.offset}`;
}

/** Headers of a re-published record: the next replay count, where it came from, when (ISO 8601 UTC). */
export function replayHeaders(
  source: { readonly topic: string; readonly partition: number; readonly offset: string },
  nextCount: number,
  atMs: number,
): Record<string, string> {
  return {
    [REPLAY_HEADERS.count]: String(nextCount),
    [REPLAY_HEADERS.from]: recordCoordinates(source),
    [REPLAY_HEADERS.at]: new Date(atMs).toISOString(),
  };
}
