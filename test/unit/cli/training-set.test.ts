/**
 * Issue 13, item 1: `training-set`'s pure parts (labelling a page of logged vectors, options, the report)
 * and reading a topic to its end through a fake RecordSource.
 */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { readTopicToEnd } from '../../../src/cli/read-topic.js';
import { formatTrainingSetReport, type TrainingSetReport } from '../../../src/cli/training-set-report.js';
import { labelPage, registerTrainingSetCommand, specHashOption } from '../../../src/cli/training-set.js';
import { createFailureIndex, LABEL_HORIZON_MS } from '../../../src/features/index.js';
import type { RecordSourceHandlers, SourceMessage } from '../../../src/ingest/index.js';
import type { LoggedVector } from '../../../src/sink/index.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);
const vec = (machineId: number, day: number, values: number[] = [1, 2, 3]): LoggedVector => ({
  machineId,
  bucketMs: T0 + day * DAY,
  values,
  modelVersion: 'm/1',
});

describe('labelPage', () => {
  const index = createFailureIndex(Number.POSITIVE_INFINITY);
  index.add({ machineId: 1, ts: T0 + 5 * DAY, failure: 'comp2' });
  const page = [
    vec(1, 0),
    vec(1, 1, [1, 2]), // wrong length
    vec(1, 2, [1, Number.NaN, 3]),
    vec(1, 3, [1, null as unknown as number, 3]), // JSON null
    vec(1, 4),
    vec(1, 6),
    vec(2, 4),
  ];
  const until = T0 + 4 * DAY + LABEL_HORIZON_MS; // windows of buckets up to day 4 are covered

  it('labels with the failure index, drops wrong lengths and non-finite values, excludes incomplete windows', () => {
    const r = labelPage(page, index, { nFeatures: 3, labelsUntilMs: until, includeIncomplete: false });
    expect(r.rows.map((x) => [x.machineId, (x.bucketMs - T0) / DAY])).toEqual([
      [1, 0],
      [1, 4],
      [2, 4],
    ]);
    expect(r.labels).toEqual([2, 2, 0]);
    expect(r.rows[0]?.values).toEqual(Float64Array.from([1, 2, 3]));
    expect([r.incomplete, r.wrongLength, r.nonFinite]).toEqual([1, 1, 2]);
  });

  it('--include-incomplete keeps them (and still counts them)', () => {
    const r = labelPage(page, index, { nFeatures: 3, labelsUntilMs: until, includeIncomplete: true });
    expect(r.rows.length).toBe(4);
    expect(r.labels).toEqual([2, 2, 0, 0]);
    expect(r.incomplete).toBe(1);
  });
});

describe('options', () => {
  it('--spec-hash takes 64 hex digits (any case)', () => {
    expect(specHashOption('A'.repeat(64))).toBe('a'.repeat(64));
    expect(() => specHashOption('abc')).toThrow(/64 hex digits/);
  });

  it.each([
    [[], /required option '--out/],
    [['--out', 'x.csv', '--from', '2026-03-02', '--to', '2026-03-01'], /must be before --to/],
    [['--out', 'x.csv', '--spec-hash', 'nope'], /64 hex digits/],
    [['--out', 'x.csv', '--machines', '5-2'], /ends before it starts/],
  ])('%j is a usage error', async (args, message) => {
    const program = new Command().exitOverride();
    let stderr = '';
    program.configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
    registerTrainingSetCommand(program);
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: (s) => (stderr += s) });
    const err = await program.parseAsync(['training-set', ...args], { from: 'user' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommanderError);
    expect(stderr).toMatch(message);
  });
});

