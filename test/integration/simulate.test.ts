/**
 * The producers against the real local stack (issue 3), through the real CLI (`node --import tsx
 * src/main.ts …`): what the summary prints is what arrives, records decode with the registered schemas,
 * the same seed gives the same records, --out-csv + import-csv gives the same records as publishing, broken
 * CSV lines are reported and the good ones imported, Ctrl-C flushes and reports.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import {
  createRecordDecoder,
  createSchemaRegistryClient,
  loadProjectSchemas,
} from '../../src/decode/index.js';
import { createKafkaClient } from '../../src/ingest/index.js';
import { RECORD_KINDS, type PdmEvent, type RecordKind } from '../../src/shared/records.js';
import { createFleet, readReferenceCsv, type RecordCounts } from '../../src/simulate/index.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BROKEN_CSV = join(ROOT, 'test/fixtures/csv/broken');
const FLEET = { machines: 3, days: 12, seed: 7 } as const;
const FLEET_ARGS = ['--machines', '3', '--days', '12', '--seed', '7'];

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with the test's topic prefix; `onSpawn` may signal the child (Ctrl-C test). */
function runCli(args: string[], config: Config, onSpawn?: (pid: number) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, PDM_TOPIC_PREFIX: config.kafka.topics.telemetry.replace(/telemetry$/, '') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    if (child.pid !== undefined) onSpawn?.(child.pid);
  });
}

interface JsonSummary {
  readonly counts: RecordCounts;
  readonly total: number;
  readonly interrupted: boolean;
  readonly rejected?: number;
}

