/**
 * kafkajs's consumer `Batch` (`consumer/batch.js`) without a 64-bit `Long` per message.
 *
 * kafkajs 2.2.4 builds a Batch per partition of every fetch, and its constructor filters the messages
 * twice with a callback per message: offsets below the fetched offset go (`Long.fromValue(offset)` on the
 * decimal text: a BigInt and a Long per message), then aborted transactions and control records. On a
 * backlog that is as much garbage per record as the rest of the engine's read path (issue-10 notes).
 *
 * The subclass here gives the same batch (same arrays' contents, same methods: it inherits them) when the
 * messages are records of kafkajs-fetch-decode.ts and there are no aborted transactions: offsets are read
 * as numbers from the record bytes, only until the first one at or past the fetched offset (a partition's
 * offsets increase), and control records are looked for once per record batch. Anything else (legacy
 * message sets decoded by kafkajs, aborted transactions, offsets beyond 2^53) is kafkajs's own constructor.
 *
 * kafkajs's consumer group module takes the class when it is loaded, so this must be installed before
 * kafkajs is: kafkajs-preload.ts does it, imported ahead of kafkajs by every module that loads kafkajs.
 */
import type { createRequire } from 'node:module';
import { FetchedRecord } from './kafkajs-fetch-decode.js';
import { replaceKafkajsModule } from './kafkajs-version.js';

type Require = ReturnType<typeof createRequire>;

/** The partition data of a fetch response as kafkajs's Batch takes it. */
export interface PartitionData {
  readonly partition: number;
  readonly highWatermark: string;
  readonly abortedTransactions?: readonly unknown[] | null;
  readonly messages: readonly unknown[];
  readonly [k: string]: unknown;
}

/** What this module sets of kafkajs's Batch; its methods read these. */
export interface KafkajsBatch {
  rawMessages: readonly unknown[];
  messagesWithinOffset: readonly unknown[];
  messages: readonly unknown[];
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => KafkajsBatch;

const NONE: readonly unknown[] = Object.freeze([]);
const PATCHED = Symbol.for('pdm-stream.kafkajs-batch');

/** The messages from `fetchedOffset` on and those without control records, or undefined: kafkajs decides. */
export function selectMessages(
  fetchedOffset: string,
  data: PartitionData,
): { within: readonly unknown[]; messages: readonly unknown[] } | undefined {
  const raw = data.messages;
  if (!Array.isArray(raw)) return undefined;
  if (data.abortedTransactions != null && data.abortedTransactions.length > 0) return undefined;
  const fetched = Number(fetchedOffset);
  if (!Number.isSafeInteger(fetched) || String(fetched) !== fetchedOffset) return undefined;
  let first = 0;
  let control = false;
  let source: unknown;
  for (let i = 0; i < raw.length; i++) {
    const m: unknown = raw[i];
    if (!(m instanceof FetchedRecord)) return undefined;
    if (m.batch !== source) {
      source = m.batch;
      if (m.isControlRecord) control = true;
    }
    if (first === i) {
      const offset = m.exactOffset();
      if (offset < 0) return undefined;
      if (offset < fetched) first = i + 1;
    }
  }
  const within = first === 0 ? raw : raw.slice(first);
  return {
    within,
    messages: control ? within.filter((m) => !(m as FetchedRecord).isControlRecord) : within,
  };
}

/** kafkajs's Batch class with the constructor above; its methods are kafkajs's own. */
export function createFastBatch(Batch: BatchClass): BatchClass {
  return class FastBatch extends Batch {
    constructor(topic: string, fetchedOffset: string, data: PartitionData) {
      const fast = selectMessages(fetchedOffset, data);
      if (fast === undefined) {
        super(topic, fetchedOffset, data);
        return;
      }
      super(topic, fetchedOffset, { ...data, messages: NONE });
      this.rawMessages = data.messages;
      this.messagesWithinOffset = fast.within;
      this.messages = fast.messages;
    }
  };
}

/**
 * Puts {@link createFastBatch} in place of kafkajs's Batch for the consumer group module loaded from now
 * on. False (nothing changed) when that module is already loaded (kafkajs was imported first: its own
 * Batch is used) or the layout is not the expected one. The caller checks kafkajs's version.
 */
export function installBatch(require: Require): boolean {
  return replaceKafkajsModule(
    require,
    { path: 'kafkajs/src/consumer/batch.js', takenBy: 'kafkajs/src/consumer/consumerGroup.js' },
    PATCHED,
    (Batch) => (typeof Batch === 'function' ? createFastBatch(Batch as BatchClass) : undefined),
  );
}
