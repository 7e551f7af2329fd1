import { describe, expect, it } from 'vitest';
import { connectionHints, formatDown, formatStatus, formatUp } from '../../../src/stack/format.js';
import type { StackStatus } from '../../../src/stack/index.js';

const running: StackStatus = {
  external: false,
  cacheDir: '/repo/.cache',
  ready: true,
  services: [
    {
      name: 'kafka',
      state: 'running',
      pid: 101,
      address: '127.0.0.1:9092',
      description: 'Apache Kafka 3.9.1',
    },
    {
      name: 'schema-registry',
      state: 'running',
      pid: 102,
      address: 'http://127.0.0.1:8081',
      description: 'local stand-in (Confluent REST subset)',
    },
    {
      name: 'clickhouse',
      state: 'port-taken',
      address: 'http://127.0.0.1:8123',
      description: 'ClickHouse',
      detail: 'port in use',
    },
  ],
};

describe('stack output', () => {
  it('renders status as an aligned table with pid, address and detail', () => {
    const lines = formatStatus(running).split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+STATE\s+PID\s+ADDRESS\s+WHAT$/);
    expect(lines[1]).toMatch(/^kafka\s+running\s+101\s+127\.0\.0\.1:9092\s+Apache Kafka 3\.9\.1$/);
    expect(lines[3]).toMatch(
      /^clickhouse\s+port-taken\s+-\s+http:\/\/127\.0\.0\.1:8123\s+ClickHouse; port in use$/,
    );
    // Columns line up: ADDRESS starts at the same offset in every row.
    const col = lines[0]?.indexOf('ADDRESS');
    expect(lines[2]?.indexOf('http://')).toBe(col);
    expect(lines.at(-1)).toBe('stack: ready');
  });

  it('says "already running" when up was a no-op', () => {
    const text = formatUp({
      external: false,
      readyMs: 120,
      services: [
        { name: 'kafka', outcome: 'already-running', address: 'a', readyMs: 100 },
        { name: 'clickhouse', outcome: 'already-running', address: 'b', readyMs: 120 },
      ],
    });
    expect(text).toContain('stack: already running');
    const fresh = formatUp({
      external: false,
      readyMs: 7_400,
      services: [{ name: 'kafka', outcome: 'started', address: 'a', readyMs: 7_400 }],
    });
    expect(fresh).toContain('ready after 7.4 s');
    expect(fresh).toContain('stack: ready in 7.4 s');
  });

  it('reports what down did', () => {
    const text = formatDown({
      external: false,
      services: [
        { name: 'kafka', outcome: 'stopped' },
        { name: 'clickhouse', outcome: 'not-running' },
      ],
    });
    expect(text).toMatch(/kafka\s+stopped/);
    expect(text).toMatch(/clickhouse\s+was not running/);
  });

  it('hints at settings only when they do not already point at the stack', () => {
    const services = [
      { name: 'kafka', address: '127.0.0.1:19092' },
      { name: 'schema-registry', address: 'http://127.0.0.1:8081' },
      { name: 'clickhouse', address: 'http://127.0.0.1:8123' },
    ];
    const current = {
      brokers: ['127.0.0.1:9092'],
      registryUrl: 'http://127.0.0.1:8081/',
      clickhouseUrl: 'http://127.0.0.1:8123',
    };
    expect(connectionHints({ external: false, services }, current)).toEqual([
      'KAFKA_BROKERS=127.0.0.1:19092',
    ]);
    expect(connectionHints({ external: true, services }, current)).toEqual([]);
  });
});
