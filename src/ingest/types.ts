import type { MessageBytes } from '../shared/message-bytes.js';

/** A Kafka message as the engine sees it, independent of the client library. */
export interface SourceMessage {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are 64-bit: kept as decimal strings. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Broker/producer timestamp of the message, epoch ms. */
  readonly timestampMs: number;
  /**
   * Kafka record headers as the client delivered them (no copy). The engine reads none on the hot path;
   * a dead letter keeps `pdm-replay-count` and `pdm-replayed-from` (src/dlq, replay loop guard).
   */
  readonly headers?: MessageHeaders | undefined;
  /**
   * Where the key and value are, without a Buffer view per access (messages read from a fetch response
   * in place have it); {@link locateMessage} covers the others.
   */
  locate?(out: MessageBytes): void;
}

/** Sets `out` to where `m`'s key and value are. */
export function locateMessage(m: SourceMessage, out: MessageBytes): void {
  if (m.locate !== undefined) {
    m.locate(out);
    return;
  }
  const { key, value } = m;
  out.key = key;
  out.keyAt = 0;
  out.keyEnd = key === null ? 0 : key.length;
  out.value = value;
  out.valueAt = 0;
  out.valueEnd = value === null ? 0 : value.length;
}

/** A header sent without a value arrives as null (kafkajs delivers it so, though its own type omits it). */
export type MessageHeaderValue = Buffer | string | null;
export type MessageHeaders = Readonly<Record<string, MessageHeaderValue | MessageHeaderValue[] | undefined>>;
