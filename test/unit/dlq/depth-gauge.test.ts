import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerDeadLetterDepthGauge, type DepthRow } from '../../../src/dlq/index.js';
import type { ClickHouseConnection } from '../../../src/sink/index.js';

const unusedCh = {} as ClickHouseConnection; // readDepth is injected: the connection is never used

function row(reason: string, topic: string, depth: number): DepthRow {
  return { reason, topic, depth, oldestAt: '', newestAt: '' };
}

function setup(answers: (() => Promise<DepthRow[]>)[]) {
  const registry = new Registry();
  let t = 1_000_000;
  let reads = 0;
  const g = registerDeadLetterDepthGauge({
    registry,
    ch: unusedCh,
    database: 'pdm',
    cacheMs: 5_000,
    timeoutMs: 50,
    now: () => t,
    readDepth: () => {
      const answer = answers[Math.min(reads, answers.length - 1)];
      reads++;
      if (answer === undefined) throw new Error('no answer scripted');
      return answer();
    },
  });
  return {
    registry,
    g,
    reads: () => reads,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const value = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
};

describe('pdm_dead_letter_depth', () => {
  it('exports the unresolved depth per reason and topic, read at most once per cache period', async () => {
    const s = setup([() => Promise.resolve([row('UNKNOWN_SCHEMA', 'pdm.telemetry', 12)])]);
    const text = await s.registry.metrics();
    expect(text).toContain('pdm_dead_letter_depth{reason="UNKNOWN_SCHEMA",topic="pdm.telemetry"} 12');
    await s.registry.metrics();
    expect(s.reads()).toBe(1);
    s.advance(5_001);
    await s.registry.metrics();
    expect(s.reads()).toBe(2);
  });

  it('drops a fully resolved series to 0 instead of keeping its last value', async () => {
    const s = setup([
      () => Promise.resolve([row('UNKNOWN_SCHEMA', 't', 3), row('INVALID_VALUE', 't', 1)]),
      () => Promise.resolve([row('INVALID_VALUE', 't', 1)]),
    ]);
    await s.registry.metrics();
    s.advance(6_000);
    expect(await value(s.registry, 'pdm_dead_letter_depth', { reason: 'UNKNOWN_SCHEMA' })).toBe(0);
    expect(await value(s.registry, 'pdm_dead_letter_depth', { reason: 'INVALID_VALUE' })).toBe(1);
  });

  it('never fails a scrape: errors and timeouts are counted and the last values stay, with their age', async () => {
    const s = setup([
      () => Promise.resolve([row('BAD_FRAME', 't', 5)]),
      () => Promise.reject(new Error('Code: 210 connection refused')),
      () => new Promise<DepthRow[]>(() => undefined), // never answers: the 50 ms timeout applies
    ]);
    await s.registry.metrics();
    s.advance(6_000);
    const text = await s.registry.metrics();
    expect(text).toContain('pdm_dead_letter_depth{reason="BAD_FRAME",topic="t"} 5');
    expect(text).toContain('pdm_dead_letter_depth_errors_total 1');
    expect(text).toContain('pdm_dead_letter_depth_age_seconds 6');
    s.advance(1_000);
    const text2 = await s.registry.metrics();
    expect(text2).toContain('pdm_dead_letter_depth_errors_total 2');
    expect(text2).toContain('pdm_dead_letter_depth{reason="BAD_FRAME",topic="t"} 5');
  });

  it('shares one read between concurrent scrapes', async () => {
    let release: (rows: DepthRow[]) => void = () => undefined;
    const s = setup([() => new Promise<DepthRow[]>((r) => (release = r))]);
    const a = s.registry.metrics();
    const b = s.registry.metrics();
    release([row('X', 't', 1)]);
    await Promise.all([a, b]);
    expect(s.reads()).toBe(1);
  });
});
