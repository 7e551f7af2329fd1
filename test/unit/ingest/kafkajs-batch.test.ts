/**
 * The consumer batch of src/ingest/kafkajs-batch.ts against kafkajs's own `Batch`, the oracle: on random
 * partitions of fetched records (offset gaps as compaction leaves them, control batches, transactions,
 * fetched offsets before, inside and after the records, aborted transactions, legacy records decoded by
 * kafkajs) both give the same messages, in the same order, as the same objects, and every method of the
 * batch answers the same. And the preload installs it when the project's modules load kafkajs.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createFastBatch, selectMessages, type PartitionData } from '../../../src/ingest/kafkajs-batch.js';
import { createDecodeMessages, type FetchedRecord } from '../../../src/ingest/kafkajs-fetch-decode.js';
import { kafkajsModuleInFreshProcess } from './fresh-process.js';
import { batch, int16, messageSet, type TestBatch } from './record-batch-writer.js';

const require = createRequire(import.meta.url);
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder;
type DecodeMessages = (d: KafkajsDecoder) => Promise<unknown[]>;
interface KafkajsBatchLike {
  rawMessages: readonly unknown[];
  messagesWithinOffset: readonly unknown[];
  messages: readonly unknown[];
  isEmpty(): boolean;
  isEmptyIncludingFiltered(): boolean;
  isEmptyDueToFiltering(): boolean;
  isEmptyControlRecord(): boolean;
  isEmptyDueToLogCompactedMessages(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}
type BatchClass = new (topic: string, fetchedOffset: string, data: PartitionData) => KafkajsBatchLike;

/** kafkajs's own class, also when this process already installed the subclass over it. */
const loaded = require('kafkajs/src/consumer/batch.js') as BatchClass;
const KafkajsBatch: BatchClass =
  loaded.name === 'FastBatch' ? (Object.getPrototypeOf(loaded) as BatchClass) : loaded;
const FastBatch = createFastBatch(KafkajsBatch) as unknown as BatchClass;

const Decoder = require('kafkajs/src/protocol/decoder.js') as DecoderClass;
const kafkajsDecodeMessages =
  require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as DecodeMessages;
const recordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as never;
const ours = createDecodeMessages(Decoder, kafkajsDecodeMessages as never, recordBatch, () => null);

let seed = 3;
function rand(n: number): number {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
  return (seed >>> 8) % n;
}

const CONTROL = 0x20;
const TRANSACTIONAL = 0x10;
/** A control record's key: version 0, type 0 (abort) or 1 (commit). */
const controlKey = (type: number) => Buffer.from([...int16(0), ...int16(type)]);

/** Random record batches of one partition, offsets increasing with gaps, some control or transactional. */
function partitionBatches(): { batches: TestBatch[]; first: number; last: number } {
  const batches: TestBatch[] = [];
  let offset = rand(5) === 0 ? 0 : 1 + rand(1_000_000);
  const first = offset;
  let last = offset;
  for (let b = 0, n = 1 + rand(4); b < n; b++) {
    const kind = rand(6);
    const control = kind === 0;
    const transactional = control || kind === 1;
    const count = control ? 1 : rand(6);
    const records = Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      ...(control ? { key: controlKey(rand(2)) } : {}),
    }));
    batches.push({
      firstOffset: BigInt(offset),
      attributes: (control ? CONTROL : 0) | (transactional ? TRANSACTIONAL : 0),
      producerId: transactional ? 77n : -1n,
      records,
    });
    if (count > 0) last = offset + count - 1;
    offset += Math.max(count, 1) + (rand(3) === 0 ? 1 + rand(20) : 0);
  }
  return { batches, first, last };
}

/** Both classes on the same data: the same arrays (element by element, the same objects), the same answers. */
function same(fetchedOffset: string, data: PartitionData): void {
  const expected = new KafkajsBatch('t', fetchedOffset, data);
  const actual = new FastBatch('t', fetchedOffset, data);
  for (const field of ['rawMessages', 'messagesWithinOffset', 'messages'] as const) {
    expect(actual[field].length).toBe(expected[field].length);
    actual[field].forEach((m, i) => {
      expect(m).toBe(expected[field][i]);
    });
  }
  for (const method of [
    'isEmpty',
    'isEmptyIncludingFiltered',
    'isEmptyDueToFiltering',
    'isEmptyControlRecord',
    'isEmptyDueToLogCompactedMessages',
    'firstOffset',
    'lastOffset',
    'offsetLag',
    'offsetLagLow',
  ] as const) {
    expect([method, actual[method]()]).toEqual([method, expected[method]()]);
  }
}

describe('kafkajs batch fast path: the same batches as kafkajs', () => {
  it('random partitions and fetched offsets, with and without aborted transactions', async () => {
    let fast = 0;
    let kafkajs = 0;
    let filteredByOffset = 0;
    let withControl = 0;
    for (let i = 0; i < 400; i++) {
      const { batches, first, last } = partitionBatches();
      const set = messageSet(batches.map(batch));
      const messages = await ours(new Decoder(set));
      const fetched = String(Math.max(0, first - 2 + rand(last - first + 5)));
      const aborted = rand(8) === 0 ? [{ producerId: '77', firstOffset: String(first + rand(3)) }] : [];
      const data: PartitionData = {
        partition: 0,
        highWatermark: String(last + 1 + rand(3)),
        abortedTransactions: aborted,
        messages,
      };
      if (selectMessages(fetched, data) === undefined) kafkajs++;
      else fast++;
      const k = new KafkajsBatch('t', fetched, data);
      if (k.messagesWithinOffset.length < messages.length) filteredByOffset++;
      if (k.messages.length < k.messagesWithinOffset.length) withControl++;
      same(fetched, data);
    }
    // Not vacuous: most took the fast path, and both filters removed messages in many cases.
    expect(fast).toBeGreaterThan(250);
    expect(kafkajs).toBeGreaterThan(20);
    expect(filteredByOffset).toBeGreaterThan(50);
    expect(withControl).toBeGreaterThan(50);
  });

  it('records decoded by kafkajs itself, offsets beyond 2^53 and odd fetched offsets are kafkajs’s to filter', async () => {
    const set = messageSet([batch({ firstOffset: 5n, records: [{}, { offsetDelta: 1 }] })]);
    const kafkajsRecords = await kafkajsDecodeMessages(new Decoder(set));
    const data = (messages: readonly unknown[]): PartitionData => ({
      partition: 0,
      highWatermark: '9',
      messages,
    });
    expect(selectMessages('5', data(kafkajsRecords))).toBeUndefined();
    same('6', data(kafkajsRecords));
    const big = messageSet([batch({ firstOffset: 2n ** 60n, records: [{}, { offsetDelta: 1 }] })]);
    const bigRecords = await ours(new Decoder(big));
    expect((bigRecords[0] as FetchedRecord).exactOffset()).toBe(-1);
    expect(selectMessages('1', data(bigRecords))).toBeUndefined();
    same(String(2n ** 60n + 1n), data(bigRecords));
    const small = await ours(new Decoder(set));
    expect(selectMessages('05', data(small))).toBeUndefined();
    same('05', data(small));
    expect(selectMessages('6', data(small))?.within).toEqual([small[1]]);
  });

  it('is installed when the project’s modules load kafkajs (a fresh process)', () => {
    const out = kafkajsModuleInFreshProcess(
      'kafkajs/src/consumer/batch.js',
      "m.name + ' extends ' + Object.getPrototypeOf(m).name",
    );
    expect(out).toBe('FastBatch extends Batch');
  });
});
