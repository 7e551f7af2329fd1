/**
 * An in-memory RecordSource that behaves like the Kafka source towards the engine: per-partition logs,
 * seeks that move the next fetch, timestamps looked up like `offsetsForTimes`, and a commit recorded only
 * when the batch was taken and its `acked` resolved. The test decides when batches are delivered (`deliver`).
 */
import type {
  BatchControl,
  RecordSource,
  RecordSourceHandlers,
  SourceBatch,
  SourceMessage,
  TopicPartition,
} from '../../../src/ingest/index.js';

export interface Delivery {
  readonly batch: SourceBatch;
  /** True once the batch was taken and acknowledged (and committed); false when not taken. Rejections propagate. */
  readonly result: Promise<boolean>;
}

export interface FakeSource extends RecordSource {
  /** Appends to a partition's log; returns the new message's offset. */
  append(
    tp: TopicPartition,
    message: { key: string | null; value: Buffer | null; timestampMs: number },
  ): string;
  log(tp: TopicPartition): readonly SourceMessage[];
  /** Calls the engine's `onAssigned` (what a rebalance does), after `start`. */
  assign(tps: readonly TopicPartition[]): Promise<void>;
  /**
   * Fetches up to `max` messages of `tp` from its position (the last seek, else the committed offset,
   * else 0) and hands them to `onBatch`. On `true` the position moves past the batch and the offset after
   * its last message is committed; on `false` nothing moves or is committed. `from` fetches from that
   * offset instead (a fetch issued before a seek took effect). An empty fetch is not handed over (the
   * Kafka source does not deliver empty batches either) and resolves false.
   */
  deliver(tp: TopicPartition, max?: number, from?: string): Delivery;
  /** Messages after the partition's position. */
  remaining(tp: TopicPartition): number;
  /** Offsets committed so far, per `topic:partition` (the offset of the next message to read). */
  readonly commits: Map<string, string>;
  /** Every seek, in order. */
  readonly seeks: { readonly tp: TopicPartition; readonly offset: string }[];
  readonly heartbeats: () => number;
  /** Partitions paused now (`topic:partition`); the test's deliveries ignore pauses. */
  readonly paused: () => string[];
  readonly started: () => boolean;
}

const keyOf = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;

export function createFakeSource(topics: readonly string[], partitions: number): FakeSource {
  const logs = new Map<string, SourceMessage[]>();
  for (const topic of topics)
    for (let p = 0; p < partitions; p++) logs.set(keyOf({ topic, partition: p }), []);
  const position = new Map<string, string>();
  const commits = new Map<string, string>();
  const seeks: { tp: TopicPartition; offset: string }[] = [];
  const paused = new Set<string>();
  let handlers: RecordSourceHandlers | undefined;
  let heartbeats = 0;
  let stopDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    stopDone = resolve;
  });

  function logOf(tp: TopicPartition): SourceMessage[] {
    const l = logs.get(keyOf(tp));
    if (l === undefined) throw new Error(`fake source: no partition ${keyOf(tp)}`);
    return l;
  }

  const control: BatchControl = {
    heartbeat() {
      heartbeats++;
      return Promise.resolve();
    },
  };

  return {
    commits,
    seeks,
    heartbeats: () => heartbeats,
    started: () => handlers !== undefined,
    append(tp, m) {
      const l = logOf(tp);
      const offset = String(l.length);
      l.push({
        topic: tp.topic,
        partition: tp.partition,
        offset,
        key: m.key === null ? null : Buffer.from(m.key),
        value: m.value,
        timestampMs: m.timestampMs,
      });
      return offset;
    },
    log: (tp) => logOf(tp),
    assign(tps) {
      if (handlers === undefined) throw new Error('fake source: assign before start');
      return handlers.onAssigned(tps);
    },
    remaining(tp) {
      const k = keyOf(tp);
      return logOf(tp).length - Number(position.get(k) ?? commits.get(k) ?? '0');
    },
    deliver(tp, max = Number.POSITIVE_INFINITY, fromOffset) {
      if (handlers === undefined) throw new Error('fake source: deliver before start');
      const k = keyOf(tp);
      const l = logOf(tp);
      const from = Number(fromOffset ?? position.get(k) ?? commits.get(k) ?? '0');
      const messages = l.slice(from, from + Math.min(max, l.length - from));
      const batch: SourceBatch = {
        topic: tp.topic,
        partition: tp.partition,
        messages,
        highWatermark: String(l.length),
        fetchedAtMs: Date.now(),
      };
      if (messages.length === 0) return { batch, result: Promise.resolve(false) };
      const last = messages[messages.length - 1];
      const next = String(BigInt(last?.offset ?? '-1') + 1n);
      // Like the Kafka source: a taken batch moves the position at once; its commit waits for `acked`.
      const result = handlers.onBatch(batch, control).then(async (outcome) => {
        if (!outcome.taken) return false;
        position.set(k, next);
        await outcome.acked;
        commits.set(k, next);
        return true;
      });
      return { batch, result };
    },
    start(h) {
      handlers = h;
      return Promise.resolve();
    },
    done,
    seek(tp, offset) {
      seeks.push({ tp, offset });
      position.set(keyOf(tp), offset);
    },
    pause(tps) {
      for (const tp of tps) paused.add(keyOf(tp));
    },
    resume(tps) {
      for (const tp of tps) paused.delete(keyOf(tp));
    },
    paused: () => [...paused],
    offsetForTimestamp(tp, timestampMs) {
      const l = logOf(tp);
      const m = l.find((x) => x.timestampMs >= timestampMs);
      return Promise.resolve(m?.offset ?? String(l.length));
    },
    endOffsets(topic) {
      const out = new Map<number, string>();
      for (let p = 0; p < partitions; p++) out.set(p, String(logOf({ topic, partition: p }).length));
      return Promise.resolve(out);
    },
    committedOffsets(topic) {
      const out = new Map<number, string>();
      for (let p = 0; p < partitions; p++) out.set(p, commits.get(keyOf({ topic, partition: p })) ?? '-1');
      return Promise.resolve(out);
    },
    stop() {
      stopDone();
      return Promise.resolve();
    },
  };
}
