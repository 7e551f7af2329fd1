/**
 * Issue 13, item 2: `rescore`'s options (machine ranges, times, page size) and its page loop, without
 * ClickHouse: a fake reader and batcher.
 */
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  batchRowsOption,
  parseMachines,
  registerRescoreCommand,
  rescorePages,
  RescoreMismatchError,
  RESCORE_EXIT_CODES,
  timeOption,
} from '../../../src/cli/rescore.js';
import type { ScoreInputRow, ScoredRow } from '../../../src/score/index.js';
import type {
  BatchWriter,
  FeatureVectorReader,
  LoggedVector,
  PredictionRow,
  VectorKey,
} from '../../../src/sink/index.js';

describe('--machines', () => {
  it.each([
    ['7', [[7, 7]]],
    [
      '1,2,5-9',
      [
        [1, 2],
        [5, 9],
      ],
    ],
    [
      ' 9-12 , 3, 10-20,4 ',
      [
        [3, 4],
        [9, 20],
      ],
    ],
    [
      '0,4294967295',
      [
        [0, 0],
        [4294967295, 4294967295],
      ],
    ],
    ['5-5,5', [[5, 5]]],
  ])('%j → %j', (text, ranges) => {
    expect(parseMachines(text).map((r) => [r.from, r.to])).toEqual(ranges);
  });

  it.each(['', 'a', '1,,2', '-3', '1-', '3-1', '1.5', '4294967296', '1-2-3', '0x10', '1e3'])(
    'refuses %j with a usage error',
    (text) => {
      try {
        parseMachines(text);
        expect.unreachable();
      } catch (err) {
        expect((err as CommanderError).exitCode).toBe(RESCORE_EXIT_CODES.usage);
      }
    },
  );

  it('refuses more than 1000 items', () => {
    expect(() => parseMachines(Array.from({ length: 1001 }, (_, i) => String(i * 2)).join(','))).toThrow(
      /at most 1000/,
    );
  });
});

describe('--from / --to / --batch-rows', () => {
  it('times are those of `features build --now`: ISO (UTC without a zone) or epoch ms', () => {
    expect(timeOption('2026-01-02')).toBe(Date.UTC(2026, 0, 2));
    expect(timeOption('2026-01-02T12:00:00+01:00')).toBe(Date.UTC(2026, 0, 2, 11));
    expect(timeOption('1767225600000')).toBe(1767225600000);
    expect(() => timeOption('yesterday')).toThrow(/epoch milliseconds or an ISO-8601 instant/);
  });

  it('batch rows from 1 to 1,000,000', () => {
    expect(batchRowsOption('1')).toBe(1);
    expect(batchRowsOption('1000000')).toBe(1_000_000);
    for (const v of ['0', '1000001', 'x', '1.5', '-1']) expect(() => batchRowsOption(v)).toThrow();
  });
});

