import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProgressUpdate } from '../../../src/shared/progress.js';
import type { PdmEvent } from '../../../src/shared/records.js';
import { topicNames } from '../../../src/shared/records.js';
import {
  createFleet,
  createMemoryPublisher,
  formatSummary,
  importCsvToPublisher,
  publishStream,
  simulateToCsv,
  simulateToPublisher,
  type CsvRejection,
} from '../../../src/simulate/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pdm-run-'));
  dirs.push(d);
  return d;
}

function recordingProgress(): {
  updates: ProgressUpdate[];
  finals: ProgressUpdate[];
  update(u: ProgressUpdate): void;
  finish(u: ProgressUpdate): void;
} {
  const updates: ProgressUpdate[] = [];
  const finals: ProgressUpdate[] = [];
  return { updates, finals, update: (u) => updates.push(u), finish: (u) => finals.push(u) };
}

describe('simulateToPublisher', () => {
  it('publishes every fleet event once, in order, and counts what was acknowledged', async () => {
    const fleet = createFleet({ machines: 3, days: 5, seed: 9 });
    const publisher = createMemoryPublisher();
    const progress = recordingProgress();
    const summary = await simulateToPublisher(fleet, publisher, { batchRecords: 100, progress });
    const expected = [...fleet.events()];
    expect(publisher.events).toEqual(expected);
    expect(summary.total).toBe(expected.length);
    expect(summary.counts.telemetry).toBe(3 * 5 * 24);
    expect(summary.counts.machines).toBe(3);
    expect(summary.interrupted).toBe(false);
    expect(progress.finals).toHaveLength(1);
    expect(progress.finals[0]?.fraction).toBe(1);
    expect(progress.updates.length).toBeGreaterThan(1);
  });

  it('stops on abort, flushes what it took, and says it was interrupted', async () => {
    const fleet = createFleet({ machines: 2, days: 30, seed: 1 });
    const publisher = createMemoryPublisher();
    const controller = new AbortController();
    let batches = 0;
    const summary = await simulateToPublisher(fleet, publisher, {
      batchRecords: 50,
      signal: controller.signal,
      progress: {
        update: () => {
          if (++batches === 3) controller.abort();
        },
        finish: () => undefined,
      },
    });
    expect(summary.interrupted).toBe(true);
    expect(summary.total).toBe(150);
    expect(publisher.pendingCount()).toBe(0);
    expect(publisher.events).toEqual([...fleet.events()].slice(0, 150));
  });
});

describe('simulate --out-csv then import-csv', () => {
  it('publishes exactly the records the simulator would have published', async () => {
    const fleet = createFleet({ machines: 4, days: 40, seed: 11 });
    const dir = await tmp();
    const written = await simulateToCsv(fleet, dir);
    const imported = createMemoryPublisher();
    const summary = await importCsvToPublisher(dir, imported, { batchRecords: 333 });
    const direct = [...fleet.events()];
    expect(summary.rejected).toBe(0);
    expect(summary.counts).toEqual(written.counts);
    expect(imported.events).toEqual(direct);
    expect(direct.some((e) => e.kind === 'failures')).toBe(true);
  });

  it('refuses pacing options for CSV output', async () => {
    await expect(
      simulateToCsv(createFleet({ machines: 1, days: 1 }), await tmp(), { maxRate: 10 }),
    ).rejects.toThrow(/do not apply to --out-csv/);
  });
});

describe('importCsvToPublisher', () => {
  it('reports each broken line, imports the good ones and counts the rejected per file', async () => {
    const dir = await tmp();
    await simulateToCsv(createFleet({ machines: 1, days: 1, seed: 2 }), dir);
    await writeFile(
      join(dir, 'errors.csv'),
      [
        'datetime,machineID,errorID',
        '2026-01-01 01:00:00,1,error2',
        '2026-01-01 02:00:00,1,oops',
        'garbage',
        '',
      ].join('\n'),
    );
    const rejections: CsvRejection[] = [];
    const publisher = createMemoryPublisher();
    const summary = await importCsvToPublisher(dir, publisher, { onReject: (r) => rejections.push(r) });
    expect(rejections.map((r) => r.line)).toEqual([3, 4]);
    expect(summary.rejected).toBe(2);
    expect(summary.rejectedByFile).toEqual({ [join(dir, 'errors.csv')]: 2 });
    expect(summary.counts.errors).toBe(1);
    expect(summary.counts.telemetry).toBe(24);
    const text = formatSummary('import-csv', summary, topicNames('pdm.'));
    expect(text).toContain('rejected rows: 2');
    expect(text).toMatch(/pdm\.telemetry\s+24/);
  });
});

describe('publishStream', () => {
  it('hands over batches of the configured size and flushes the rest', async () => {
    const sizes: number[] = [];
    const events: PdmEvent[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'errors' as const,
      record: { machineId: 1, ts: i, errorId: 'error1' },
    }));
    const inner = createMemoryPublisher();
    const result = await publishStream(
      events,
      { ...inner, publish: (b) => (sizes.push(b.length), inner.publish(b)) },
      { batchRecords: 10 },
    );
    expect(sizes).toEqual([10, 10, 5]);
    expect(inner.counts().errors).toBe(25);
    expect(result.lastTs).toBe(24);
  });
});