describe('formatTrainingSetReport', () => {
  const report: TrainingSetReport = {
    out: 'train/out/x/features.csv',
    database: 'pdm',
    specHash: 'ab'.repeat(32),
    selection: { from: '2026-03-01T00:00:00.000Z', to: null, machines: '1-3' },
    featureVectors: {
      copies: 130,
      buckets: 100,
      multiVersionBuckets: 25,
      conflictingBuckets: 1,
      otherSpecHashes: { ['cd'.repeat(32)]: 4 },
      wrongLength: 2,
      nonFinite: 0,
    },
    labels: {
      until: '2026-03-30T12:00:00.000Z',
      untilFrom: 'latest logged bucket',
      incomplete: 14,
      incompleteIncluded: false,
    },
    failures: {
      topic: 'pdm.failures',
      partitions: 4,
      records: 12,
      undecodable: { UNKNOWN_SCHEMA: 1 },
      invalid: 1,
      future: 0,
      duplicates: 2,
      used: 8,
      machines: 3,
      processingClock: '2026-11-30T00:00:00.000Z',
      written: 8,
    },
    rows: 84,
    machines: 3,
    firstBucketTs: T0,
    lastBucketTs: T0 + 20 * DAY,
    labelCounts: { none: 70, comp1: 4, comp2: 10, comp3: 0, comp4: 0 },
  };

  it('says where the rows came from on its first line, and every reason a logged vector is not a row', () => {
    const lines = formatTrainingSetReport(report);
    expect(lines[0]).toBe(
      'training-set: 84 rows of 3 machines from ClickHouse pdm.feature_vectors (spec hash abababababab…, ' +
        'buckets [2026-03-01T00:00:00.000Z, …), machines 1-3), labels from 8 failures of Kafka topic pdm.failures',
    );
    const text = lines.join('\n');
    expect(text).toContain('labels: none 70, comp1 4, comp2 10, comp3 0, comp4 0');
    expect(text).toContain('130 logged rows → 100 buckets after deduplication (30 copies dropped');
    expect(text).toContain('25 buckets scored by more than one model version, 1 with differing vectors');
    expect(text).toContain('dropped 16 of the 100 buckets: 14 label window (B, B + 7 d] not covered');
    expect(text).toContain('2 vector length not 38');
    expect(text).toContain('14 rows end after it: excluded');
    expect(text).toContain(
      `not exported: 4 vectors of other spec hashes in the selection (${'cd'.repeat(32)} 4)`,
    );
    expect(text).toContain('not decodable UNKNOWN_SCHEMA 1; invalid 1;');
    expect(text).toContain('8 written for the exported machines');
  });
});

describe('readTopicToEnd', () => {
  const msg = (partition: number, offset: number): SourceMessage => ({
    topic: 't',
    partition,
    offset: String(offset),
    key: null,
    value: Buffer.from([offset]),
    timestampMs: 0,
    headers: {},
  });

  /** A source whose partitions hold `logs[p]` records from offset `earliest[p]`; delivers in batches of 2. */
  function fakeSource(ends: number[], earliest: number[], extra = 0) {
    let stopped = false;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    return {
      stopped: () => stopped,
      source: {
        done,
        endOffsets: () => Promise.resolve(new Map(ends.map((e, p) => [p, String(e)]))),
        offsetForTimestamp: (tp: { partition: number }, ts: number) => {
          expect(ts).toBe(-2);
          return Promise.resolve(String(earliest[tp.partition] ?? 0));
        },
        async start(h: RecordSourceHandlers) {
          // Records produced after the snapshot (`extra`) come too and must be left out.
          for (let p = 0; p < ends.length; p++) {
            const end = (ends[p] ?? 0) + extra;
            for (let o = earliest[p] ?? 0; o < end; o += 2) {
              const messages = [msg(p, o), ...(o + 1 < end ? [msg(p, o + 1)] : [])];
              const outcome = await h.onBatch(
                { topic: 't', partition: p, messages, highWatermark: String(end), fetchedAtMs: 0 },
                { heartbeat: () => Promise.resolve() },
              );
              expect(outcome.taken).toBe(true);
            }
          }
        },
        stop() {
          stopped = true;
          resolveDone();
          return Promise.resolve();
        },
      },
    };
  }

  it('hands over every record below the end offsets of the snapshot, then stops', async () => {
    const f = fakeSource([5, 0, 3], [1, 0, 3], 2);
    const seen: string[] = [];
    const r = await readTopicToEnd({
      source: f.source,
      topic: 't',
      onMessages: (ms) => void seen.push(...ms.map((m) => `${m.partition}:${m.offset}`)),
    });
    expect(seen).toEqual(['0:1', '0:2', '0:3', '0:4']);
    expect(r).toEqual({ partitions: 3, messages: 4 });
    expect(f.stopped()).toBe(true);
  });

  it('an empty topic is read without starting a consumer', async () => {
    const f = fakeSource([0, 0], [0, 0]);
    const r = await readTopicToEnd({
      source: { ...f.source, start: () => Promise.reject(new Error('started')) },
      topic: 't',
      onMessages: () => undefined,
    });
    expect(r).toEqual({ partitions: 2, messages: 0 });
  });

  it('fails when records are expected and none come', async () => {
    const f = fakeSource([3], [0]);
    await expect(
      readTopicToEnd({
        source: { ...f.source, start: () => Promise.resolve() },
        topic: 't',
        onMessages: () => undefined,
        idleTimeoutMs: 50,
      }),
    ).rejects.toThrow(
      /no record of t for 0 s while records are still expected \(partition 0 at start of 3\)/,
    );
    expect(f.stopped()).toBe(true);
  });
});