function parseSummary(r: CliResult, expectedCode = 0): JsonSummary {
  if (r.code !== expectedCode) throw new Error(`CLI exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as JsonSummary;
}

interface Consumed {
  /** Decoded records per kind and machine, in partition (= publish) order. */
  readonly byMachine: Map<string, unknown[]>;
  readonly counts: RecordCounts;
  /** Partition of each machine per topic kind: must be the same number on every topic. */
  readonly partitions: Map<string, number>;
}

/** Reads the five topics from the beginning until `expected` records arrived, decoding each one. */
async function consumeAll(config: Config, expected: RecordCounts): Promise<Consumed> {
  const registry = createSchemaRegistryClient(config.registry);
  const decoder = createRecordDecoder(registry, loadProjectSchemas());
  const consumer = createKafkaClient(config.kafka, '-it').consumer({ groupId: `sim-it-${uniqueToken()}` });
  const kindOf = new Map<string, RecordKind>(RECORD_KINDS.map((k) => [config.kafka.topics[k], k]));
  const counts: RecordCounts = { telemetry: 0, errors: 0, maintenance: 0, machines: 0, failures: 0 };
  const byMachine = new Map<string, unknown[]>();
  const partitions = new Map<string, number>();
  const want = RECORD_KINDS.reduce((n, k) => n + expected[k], 0);
  let got = 0;
  let failure: Error | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({
      topics: RECORD_KINDS.map((k) => config.kafka.topics[k]),
      fromBeginning: true,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`only ${got} of ${want} records within 90 s: ${JSON.stringify(counts)}`));
      }, 90_000);
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            const kind = kindOf.get(batch.topic);
            if (kind === undefined) return;
            await decoder.prepare(batch.messages.map((m) => m.value));
            for (const m of batch.messages) {
              const r = decoder.decode(kind, m.value, m.key);
              if (!r.ok) {
                failure = new Error(`${batch.topic}@${m.offset} did not decode: ${r.reason} ${r.message}`);
                continue;
              }
              const id = String(r.record.machineId);
              if (m.key?.toString() !== id)
                failure = new Error(`${batch.topic}@${m.offset}: key ${String(m.key)} ≠ ${id}`);
              const k = `${kind}:${id}`;
              const list = byMachine.get(k) ?? [];
              list.push(r.record);
              byMachine.set(k, list);
              partitions.set(k, batch.partition);
              counts[kind]++;
              got++;
            }
            if (got >= want) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    // Anything beyond the expected count would be a duplicate: give it a moment to show up.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await consumer.disconnect();
  }
  if (failure) throw failure;
  return { byMachine, counts, partitions };
}

function groupEvents(events: Iterable<PdmEvent>): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const e of events) {
    const k = `${e.kind}:${e.record.machineId}`;
    const list = out.get(k) ?? [];
    list.push(e.record);
    out.set(k, list);
  }
  return out;
}

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

describe('simulate and import-csv on the local stack', () => {
  const first = testConfig();
  let firstConsumed: Consumed | undefined;

  it('a small fleet arrives with the counts the summary printed and decodes with the registered schemas', async () => {
    const summary = parseSummary(await runCli(['simulate', ...FLEET_ARGS, '--json', '--no-progress'], first));
    expect(summary.interrupted).toBe(false);
    const fleet = createFleet(FLEET);
    const expected = groupEvents(fleet.events());
    expect(summary.counts.telemetry).toBe(fleet.telemetryCount);
    expect(summary.counts.failures).toBe(fleet.failures.length);

    firstConsumed = await consumeAll(first, summary.counts);
    expect(firstConsumed.counts).toEqual(summary.counts);
    // The decoded records are exactly the fleet's, per machine in order.
    expect(firstConsumed.byMachine).toEqual(expected);
    // A machine's records land in the same partition number on every topic (the engine relies on it).
    for (let id = 1; id <= FLEET.machines; id++) {
      const ps = new Set(
        RECORD_KINDS.flatMap((k) => {
          const p = firstConsumed?.partitions.get(`${k}:${id}`);
          return p === undefined ? [] : [p];
        }),
      );
      expect(ps.size).toBe(1);
    }
  });

  it('a second run with the same seed publishes identical records', async () => {
    const second = testConfig();
    const summary = parseSummary(
      await runCli(['simulate', ...FLEET_ARGS, '--json', '--no-progress'], second),
    );
    const consumed = await consumeAll(second, summary.counts);
    expect(consumed.byMachine).toEqual(firstConsumed?.byMachine);
  });

  it('--out-csv then import-csv of the same fleet publishes the same records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pdm-sim-it-'));
    tmpDirs.push(dir);
    const target = testConfig();
    const written = parseSummary(
      await runCli(['simulate', ...FLEET_ARGS, '--out-csv', dir, '--json', '--no-progress'], target),
    );
    const imported = parseSummary(await runCli(['import-csv', dir, '--json', '--no-progress'], target));
    expect(imported.rejected).toBe(0);
    expect(imported.counts).toEqual(written.counts);
    const consumed = await consumeAll(target, imported.counts);
    expect(consumed.counts).toEqual(imported.counts);
    expect(consumed.byMachine).toEqual(firstConsumed?.byMachine);
  });

  it('import-csv reports each broken line with file, line and reason, imports the good ones, exits 3', async () => {
    const target = testConfig();
    const result = await runCli(['import-csv', BROKEN_CSV, '--json', '--no-progress'], target);
    // Issue 9: rejected rows used to exit 0. 3 = finished, valid rows published, some rows rejected.
    const summary = parseSummary(result, 3);
    expect(result.stderr).toMatch(
      /import-csv: 9 rows rejected \(.*telemetry\.csv: 5.*\); the other rows were published/,
    );
    const reported = result.stderr.split('\n').filter((l) => l.startsWith('rejected '));
    const expectedLines = [
      'machines.csv:3: model "model9"',
      'machines.csv:4: age "-1"',
      'maint.csv:2: comp "comp5"',
      'errors.csv:3: errorID "error9"',
      'telemetry.csv:3: volt "abc" is not a number',
      'telemetry.csv:4: expected 6 columns, got 5',
      'telemetry.csv:5: impossible date or time',
      'telemetry.csv:7: machineID "x"',
      'telemetry.csv:8: volt is missing',
    ];
    expect(reported).toHaveLength(expectedLines.length);
    for (const l of expectedLines) expect(reported.some((r) => r.includes(`/broken/${l}`))).toBe(true);
    expect(summary.rejected).toBe(expectedLines.length);

    const good: PdmEvent[] = [];
    for await (const e of readReferenceCsv(BROKEN_CSV, { onReject: () => undefined })) good.push(e);
    expect(summary.total).toBe(good.length);
    const consumed = await consumeAll(target, summary.counts);
    expect(consumed.byMachine).toEqual(groupEvents(good));
  });

  it('Ctrl-C stops, flushes, prints what was sent and exits 0', async () => {
    const target = testConfig();
    // 30 days at 10 event-hours per second would take 72 s: interrupted after ~4 s.
    const result = await runCli(
      ['simulate', '--machines', '2', '--days', '30', '--speed', '36000', '--json', '--no-progress'],
      target,
      (pid) => {
        setTimeout(() => process.kill(pid, 'SIGINT'), 4000);
      },
    );
    const summary = parseSummary(result);
    expect(summary.interrupted).toBe(true);
    expect(summary.counts.telemetry).toBeGreaterThan(0);
    expect(summary.counts.telemetry).toBeLessThan(2 * 30 * 24);
    const consumed = await consumeAll(target, summary.counts);
    expect(consumed.counts).toEqual(summary.counts);
  });
});
