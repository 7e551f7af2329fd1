/**
 * The engine in this process (`startEngine`, so that tests run the sources, not dist/), for integration
 * tests that need its metrics registry, its model version or its log lines: hot-swap and shadow scoring.
 */
import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startEngine, type RunningEngine } from '../../src/pipeline/start.js';
import { testConfig } from '../support/stack-env.js';
import type { FleetOptions } from '../../src/simulate/index.js';
import { onTestFinished } from 'vitest';
import { batchOver, createFramer, createTestProducer, fleetEvents, messageFor } from './handmade.js';
import { engineReady, metricsText, metricSum, type E2eEnv, type EngineProcess } from './support.js';

/** A metric of the engine's /metrics: the sum over all series, or the one series with exactly `labels`. */
export async function metric(e: E2eEnv, name: string, labels = ''): Promise<number> {
  const text = await metricsText(e.httpPort);
  if (labels === '') return metricSum(text, name);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The engine in this process, with its log lines kept, and a stand-in for the child process that
 * `waitConsumed` watches (it "exits" when the engine fails).
 */
export async function startInProcess(env: Record<string, string>): Promise<{
  running: RunningEngine;
  handle: EngineProcess;
  logLines: () => string[];
}> {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const config = testConfig(env);
  const running = await startEngine(config, pino({ level: 'info' }, stream));
  const proc = { exitCode: null as number | null, signalCode: null };
  running.engine.done.catch(() => {
    proc.exitCode = 1;
  });
  const logLines = () => out.join('').split('\n');
  const handle: EngineProcess = {
    proc: proc as unknown as ChildProcess,
    output: () => logLines().join('\n'),
    exited: running.engine.done.then(
      () => 0,
      () => 1,
    ),
  };
  return { running, handle, logLines };
}

/**
 * A simulated fleet, its batch-path rows at `nowMs` (the reference), a producer for its events, and the
 * engine in this process, ready (stopped when the test ends unless `stop()` was called).
 */
export async function fleetRunInProcess(e: E2eEnv, fleet: FleetOptions, nowMs: number) {
  const events = fleetEvents(fleet);
  const expected = await batchOver(e, events, nowMs, 'all');
  const framer = await createFramer(e);
  const producer = await createTestProducer(e);
  const started = await startInProcess(e.env);
  let stopped = false;
  onTestFinished(async () => {
    if (!stopped) await started.running.stop();
  });
  await engineReady(e.httpPort);
  return {
    ...started,
    events,
    expected,
    producer,
    /** Publishes `part` of the fleet's events (framed as Avro for the engine's topics). */
    send: (part: typeof events) => producer.send(part.map((ev) => messageFor(e, framer, ev))),
    stop: async () => {
      stopped = true;
      await started.running.stop();
    },
  };
}
