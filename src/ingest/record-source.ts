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
  /** False once the source is stopping or the partition was revoked: finish up, don't start new work. */
  isRunning(): boolean;
}

export interface RecordSourceHandlers {
  /**
   * Partitions just assigned to this instance (after every rebalance). Seeks issued here (e.g. the
   * state-restore seek back by timestamp) take effect before the first batch of those partitions.
   */
  onAssigned(assigned: readonly TopicPartition[]): Promise<void>;
  /**
   * One batch of one partition. When this resolves to true, the source commits the offset after the
   * batch's last message: the handler resolves only after everything the batch produced is acknowledged by
   * the sinks. False means "not processed" (e.g. fetched before a seek): nothing is committed. A rejection
   * stops the source (the engine retries transient failures itself before giving up).
   */
  onBatch(batch: SourceBatch, control: BatchControl): Promise<boolean>;
}

/** Where records come from. The only implementation today is kafkajs (kafka-source.ts). */
export interface RecordSource {
  /**
   * Joins the group and starts fetching. Resolves once running; `done` settles when the source stops
   * (rejects when it crashed on a non-retryable error).
   */
  start(handlers: RecordSourceHandlers): Promise<void>;
  readonly done: Promise<void>;
  /** Next fetch of this partition starts at `offset`. */
  seek(tp: TopicPartition, offset: string): void;
  /** Earliest offset whose message timestamp is ≥ `timestampMs` (the log end offset when none). */
  offsetForTimestamp(tp: TopicPartition, timestampMs: number): Promise<string>;
  /** Log end offsets (high watermarks) of each partition of `topic`. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  /** Committed offsets of this group for `topic` ('-1' when none). */
  committedOffsets(topic: string): Promise<Map<number, string>>;
  pause(tps: readonly TopicPartition[]): void;
  resume(tps: readonly TopicPartition[]): void;
  /** Stops fetching, lets the batch in progress finish and commit, leaves the group. */
  stop(): Promise<void>;
}
