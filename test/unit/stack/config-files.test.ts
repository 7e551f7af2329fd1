import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { configXml, usersXml } from '../../../src/stack/clickhouse.js';
import { kafkaClusterId, log4jProperties, serverProperties } from '../../../src/stack/kafka.js';
import { stackPaths } from '../../../src/stack/paths.js';

const config = loadConfig({
  PDM_CACHE_DIR: '.cache',
  PDM_STACK_KAFKA_PORT: '19092',
  PDM_STACK_KAFKA_CONTROLLER_PORT: '19093',
  PDM_STACK_CLICKHOUSE_HTTP_PORT: '18123',
  PDM_STACK_CLICKHOUSE_TCP_PORT: '19000',
});
const paths = stackPaths(config.stack, '/repo');

function properties(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([^#=\s][^=]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) map.set(m[1], m[2]);
  }
  return map;
}

describe('stack paths', () => {
  it('resolves a relative cache dir against the project root and keeps everything inside it', () => {
    expect(paths.cacheDir).toBe('/repo/.cache');
    expect(paths.kafka.libsDir).toBe('/repo/.cache/kafka-3.9.1/libs');
    expect(paths.kafka.pidFile).toBe('/repo/.cache/run/kafka.pid');
    expect(paths.clickhouse.configXml).toBe('/repo/.cache/clickhouse/config.xml');
    expect(paths.kafka.pom).toBe('/repo/deploy/stack/kafka/pom.xml');
  });

  it('keeps an absolute cache dir as given', () => {
    const abs = stackPaths(loadConfig({ PDM_CACHE_DIR: '/var/tmp/pdm' }).stack, '/repo');
    expect(abs.cacheDir).toBe('/var/tmp/pdm');
    expect(abs.lockFile).toBe('/var/tmp/pdm/run/stack.lock');
  });

  it("puts ClickHouse's tables in PDM_STACK_CLICKHOUSE_DATA_DIR when set, and only them", () => {
    for (const [dir, expected] of [
      ['/dev/shm/pdm-clickhouse', '/dev/shm/pdm-clickhouse'],
      ['scratch/ch', '/repo/scratch/ch'],
    ] as const) {
      const moved = stackPaths(loadConfig({ PDM_STACK_CLICKHOUSE_DATA_DIR: dir }).stack, '/repo');
      expect(moved.clickhouse.dataDir).toBe(expected);
      expect(moved.clickhouse.tmpDir).toBe('/repo/.cache/clickhouse/tmp');
      expect(configXml(config, moved)).toContain(`<path>${expected}/</path>`);
    }
    expect(paths.clickhouse.dataDir).toBe('/repo/.cache/clickhouse/data');
  });
});

describe('Kafka server.properties', () => {
  const props = properties(serverProperties(config, '/data/kafka'));

  it('runs one KRaft node on loopback with the configured ports', () => {
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('node.id')).toBe('1');
    expect(props.get('controller.quorum.voters')).toBe('1@127.0.0.1:19093');
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092');
    expect(props.get('log.dirs')).toBe('/data/kafka');
  });

  it('is tuned for a single-node dev broker', () => {
    expect(props.get('group.initial.rebalance.delay.ms')).toBe('0');
    expect(props.get('offsets.topic.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.min.isr')).toBe('1');
    expect(props.get('num.partitions')).toBe(String(config.kafka.partitions));
    expect(props.get('auto.create.topics.enable')).toBe('false');
  });

  it('keeps replayed history: no time-based retention, segments rolled by size only', () => {
    // Both compare record timestamps, which are event times (months or years old in a backfill).
    expect(props.get('log.retention.ms')).toBe('-1');
    expect(Number(props.get('log.roll.ms'))).toBeGreaterThan(100 * 365 * 86_400_000);
  });

  it('logs to a file through log4j', () => {
    const log4j = properties(log4jProperties('/logs/server.log'));
    expect(log4j.get('log4j.rootLogger')).toBe('INFO, file');
    expect(log4j.get('log4j.appender.file.File')).toBe('/logs/server.log');
  });

  it('makes cluster ids Kafka accepts: 22 URL-safe base64 chars, never a leading dash', () => {
    const id = kafkaClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    let calls = 0;
    // First draw encodes to a leading '-' (0xf8 → "-"), the second does not.
    const fake = (n: number) => Buffer.alloc(n, calls++ === 0 ? 0xf8 : 0x41);
    const retried = kafkaClusterId(fake);
    expect(calls).toBe(2);
    expect(retried.startsWith('-')).toBe(false);
  });
});

describe('ClickHouse config', () => {
  const xml = configXml(config, paths);

  it('listens on loopback with the configured ports and keeps all state in the cache dir', () => {
    expect(xml).toContain('<listen_host>127.0.0.1</listen_host>');
    expect(xml).toContain('<http_port>18123</http_port>');
    expect(xml).toContain('<tcp_port>19000</tcp_port>');
    expect(xml).toContain('<path>/repo/.cache/clickhouse/data/</path>');
    expect(xml).toContain('<tmp_path>/repo/.cache/clickhouse/tmp/</tmp_path>');
    expect(xml).toContain('<users_config>/repo/.cache/clickhouse/users.xml</users_config>');
    expect(xml).toContain('<log>/repo/.cache/clickhouse/log/clickhouse-server.log</log>');
    expect(xml).not.toContain('interserver_http_port');
    expect(xml).not.toContain('/var/lib/clickhouse');
  });

  it('uses the 18.x root element and a small mark cache', () => {
    expect(xml).toMatch(/<yandex>[\s\S]*<\/yandex>/);
    expect(xml).toContain('<mark_cache_size>67108864</mark_cache_size>');
  });

  it('gives the default user no password by default and never writes a password in clear', () => {
    expect(usersXml(config)).toContain(
      '<default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip>',
    );
    const withUser = usersXml(loadConfig({ CLICKHOUSE_USER: 'pdm', CLICKHOUSE_PASSWORD: 's3cret' }));
    expect(withUser).toContain('<pdm><password_sha256_hex>');
    expect(withUser).not.toContain('s3cret');
    expect(withUser).toContain('<default><password></password>');
  });

  it('refuses a user name that cannot be an XML element', () => {
    expect(() => usersXml(loadConfig({ CLICKHOUSE_USER: 'a b<c' }))).toThrow(/cannot be a local user name/);
  });
});
