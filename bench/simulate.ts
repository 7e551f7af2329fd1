/**
 * Producer benchmark (simulate); prints one JSON object.
 *
 *   npx tsx bench/simulate.ts [--machines 100] [--days 30] [--max-rate 20000] [--no-kafka]
 *
 * 1. generate: the fleet generator alone (records/s, no encoding, no I/O).
 * 2. memory: generate + publish loop into an in-memory publisher (batching and pacing overhead).
 * 3. kafka: generate → Avro encode → idempotent kafkajs producer → broker acks (acks=-1), as fast as
 *    possible, on fresh topics `bench<token>.*` of the running local stack (settings via loadConfig()).
 * 4. kafka-max-rate: the same with `--max-rate`: the achieved rate should sit at or just under the limit.
 * Records/s are total records (all five topics) over the wall time from first record to last ack.
 */
import { randomBytes } from 'node:crypto';
import { registerSchemasAndTopics } from '../src/cli/schemas.js';
import { loadConfig } from '../src/config/index.js';
import {
  createFleet,
  createMemoryPublisher,
  openKafkaPublisher,
  simulateToPublisher,
  type RunSummary,
} from '../src/simulate/index.js';
import { numberArg } from './args.js';

const machines = numberArg('machines', 100);
const days = numberArg('days', 30);
const maxRate = numberArg('max-rate', 20_000);
const withKafka = !process.argv.includes('--no-kafka');
const fleetOptions = { machines, days, seed: 42 };

function figures(s: RunSummary): { records: number; seconds: number; recordsPerSecond: number } {
  return {
    records: s.total,
    seconds: +(s.elapsedMs / 1000).toFixed(3),
    recordsPerSecond: Math.round(s.recordsPerSecond),
  };
}

const result: Record<string, unknown> = { machines, days, intervalMinutes: 60 };

{
  const fleet = createFleet(fleetOptions);
  const t0 = performance.now();
  let n = 0;
  for (const e of fleet.events()) if (e.kind !== 'machines') n++;
  const seconds = (performance.now() - t0) / 1000;
  result['generate'] = {
    records: n + machines,
    seconds: +seconds.toFixed(3),
    recordsPerSecond: Math.round((n + machines) / seconds),
  };
}

{
  const publisher = createMemoryPublisher({ keep: false });
  result['memory'] = figures(await simulateToPublisher(createFleet(fleetOptions), publisher));
}

if (withKafka) {
  for (const [name, rate] of [
    ['kafka', undefined],
    ['kafkaMaxRate', maxRate],
  ] as const) {
    const config = loadConfig({
      ...process.env,
      PDM_TOPIC_PREFIX: `bench${randomBytes(3).toString('hex')}.`,
    });
    await registerSchemasAndTopics(config);
    const publisher = await openKafkaPublisher(config);
    try {
      const summary = await simulateToPublisher(
        createFleet(fleetOptions),
        publisher,
        rate ? { maxRate: rate } : {},
      );
      result[name] = {
        ...figures(summary),
        ...(rate ? { maxRate: rate } : {}),
        partitions: config.kafka.partitions,
      };
    } finally {
      await publisher.close();
    }
  }
}

console.log(JSON.stringify(result, null, 2));
