/**
 * Issue 9, item 7 (the decoding half; registration refusals are tested with `schemas register`): a
 * producer nobody on the project wrote — Python confluent-kafka's AvroSerializer, which registers its own
 * schema — moves to a telemetry schema with an added optional field with a default. The registry accepts
 * it as a new version, and the engine decodes and scores every record: no INCOMPATIBLE_SCHEMA, same
 * predictions as the batch path.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSchemaRegistryClient, loadProjectSchemas, valueSubject } from '../../src/decode/index.js';
import { RECORD_KINDS, machineKey } from '../../src/shared/records.js';
import { producePython, usePythonProducer, type PyMessage } from '../support/python-producer.js';
import { batchOver, deadLetters, eventTs, fleetEvents, startEngine, waitConsumed } from './handmade.js';
import { expectCleanExit, expectStreamedSameAsBatch, useE2eRun } from './support.js';

const START = Date.UTC(2026, 8, 7);
const FLEET = { machines: 6, days: 6, startMs: START, seed: 47 } as const;
const NOW = Date.UTC(2026, 10, 1);

const e2e = useE2eRun();

usePythonProducer();

describe('issue 9: schema evolution by a third-party producer', () => {
  it('decodes and scores telemetry written with an added optional field (default null)', async () => {
    const e = await e2e.env();
    const telemetryV2 = structuredClone(loadProjectSchemas().telemetry) as { fields: unknown[] };
    telemetryV2.fields.push({
      name: 'firmware',
      type: ['null', 'string'],
      default: null,
      doc: 'Firmware version of the reporting device (added in v2).',
    });
    const v2Path = join(e.tmp, 'telemetry-v2.avsc');
    writeFileSync(v2Path, JSON.stringify(telemetryV2, null, 2));
    const schemas: Record<string, string> = Object.fromEntries(
      RECORD_KINDS.map((k) => [k, fileURLToPath(new URL(`../../schemas/${k}.avsc`, import.meta.url))]),
    );
    schemas['telemetry-v2'] = v2Path;

    const events = fleetEvents(FLEET);
    const expected = await batchOver(e, events, NOW);
    const messages: PyMessage[] = events.map((ev) => {
      const ts = eventTs(ev);
      return {
        topic: e.config.kafka.topics[ev.kind],
        schema: ev.kind === 'telemetry' ? 'telemetry-v2' : ev.kind,
        key: machineKey(ev.record.machineId),
        value:
          ev.kind === 'telemetry'
            ? { ...ev.record, firmware: `fw-2.${ev.record.machineId}` }
            : { ...ev.record },
        ...(ts === undefined ? {} : { timestamp: ts }),
      };
    });

    const engine = await startEngine(e);
    e2e.engines.push(engine);
    await producePython(messages, {
      bootstrap: e.config.kafka.brokers.join(','),
      registryUrl: e.config.registry.url,
      schemas,
    });
    await waitConsumed(e, engine);

    // The producer really wrote with a new schema version (a new id under the telemetry subject).
    const registry = createSchemaRegistryClient(e.config.registry);
    const subject = valueSubject(e.config.kafka.topics.telemetry);
    const latest = await registry.latestId(subject);
    const latestSchema = latest === undefined ? '' : await registry.schemaById(latest);
    expect(latestSchema).toContain('firmware');

    expect((await deadLetters(e)).map((l) => `${l.reason} ${l.topic}: ${l.error}`)).toEqual([]);
    await expectStreamedSameAsBatch(e, expected);
    await expectCleanExit(engine);
  });
});
