import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/shared/errors.js';

describe('Kafka SASL and TLS settings (issue 11)', () => {
  it('none by default: no sasl, no tls', () => {
    const k = loadConfig({}).kafka;
    expect(k.sasl).toBeUndefined();
    expect(k.tls).toBeUndefined();
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('SASL %s with user and password', (m) => {
    const k = loadConfig({
      KAFKA_SASL_MECHANISM: m,
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    }).kafka;
    expect(k.sasl).toEqual({ mechanism: m, username: 'u', password: 'p' });
  });

  it.each([
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' },
      /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    ],
    [{ KAFKA_SASL_PASSWORD: 'p' }, /need KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, /KAFKA_SASL_MECHANISM/],
    [{ KAFKA_TLS_CERT_FILE: '/c.pem' }, /go together/],
    [{ KAFKA_TLS_REJECT_UNAUTHORIZED: 'no' }, /KAFKA_TLS_REJECT_UNAUTHORIZED/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('TLS: on with KAFKA_TLS=true or any file; certificates verified unless said otherwise', () => {
    expect(loadConfig({ KAFKA_TLS: 'true' }).kafka.tls).toEqual({ rejectUnauthorized: true });
    expect(loadConfig({ KAFKA_TLS_CA_FILE: '/ca.pem' }).kafka.tls).toEqual({
      caFile: '/ca.pem',
      rejectUnauthorized: true,
    });
    expect(
      loadConfig({
        KAFKA_TLS_CERT_FILE: '/c.pem',
        KAFKA_TLS_KEY_FILE: '/k.pem',
        KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
      }).kafka.tls,
    ).toEqual({ certFile: '/c.pem', keyFile: '/k.pem', rejectUnauthorized: false });
  });
});

describe('describeConfig: the settings as they may be logged (issue 11)', () => {
  const CANARIES = {
    CLICKHOUSE_PASSWORD: 'canary-clickhouse-5f1e',
    KAFKA_SASL_PASSWORD: 'canary-kafka-77ab',
    SCHEMA_REGISTRY_PASSWORD: 'canary-registry-c0de',
  };
  const env = {
    ...CANARIES,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'pdm',
    SCHEMA_REGISTRY_USER: 'pdm',
    // A password inside a URL is a secret too.
    CLICKHOUSE_URL: 'http://pdm:canary-url-9d9d@clickhouse:8123',
    SCHEMA_REGISTRY_URL: 'https://pdm:canary-url-9d9d@registry:8081',
  };

  it('holds every secret as a marker, keeps everything else', () => {
    const config = loadConfig(env);
    const text = JSON.stringify(describeConfig(config));
    for (const secret of [...Object.values(CANARIES), 'canary-url-9d9d']) expect(text).not.toContain(secret);
    const d = describeConfig(config) as typeof config;
    expect(d.clickhouse.password).toBe('[redacted]');
    expect(d.kafka.sasl?.password).toBe('[redacted]');
    expect(d.registry.auth?.password).toBe('[redacted]');
    expect(d.kafka.sasl?.username).toBe('pdm');
    expect(d.clickhouse.url).toBe('http://clickhouse:8123/');
    expect(d.ops).toEqual(config.ops);
    // The config itself keeps them (the clients need them).
    expect(config.kafka.sasl?.password).toBe(CANARIES.KAFKA_SASL_PASSWORD);
  });

  it('an unset password reads as empty, not as set', () => {
    const d = describeConfig(loadConfig({})) as ReturnType<typeof loadConfig>;
    expect(d.clickhouse.password).toBe('');
  });
});
