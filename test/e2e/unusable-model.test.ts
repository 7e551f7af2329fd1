/**
 * A model package that passes the package checks (its digest is its file's) but that onnxruntime cannot
 * parse. `pdm-stream run` starts consuming while the ONNX worker starts (start.ts), so the scorer's
 * failure comes after the source was started: while it connects, joins or reads the backlog, depending on
 * timing (a stop during its connect left the process running before the session fix). The engine must still exit by itself
 * with code 2 (a usage/configuration error a supervisor should not restart into), write no prediction
 * and commit no telemetry offset (nothing of it was scored). Before the worker fix the process printed
 * the error and never exited.
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/ingest/index.js';
import { quoteIdent } from '../../src/sink/index.js';
import { unparseableModelPackage } from '../support/unparseable-model.js';
import { cli, startEngineProcess, useE2eRun } from './support.js';

const DEFAULT_PACKAGE = resolve(import.meta.dirname, '../../models/pdm-default/1');
const run = useE2eRun();

describe('engine with a model onnxruntime cannot open', () => {
  it('exits with code 2 by itself, having written no prediction and committed no telemetry', async () => {
    const e = await run.env();
    await cli(
      ['simulate', '--machines', '4', '--days', '3', '--seed', '5', '--start', '2026-03-01', '--no-progress'],
      e.env,
    );
    const engine = startEngineProcess({
      ...e.env,
      PDM_MODEL_DIR: await unparseableModelPackage(DEFAULT_PACKAGE, e.tmp),
    });
    run.engines.push(engine);
    const exit = await Promise.race([engine.exited, sleep(60_000).then(() => 'still running after 60 s')]);
    expect(exit, engine.output().slice(-3000)).toBe(2);
    expect(engine.output()).toContain('cannot open ONNX model');
    // The source had been started: this line is logged right before engine.start(), which the start no
    // longer holds back until the scorer is ready (start.ts).
    expect(engine.output()).toContain('joining the consumer group');

    const [{ n }] = (await e.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${quoteIdent(e.database)}.predictions`,
    )) as [{ n: string }];
    expect(n).toBe('0');
    const admin = createKafkaClient(e.config.kafka, '-e2e-admin').admin();
    await admin.connect();
    try {
      const topic = e.config.kafka.topics.telemetry;
      const committed = await admin.fetchOffsets({ groupId: e.config.kafka.groupId, topics: [topic] });
      const offsets = committed.find((c) => c.topic === topic)?.partitions.map((p) => p.offset) ?? [];
      expect(offsets.length).toBeGreaterThan(0);
      // -1: no committed offset for the group on that partition.
      expect(offsets.every((o) => o === '-1')).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });
});
