import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, PdmError } from '../../../src/shared/errors.js';
import type { PdmEvent } from '../../../src/shared/records.js';
import {
  readReferenceCsv,
  writeReferenceCsv,
  type CsvProgress,
  type CsvRejection,
} from '../../../src/simulate/index.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/csv/', import.meta.url));
const t = (s: string): number => Date.parse(`${s.replace(' ', 'T')}Z`);

async function collect(it: AsyncIterable<PdmEvent>): Promise<PdmEvent[]> {
  const out: PdmEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Compact form for order assertions. */
function tag(e: PdmEvent): string {
  switch (e.kind) {
    case 'machines':
      return `M${e.record.machineId}`;
    case 'telemetry':
      return `T${e.record.machineId}@${new Date(e.record.ts).toISOString().slice(0, 13)}`;
    case 'errors':
      return `E${e.record.machineId}:${e.record.errorId}@${new Date(e.record.ts).toISOString().slice(0, 13)}`;
    case 'maintenance':
      return `R${e.record.machineId}:${e.record.comp}@${new Date(e.record.ts).toISOString().slice(0, 13)}`;
    case 'failures':
      return `F${e.record.machineId}:${e.record.failure}@${new Date(e.record.ts).toISOString().slice(0, 13)}`;
  }
}

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pdm-csv-'));
  tmpDirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of tmpDirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('readReferenceCsv', () => {
  it('reads machine-major PdM_ files: machines first, then time order with the documented tie order', async () => {
    const events = await collect(readReferenceCsv(join(FIXTURES, 'reference-sample')));
    expect(events.map(tag)).toEqual([
      'M1',
      'M2',
      'R1:comp2@2014-06-01T06',
      'R2:comp1@2014-07-16T06',
      'T1@2015-01-01T06',
      'T2@2015-01-01T06',
      'E1:error3@2015-01-01T06',
      'R1:comp4@2015-01-01T06',
      'T1@2015-01-01T07',
      'T2@2015-01-01T07',
      'E2:error1@2015-01-01T07',
      'F1:comp4@2015-01-01T07',
      'T1@2015-01-01T08',
      'T2@2015-01-01T08',
      'R2:comp3@2015-01-01T08',
    ]);
    expect(events[4]).toEqual({
      kind: 'telemetry',
      record: {
        machineId: 1,
        ts: t('2015-01-01 06:00:00'),
        volt: 176.217853015625,
        rotate: 418.504078221616,
        pressure: 113.077935462083,
        vibration: 45.0876857639276,
      },
    });
    expect(events[0]).toEqual({ kind: 'machines', record: { machineId: 1, model: 'model3', age: 18 } });
  });

  it('reports every broken line with file, line and reason, and imports the good ones', async () => {
    const rejections: CsvRejection[] = [];
    const events = await collect(
      readReferenceCsv(join(FIXTURES, 'broken'), { onReject: (r) => rejections.push(r) }),
    );
    expect(
      rejections
        .map((r) => [basename(r.file), r.line, r.reason])
        .sort((a, b) => String(a).localeCompare(String(b))),
    ).toEqual(
      [
        ['machines.csv', 3, 'model "model9" is not one of model1, model2, model3, model4'],
        ['machines.csv', 4, 'age "-1" is not a non-negative integer'],
        ['maint.csv', 2, 'comp "comp5" is not one of comp1, comp2, comp3, comp4'],
        ['errors.csv', 3, 'errorID "error9" is not one of error1, error2, error3, error4, error5'],
        ['telemetry.csv', 3, 'volt "abc" is not a number'],
        ['telemetry.csv', 4, 'expected 6 columns, got 5'],
        ['telemetry.csv', 5, 'impossible date or time'],
        ['telemetry.csv', 7, 'machineID "x" is not a non-negative integer'],
        ['telemetry.csv', 8, 'volt is missing'],
      ].sort((a, b) => String(a).localeCompare(String(b))),
    );
    const bad = rejections.find((r) => r.line === 3 && r.file.endsWith('telemetry.csv'));
    expect(bad?.text).toBe('2015-01-01 06:00:00,2,abc,450,100,40');

    expect(events.map(tag)).toEqual([
      'M1',
      'M2',
      'R2:comp2@2014-12-02T06',
      'T1@2015-01-01T06',
      'E1:error1@2015-01-01T06',
      'T1@2015-01-01T07',
      'T2@2015-01-01T09',
      'E2:error5@2015-01-01T09',
      'T2@2015-01-01T10',
    ]);
    const nan = events[5];
    expect(nan?.kind === 'telemetry' && Number.isNaN(nan.record.volt)).toBe(true);
    const inf = events[6];
    expect(inf?.kind === 'telemetry' ? inf.record.vibration : 0).toBe(Number.NEGATIVE_INFINITY);
    const kaggle = events[8];
    expect(kaggle?.kind === 'telemetry' ? kaggle.record.ts : 0).toBe(t('2015-01-01 10:00:00'));
  });

  it('throws on the first bad row when no onReject is given, so nothing is dropped silently', async () => {
    const err = await collect(readReferenceCsv(join(FIXTURES, 'broken'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdmError);
    expect((err as PdmError).code).toBe('CSV_BAD_ROW');
    expect((err as PdmError).message).toMatch(/machines\.csv:3: model "model9"/);
  });

  it('reports progress up to the total size of the files', async () => {
    const seen: CsvProgress[] = [];
    const events = await collect(
      readReferenceCsv(join(FIXTURES, 'reference-sample'), { onProgress: (p) => seen.push(p) }),
    );
    const last = seen.at(-1);
    expect(last?.rows).toBe(events.length);
    expect(last?.bytes).toBe(last?.totalBytes);
    expect(last?.totalBytes).toBeGreaterThan(500);
  });

  it('refuses a directory without telemetry, and one with both spellings of a file', async () => {
    const empty = await tmp();
    await expect(collect(readReferenceCsv(empty))).rejects.toBeInstanceOf(ConfigError);
    const both = await tmp();
    await writeReferenceCsv(both, []);
    await writeFile(join(both, 'PdM_errors.csv'), 'datetime,machineID,errorID\n');
    await expect(collect(readReferenceCsv(both))).rejects.toThrow(/both .*errors\.csv and .*PdM_errors\.csv/);
  });

  it('refuses a file whose header is not the reference header', async () => {
    const dir = await tmp();
    await writeReferenceCsv(dir, []);
    await writeFile(join(dir, 'errors.csv'), '2015-01-01 06:00:00,1,error1\n');
    await expect(collect(readReferenceCsv(dir))).rejects.toThrow(
      /expected the header datetime,machineID,errorID/,
    );
  });
});

describe('writeReferenceCsv', () => {
  it('round-trips exactly, including NaN, infinities and milliseconds', async () => {
    const events: PdmEvent[] = [
      { kind: 'machines', record: { machineId: 7, model: 'model2', age: 0 } },
      { kind: 'maintenance', record: { machineId: 7, ts: t('2025-12-01 06:00:00'), comp: 'comp1' } },
      {
        kind: 'telemetry',
        record: {
          machineId: 7,
          ts: t('2026-01-01 00:00:00'),
          volt: 0.1 + 0.2,
          rotate: -1e-300,
          pressure: 1e21,
          vibration: 40,
        },
      },
      {
        kind: 'telemetry',
        record: {
          machineId: 8,
          ts: t('2026-01-01 00:00:00'),
          volt: Number.NaN,
          rotate: Infinity,
          pressure: 100,
          vibration: 5,
        },
      },
      { kind: 'errors', record: { machineId: 8, ts: t('2026-01-01 00:00:00'), errorId: 'error4' } },
      { kind: 'failures', record: { machineId: 7, ts: t('2026-01-01 00:00:00') + 1, failure: 'comp3' } },
      { kind: 'maintenance', record: { machineId: 7, ts: t('2026-01-01 00:00:00') + 1, comp: 'comp3' } },
    ];
    const dir = await tmp();
    const counts = await writeReferenceCsv(dir, events, { prefix: 'PdM_' });
    expect(counts).toEqual({ telemetry: 2, errors: 1, maintenance: 2, machines: 1, failures: 1 });
    const back = await collect(readReferenceCsv(dir));
    // Equal ts: maintenance before failures (the documented tie order), so the last two swap.
    expect(back).toEqual([...events.slice(0, 5), events[6], events[5]]);
  });
});
