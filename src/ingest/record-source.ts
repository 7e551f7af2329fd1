import type { SourceMessage } from './types.js';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface SourceBatch extends TopicPartition {
  readonly messages: readonly SourceMessage[];
  /** Log end offset of the partition when the batch was fetched. */
  readonly highWatermark: string;
  /** Wall time by which every message of the batch was in the log (the fetch response, or later). */
  readonly fetchedAtMs: number;
}

export interface BatchControl {
  /** Keeps group membership alive while a batch waits for scoring or a slow sink. */
  heartbeat(): Promise<void>;
}

/**
 * What the handler did with a batch. Not taken: nothing of it was processed (e.g. fetched before a seek
 * took effect); the source neither commits nor moves past it, so it is fetched again. Taken: the source
 * moves on and commits the offset after the batch's last message once `acked` resolves, which happens
 * only after everything the batch produced is acknowledged by the sinks. Commits follow the order of the
 * batches of a partition. A rejected `acked` ends the consumer session without committing.
 */
export type BatchOutcome =
  { readonly taken: false } | { readonly taken: true; readonly acked: Promise<void> };

export interface RecordSourceHandlers {
  /**
   * Partitions just assigned to this instance (after every rebalance). Seeks issued here (e.g. the
   * state-restore seek back by timestamp) take effect before the first batch of those partitions.
   */
  onAssigned(assigned: readonly TopicPartition[]): Promise<void>;
  /**
   * One batch of one partition. Resolves when the handler has taken the batch (see {@link BatchOutcome}),
   * usually long before its outputs are written: the source fetches on meanwhile. A rejection (of this
   * promise or of `acked`) is logged and ends the consumer session without committing the batch: a
   * retryable error (Kafka unreachable) re-joins after a backoff, bounded by the outage limit, anything
   * else ends the source.
   */
  onBatch(batch: SourceBatch, control: BatchControl): Promise<BatchOutcome>;
}

/** Where records come from. The only implementation today is kafkajs (kafka-source.ts). */
export interface RecordSource {
  /**
   * Joins the group and starts fetching. Resolves once consuming, or once the source ended before that
   * (then `done` says how). Kafka being unreachable is retried, bounded by the outage limit.
   */
  start(handlers: RecordSourceHandlers): Promise<void>;
  /**
   * Resolves only after a {@link stop} we asked for. Rejects on every other end, with an error that says
   * why: a crash or an outage longer than the limit, a non-retryable error, a handler that threw.
   */
  readonly done: Promise<void>;
  /** Next fetch of this partition starts at `offset`. */
  seek(tp: TopicPartition, offset: string): void;
  /**
   * Stops fetching these partitions until {@link resume} (batches already fetched may still arrive); also
   * across the end of an assignment's restore, when the source resumes the rest (a new assignment starts
   * with nothing paused).
   */
  pause(tps: readonly TopicPartition[]): void;
  /** Fetches these partitions again (ignored once {@link stop} was called). */
  resume(tps: readonly TopicPartition[]): void;
  /** Earliest offset whose message timestamp is ≥ `timestampMs` (the log end offset when none). */
  offsetForTimestamp(tp: TopicPartition, timestampMs: number): Promise<string>;
  /** Log end offsets (high watermarks) of each partition of `topic`. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  /** Committed offsets of this group for `topic` ('-1' when none); read by the lag poller. */
  committedOffsets(topic: string): Promise<Map<number, string>>;
  /**
   * Stops fetching, lets the batch in progress finish, waits for every taken batch's `acked` and commits
   * it, then leaves the group.
   */
  stop(): Promise<void>;
}
