/**
 * CSV import benchmark; prints one JSON object.
 *
 *   npx tsx bench/import-csv.ts [--machines 100] [--days 60] [--no-kafka]
 *
 * Input: the simulated fleet written twice to a temporary directory: `ordered/` as `simulate --out-csv`
 * writes it (time-ordered, streamed), and `machine-major/` with the PdM_ prefix and rows sorted by machine
 * then time, like the public data set (the reader must load and sort it).
 * 1. read: readReferenceCsv alone (rows/s, MB/s) for both layouts.
 * 2. kafka: import-csv of the machine-major files → Avro → idempotent producer → acks, on fresh topics of
 *    the running local stack (settings via loadConfig()).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerSchemasAndTopics } from '../src/cli/schemas.js';
import { loadConfig } from '../src/config/index.js';
import type { PdmEvent } from '../src/shared/records.js';
import {
  createFleet,
  importCsvToPublisher,
  openKafkaPublisher,
  readReferenceCsv,
  writeReferenceCsv,
} from '../src/simulate/index.js';
import { numberArg } from './args.js';

const machines = numberArg('machines', 100);
const days = numberArg('days', 60);
const withKafka = !process.argv.includes('--no-kafka');
const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-csv-'));

function machineMajor(events: PdmEvent[]): PdmEvent[] {
  const rank = (e: PdmEvent): number => e.record.machineId;
  // Stable sort: within a machine the rows stay in time order, as in the public files.
  return [...events].sort((a, b) => rank(a) - rank(b));
}

try {
  const fleet = createFleet({ machines, days, seed: 42 });
  const ordered = join(dir, 'ordered');
  const major = join(dir, 'machine-major');
  await writeReferenceCsv(ordered, fleet.events());
  await writeReferenceCsv(major, machineMajor([...fleet.events()]), { prefix: 'PdM_' });

  const result: Record<string, unknown> = { machines, days };
  for (const [name, path] of [
    ['readOrdered', ordered],
    ['readMachineMajor', major],
  ] as const) {
    let bytes = 0;
    let rows = 0;
    const t0 = performance.now();
    for await (const e of readReferenceCsv(path, { onProgress: (p) => (bytes = p.totalBytes) })) {
      if (e.kind !== 'machines') rows++;
    }
    const seconds = (performance.now() - t0) / 1000;
    result[name] = {
      rows,
      megabytes: +(bytes / 1e6).toFixed(1),
      seconds: +seconds.toFixed(3),
      rowsPerSecond: Math.round(rows / seconds),
      megabytesPerSecond: +(bytes / 1e6 / seconds).toFixed(1),
    };
  }

  if (withKafka) {
    const config = loadConfig({
      ...process.env,
      PDM_TOPIC_PREFIX: `bench${randomBytes(3).toString('hex')}.`,
    });
    await registerSchemasAndTopics(config);
    const publisher = await openKafkaPublisher(config);
    try {
      const s = await importCsvToPublisher(major, publisher);
      result['kafka'] = {
        input: 'machine-major',
        records: s.total,
        rejected: s.rejected,
        seconds: +(s.elapsedMs / 1000).toFixed(3),
        recordsPerSecond: Math.round(s.recordsPerSecond),
        partitions: config.kafka.partitions,
      };
    } finally {
      await publisher.close();
    }
  }
  console.log(JSON.stringify(result, null, 2));
} finally {
  await rm(dir, { recursive: true, force: true });
}
