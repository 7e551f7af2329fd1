/** /readyz (issue 9): registry and Kafka outages turn it 503 with the reason; a port in use is one clear error. */
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { healthProblem } from '../../../src/ingest/index.js';
import { composeReadiness, startOpsServer } from '../../../src/pipeline/ops-server.js';
import { PdmError } from '../../../src/shared/errors.js';

describe('composeReadiness', () => {
  it('is ready when every check passes', async () => {
    const ready = composeReadiness([
      { name: 'a', check: () => undefined },
      { name: 'b', check: () => Promise.resolve(undefined) },
    ]);
    expect(await ready()).toEqual([]);
  });

  it('lists each problem in check order: failing, throwing and hanging checks', async () => {
    const ready = composeReadiness(
      [
        { name: 'engine', check: () => 'no partitions assigned yet' },
        {
          name: 'registry',
          check: () => Promise.reject(new Error('schema registry unreachable: ECONNREFUSED')),
        },
        { name: 'clickhouse', check: () => new Promise<undefined>(() => undefined) },
        { name: 'kafka', check: () => undefined },
      ],
      30,
    );
    const started = Date.now();
    expect(await ready()).toEqual([
      'no partitions assigned yet',
      'registry: schema registry unreachable: ECONNREFUSED',
      'clickhouse: no answer within 30 ms',
    ]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('healthProblem', () => {
  it('says nothing while consuming and why not otherwise', () => {
    expect(healthProblem({ state: 'running' })).toBeUndefined();
    expect(healthProblem({ state: 'starting' })).toContain('joining');
    expect(
      healthProblem({ state: 'unavailable', sinceMs: 1_000, attempt: 3, reason: 'ECONNREFUSED' }, 13_400),
    ).toBe('Kafka unavailable for 12 s (attempt 3): ECONNREFUSED');
    expect(healthProblem({ state: 'failed', reason: 'x' })).toBe('Kafka consumer failed: x');
  });
});

describe('ops server', () => {
  it('answers /readyz 503 with the problems, 200 when there are none', async () => {
    let problems = ['schema registry: HTTP 503'];
    const ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      readiness: () => Promise.resolve(problems),
    });
    try {
      const bad = await fetch(`${ops.url}/readyz`);
      expect(bad.status).toBe(503);
      expect(await bad.text()).toBe('schema registry: HTTP 503\n');
      problems = [];
      expect((await fetch(`${ops.url}/readyz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });

  it('a port in use is one PdmError that names the setting, not a stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startOpsServer({
        host: '127.0.0.1',
        port,
        registry: new Registry(),
        readiness: () => Promise.resolve([]),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PdmError);
      expect((err as PdmError).code).toBe('HTTP_PORT_IN_USE');
      expect((err as PdmError).message).toBe(
        `ops HTTP server: 127.0.0.1:${port} is already in use: stop the other process or set PDM_HTTP_PORT to a free port (0 = any)`,
      );
    } finally {
      blocker.close();
    }
  });
});