async function usageFailure(args: string[]): Promise<{ exitCode: number; stderr: string }> {
  let stderr = '';
  const program = new Command('pdm-stream')
    .exitOverride()
    .configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  registerRescoreCommand(program);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  try {
    await program.parseAsync(['node', 'pdm-stream', 'rescore', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode, stderr };
    throw err;
  }
  throw new Error('expected a usage error');
}

describe('command line', () => {
  it.each([
    [['--from', '2026-01-02', '--to', '2026-01-01'], /must be before --to/],
    [['--from', '2026-01-02', '--to', '2026-01-02'], /must be before --to/],
    [['--from', 'yesterday', '--to', '2026-01-01'], /--from <time>.*epoch milliseconds/],
    [['--from', '2026-01-01', '--to', '2026-01-02', '--machines', '5-2'], /ends before it starts/],
    [['--from', '2026-01-01', '--to', '2026-01-02', '--batch-rows', '0'], /from 1 to 1000000/],
    [['--to', '2026-01-02'], /required option '--from/],
  ])('%j exits 2: %s', async (args, message) => {
    const r = await usageFailure(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

const N_FEATURES = 3;
const vec = (machineId: number, day: number, n = N_FEATURES): LoggedVector => ({
  machineId,
  bucketMs: Date.UTC(2026, 0, 1 + day),
  values: Array.from({ length: n }, (_, i) => machineId + i),
  modelVersion: 'm/1',
});

function fakeReader(all: LoggedVector[], sources = new Map<string, { partition: number; offset: string }>()) {
  const pages: (VectorKey | undefined)[] = [];
  const reader: FeatureVectorReader = {
    census: () => Promise.resolve([]),
    span: () => Promise.resolve(undefined),
    duplicates: () => Promise.resolve({ keys: 0, copies: 0, multiVersionKeys: 0, conflictingKeys: 0 }),
    lastBucketMs: () => Promise.resolve(undefined),
    featureSet: () => Promise.resolve(undefined),
    page(_spec, after, limit) {
      pages.push(after);
      const start =
        after === undefined
          ? 0
          : all.findIndex(
              (v) =>
                v.machineId > after.machineId ||
                (v.machineId === after.machineId && v.bucketMs > after.bucketMs),
            );
      return Promise.resolve(start < 0 ? [] : all.slice(start, start + limit));
    },
    predictionSources: () => Promise.resolve(sources),
  };
  return { reader, pages };
}

const batcher = {
  submit: (rows: readonly ScoreInputRow[]) =>
    Promise.resolve(
      rows.map((r): ScoredRow => ({
        machineId: r.machineId,
        bucketMs: r.bucketMs,
        probabilities: Float32Array.from([0.5, 0.5, 0, 0, 0]),
        predictedIndex: 0,
        predictedClass: 'none',
        // Even machines alert for comp1 and comp3.
        alertMask: r.machineId % 2 === 0 ? 0b101 : 0,
        alertIndex: r.machineId % 2 === 0 ? 1 : 0,
        alertClass: r.machineId % 2 === 0 ? 'comp1' : 'none',
        warmingUp: r.machineId === 3,
        modelVersion: 'pkg/2',
      })),
    ),
};

function memoryWriter(): BatchWriter<PredictionRow> & { rows: PredictionRow[] } {
  const rows: PredictionRow[] = [];
  return {
    rows,
    write: (r) => {
      rows.push(...r);
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

const pkg = { nFeatures: N_FEATURES, nClasses: 5, specHash: 'h' };
const caps = { modernTypes: false };

describe('rescorePages', () => {
  const all = [1, 2, 3, 4].flatMap((m) => [0, 1, 2].map((d) => vec(m, d)));

  it('pages by key without gaps or repeats, and writes the engine row fields', async () => {
    const { reader, pages } = fakeReader(
      all,
      new Map([[`2/${all[3]?.bucketMs}/m/1`, { partition: 3, offset: '42' }]]),
    );
    const writer = memoryWriter();
    const s = await rescorePages({
      reader,
      batcher,
      writer,
      pkg,
      caps,
      batchRows: 5,
      rowsInRange: all.length,
    });
    const key = (v: VectorKey | undefined) => (v === undefined ? undefined : [v.machineId, v.bucketMs]);
    expect(pages.map(key)).toEqual([undefined, key(all[4]), key(all[9])]);
    expect(writer.rows.map((r) => `${r.machine_id}/${r.bucket_ts}`)).toEqual(
      all.map((v) => `${v.machineId}/${new Date(v.bucketMs).toISOString().slice(0, 19).replace('T', ' ')}`),
    );
    expect(s).toMatchObject({ read: 12, scored: 12, written: 12, pages: 3, alertingRows: 6, warmingUp: 3 });
    expect(s.alertsByClass).toEqual([0, 6, 0, 6, 0]);
    expect(s.withoutSource).toBe(11);
    const r0 = writer.rows[3];
    expect(r0).toMatchObject({
      source_topic: 'rescore',
      source_partition: 3,
      source_offset: '42',
      model_version: 'pkg/2',
      alert: 1,
      alert_class: 'comp1',
      alert_components: ['comp1', 'comp3'],
    });
    expect(writer.rows[0]).toMatchObject({ source_partition: -1, source_offset: '-1', alert: 0 });
  });

  it('a page of exactly batchRows ends with an empty page; dry run writes nothing', async () => {
    const { reader, pages } = fakeReader(all);
    const s = await rescorePages({
      reader,
      batcher,
      writer: undefined,
      pkg,
      caps,
      batchRows: 6,
      rowsInRange: 12,
    });
    expect(pages.length).toBe(3);
    expect(s).toMatchObject({ read: 12, scored: 12, written: 0 });
  });

  it('refuses a vector of another length than the package takes', async () => {
    const bad = [vec(1, 0), vec(1, 1, N_FEATURES + 1), vec(2, 0)];
    const writer = memoryWriter();
    const run = rescorePages({
      reader: fakeReader(bad).reader,
      batcher,
      writer,
      pkg,
      caps,
      batchRows: 10,
      rowsInRange: 3,
    });
    await expect(run).rejects.toThrow(RescoreMismatchError);
    await expect(run).rejects.toThrow(
      /machine 1 bucket 2026-01-02 00:00:00: logged vector has 4 values, the package takes 3/,
    );
    expect(writer.rows).toEqual([]);
  });

  it('stops after the current page when interrupted', async () => {
    const controller = new AbortController();
    controller.abort();
    const writer = memoryWriter();
    const s = await rescorePages({
      reader: fakeReader(all).reader,
      batcher,
      writer,
      pkg,
      caps,
      batchRows: 5,
      rowsInRange: 12,
      signal: controller.signal,
    });
    expect(s).toMatchObject({ read: 5, written: 5, interrupted: true });
  });
});
