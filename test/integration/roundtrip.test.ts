/**
 * The foundation round trip against the real local stack (issue 2): register the telemetry schema, produce
 * one Confluent-framed Avro record with its key, consume it in a consumer group through our RecordSource,
 * decode it with the registry, write a row to ClickHouse, read it back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { registerSchemasAndTopics } from '../../src/cli/schemas.js';
import {
  createRecordDecoder,
  createRecordEncoder,
  createSchemaRegistryClient,
  loadProjectSchemas,
} from '../../src/decode/index.js';
import { createKafkaClient, createKafkaSource, type SourceMessage } from '../../src/ingest/index.js';
import { silentLogger } from '../../src/shared/logger.js';
import { machineKey, type TelemetryRecord } from '../../src/shared/records.js';
import {
  createBatchWriter,
  createClickHouse,
  formatDateTime,
  migrate,
  quoteIdent,
  type PredictionRow,
} from '../../src/sink/index.js';
import { testConfig, uniqueToken } from '../support/stack-env.js';

const database = `pdm_it_${uniqueToken()}`;
const config = testConfig({ CLICKHOUSE_DATABASE: database, PDM_PARTITIONS: '2' });
const ch = createClickHouse(config.clickhouse);

afterAll(async () => {
  await ch.exec(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
  await ch.close();
});

describe('foundation round trip on the local stack', () => {
  it('registry → Kafka (framed Avro, keyed) → consumer group → decode → ClickHouse → read back', async () => {
    const reg = await registerSchemasAndTopics(config);
    expect(reg.createdTopics).toContain(config.kafka.topics.telemetry);
    expect(reg.partitionCounts.get(config.kafka.topics.telemetry)).toBe(2);
    const telemetryId = reg.subjects.find((s) => s.kind === 'telemetry')?.id;
    expect(telemetryId).toBeGreaterThan(0);

    // Idempotent: a second registration returns the same ids and creates nothing.
    const again = await registerSchemasAndTopics(config);
    expect(again.createdTopics).toEqual([]);
    expect(again.subjects.map((s) => s.id)).toEqual(reg.subjects.map((s) => s.id));

    const registry = createSchemaRegistryClient(config.registry);
    const encoder = await createRecordEncoder(registry, config.kafka.topics);
    expect(encoder.schemaIds.telemetry).toBe(telemetryId);
    const record: TelemetryRecord = {
      machineId: 17,
      ts: Date.UTC(2026, 0, 1, 6),
      volt: 171.25,
      rotate: 449.5,
      pressure: 101.125,
      vibration: 39.75,
    };
    const producer = createKafkaClient(config.kafka, '-it').producer({
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    await producer.send({
      topic: config.kafka.topics.telemetry,
      acks: -1,
      messages: [
        {
          key: machineKey(record.machineId),
          value: encoder.encode('telemetry', record),
          timestamp: String(record.ts),
        },
      ],
    });
    await producer.disconnect();

    const source = createKafkaSource({
      kafka: config.kafka,
      topics: [config.kafka.topics.telemetry],
      log: silentLogger,
    });
    const received = await new Promise<SourceMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('no message within 60 s'));
      }, 60_000);
      source
        .start({
          onAssigned: () => Promise.resolve(),
          onBatch: (batch) => {
            clearTimeout(timer);
            const first = batch.messages[0];
            if (first !== undefined) resolve(first);
            return Promise.resolve({ taken: true, acked: Promise.resolve() });
          },
        })
        .catch(reject);
    });
    await source.stop();
    expect(received.key?.toString()).toBe('17');
    expect(received.timestampMs).toBe(record.ts);

    const decoder = createRecordDecoder(registry, loadProjectSchemas());
    await decoder.prepare([received.value]);
    const decoded = decoder.decode('telemetry', received.value, received.key);
    expect(decoded).toEqual({ ok: true, record, schemaId: telemetryId });

    const report = await migrate(ch, database);
    expect(report.applied.length).toBeGreaterThan(0);
    expect((await migrate(ch, database)).applied).toEqual([]);
    const writer = createBatchWriter<PredictionRow>({
      ch,
      table: `${quoteIdent(database)}.predictions`,
      flushMs: 50,
    });
    await writer.write([
      {
        machine_id: record.machineId,
        bucket_ts: formatDateTime(Date.UTC(2026, 0, 1, 12)),
        p_none: 0.5,
        p_comp1: 0.25,
        p_comp2: 0.125,
        p_comp3: 0.0625,
        p_comp4: 0.0625,
        predicted_class: 'none',
        predicted_index: 0,
        alert: 0,
        alert_class: 'none',
        alert_components: [],
        warming_up: 0,
        model_version: 'test/1',
        spec_hash: 'x',
        scored_at: formatDateTime(Date.now()),
        source_topic: received.topic,
        source_partition: received.partition,
        source_offset: received.offset,
        engine_version: 'test',
      },
    ]);
    await writer.close();
    const rows = await ch.query<{ machine_id: number; p_comp1: number; source_offset: string }>(
      `SELECT machine_id, p_comp1, toString(source_offset) AS source_offset FROM ${quoteIdent(database)}.predictions_latest WHERE machine_id = {m:UInt32}`,
      { m: record.machineId },
    );
    expect(rows).toEqual([{ machine_id: 17, p_comp1: 0.25, source_offset: received.offset }]);
  });
});
