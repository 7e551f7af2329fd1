/**
 * `features build` end to end on the hand-made fixture (test/fixtures/features/hand-made/README.md has the
 * expected values worked out by hand). Local files only: reads the fixture, writes into a temp directory.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseNow } from '../../../src/cli/features.js';
import { buildProgram } from '../../../src/cli/index.js';
import { CLASSES, FEATURE_NAMES, SPEC_HASH } from '../../../src/features/index.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/features/hand-made', import.meta.url));
const B1 = Date.UTC(2015, 0, 1, 12);
const B2 = Date.UTC(2015, 0, 2, 0);

let dir = '';
let stderr: string[] = [];

async function run(...args: string[]): Promise<void> {
  const spy = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    stderr.push(parts.map(String).join(' '));
  });
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'pdm-stream', 'features', 'build', ...args]);
  } finally {
    spy.mockRestore();
  }
}

function parse(text: string): { header: string[]; rows: Record<string, number>[] } {
  const [head = '', ...lines] = text.trimEnd().split('\n');
  const header = head.split(',');
  return {
    header,
    rows: lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i] ?? '?', Number(v)]))),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pdm-features-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('features build on the hand-made fixture', () => {
  it('writes the rows worked out by hand, with labels, a meta sidecar and a summary', async () => {
    stderr = [];
    const out = join(dir, 'train.csv');
    await run('--csv', FIXTURE, '--out', out, '--labels');
    const { header, rows } = parse(await readFile(out, 'utf8'));
    expect(header).toEqual(['machineId', 'bucketTs', ...FEATURE_NAMES, 'label']);
    expect(rows.map((r) => [r['machineId'], r['bucketTs']])).toEqual([
      [1, B1],
      [1, B2],
      [2, B1],
    ]);
    const [a, b, c] = rows as [Record<string, number>, Record<string, number>, Record<string, number>];
    const expectRow = (row: Record<string, number>, want: Record<string, number>): void => {
      for (const [k, v] of Object.entries(want)) expect(row[k], k).toBeCloseTo(v, 9);
    };
    expectRow(a, {
      volt_mean_12h: 103,
      volt_std_12h: 2.160246899469287,
      volt_mean_24h: 103,
      volt_mean_36h: 103,
      rotate_mean_12h: 400,
      rotate_std_12h: 0,
      error1_count_24h: 1,
      error2_count_24h: 1,
      comp1_days_since_replacement: 214.25,
      comp2_days_since_replacement: 1,
      comp3_days_since_replacement: 365,
      age: 18,
      model_model3: 1,
      model_model1: 0,
      label: 4,
    });
    expectRow(b, {
      volt_mean_12h: 112.5,
      volt_std_12h: 3.605551275463989,
      volt_mean_24h: 109,
      volt_std_24h: 5.627314338711377,
      volt_mean_36h: 109,
      error1_count_24h: 1,
      error2_count_24h: 0,
      comp1_days_since_replacement: 214.75,
      comp2_days_since_replacement: 1.5,
      label: 4,
    });
    expectRow(c, {
      volt_mean_12h: 205,
      volt_std_12h: 7.0710678118654755,
      vibration_mean_36h: 38,
      error1_count_24h: 0,
      comp3_days_since_replacement: 365,
      age: 7,
      model_model1: 1,
      label: 0,
    });

    const meta = JSON.parse(await readFile(`${out}.meta.json`, 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({
      featureSet: 'pdm-v1',
      specHash: SPEC_HASH,
      featureNames: [...FEATURE_NAMES],
      classes: [...CLASSES],
      bucketMs: 43_200_000,
      allowedLatenessMs: 7_200_000,
      labels: true,
      rows: 3,
      firstBucketTs: B1,
      lastBucketTs: B2,
      source: {
        kind: 'reference-csv',
        rejected: 1,
        late: 0,
        future: 0,
        duplicates: 1,
        invalid: 1,
        silentBuckets: 2,
        machines: 2,
        labelFailures: 2,
        labelCounts: { none: 1, comp1: 0, comp2: 0, comp3: 0, comp4: 2 },
      },
    });
    const summary = stderr.find((l) => l.startsWith('features build: 3 rows'));
    expect(summary).toMatch(/rejected 1, late 0, future 0, duplicates 1, invalid 1, silent buckets 2/);
    expect(stderr.some((l) => l.startsWith('rejected ') && l.includes('telemetry.csv'))).toBe(true);
    expect(stderr.some((l) => l.startsWith('INVALID_VALUE telemetry machine 2: volt NaN'))).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('without --labels writes the same features and no label column', async () => {
    const out = join(dir, 'features.csv');
    stderr = [];
    await run('--csv', FIXTURE, '--out', out);
    const plain = parse(await readFile(out, 'utf8'));
    const labelled = parse(await readFile(join(dir, 'train.csv'), 'utf8'));
    expect(plain.header).toEqual(labelled.header.slice(0, -1));
    expect(plain.rows).toEqual(
      labelled.rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'label'))),
    );
  });

  it('--now fixes the processing clock: everything after it plus the skew is FUTURE_EVENT', async () => {
    const out = join(dir, 'past.csv');
    stderr = [];
    await run('--csv', FIXTURE, '--out', out, '--now', '2000-01-01');
    expect(parse(await readFile(out, 'utf8')).rows).toEqual([]);
    const meta = JSON.parse(await readFile(`${out}.meta.json`, 'utf8')) as {
      source: Record<string, unknown>;
    };
    expect(meta.source['processingClock']).toBe('2000-01-01T00:00:00.000Z');
    expect(meta.source['future']).toBeGreaterThan(30);
    expect(
      stderr.some(
        (l) =>
          l.startsWith('FUTURE_EVENT ') &&
          l.includes(
            'is later than the processing clock 2000-01-01T00:00:00.000Z plus the allowed future skew of 3600000 ms',
          ),
      ),
    ).toBe(true);
  });

  it.each([
    { text: '1764504000000', ms: 1_764_504_000_000 },
    { text: '2026-11-30', ms: Date.UTC(2026, 10, 30) },
    { text: '2026-11-30T12:00', ms: Date.UTC(2026, 10, 30, 12) },
    { text: '2026-11-30T12:00:00Z', ms: Date.UTC(2026, 10, 30, 12) },
    { text: '2026-11-30 12:00:00.250', ms: Date.UTC(2026, 10, 30, 12, 0, 0, 250) },
    { text: '2026-11-30T12:00:00+01:00', ms: Date.UTC(2026, 10, 30, 11) },
  ])('--now $text → $ms (no zone means UTC)', ({ text, ms }) => {
    expect(parseNow(text)).toBe(ms);
  });

  it.each(['yesterday', '', '2026-13-45', '30/11/2026', '1e12', '99999999999999999'])(
    '--now %j is refused',
    async (text) => {
      expect(() => parseNow(text)).toThrow(/epoch milliseconds or an ISO-8601 instant/);
      await expect(run('--csv', FIXTURE, '--out', join(dir, 'x.csv'), '--now', text)).rejects.toThrow();
    },
  );

  it('fails on a missing directory and leaves no partial output', async () => {
    const out = join(dir, 'missing.csv');
    await expect(run('--csv', join(dir, 'no-such-dir'), '--out', out)).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.startsWith('missing'))).toEqual([]);
  });
});
