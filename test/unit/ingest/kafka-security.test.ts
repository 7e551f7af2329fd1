import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { kafkaSecurityOptions } from '../../../src/ingest/kafka-admin.js';
import { ConfigError } from '../../../src/shared/errors.js';

describe('kafkaSecurityOptions: KAFKA_SASL_* and KAFKA_TLS* as kafkajs options (issue 11)', () => {
  it('nothing configured: plaintext, no SASL', () => {
    expect(kafkaSecurityOptions(loadConfig({}).kafka)).toEqual({});
  });

  it('SASL SCRAM over TLS with a CA and a client certificate; certificates verified', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-tls-'));
    for (const f of ['ca', 'cert', 'key']) writeFileSync(join(dir, `${f}.pem`), `-----${f}-----\n`);
    const config = loadConfig({
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'pdm',
      KAFKA_SASL_PASSWORD: 'secret',
      KAFKA_TLS_CA_FILE: join(dir, 'ca.pem'),
      KAFKA_TLS_CERT_FILE: join(dir, 'cert.pem'),
      KAFKA_TLS_KEY_FILE: join(dir, 'key.pem'),
    });
    expect(kafkaSecurityOptions(config.kafka)).toEqual({
      sasl: { mechanism: 'scram-sha-256', username: 'pdm', password: 'secret' },
      ssl: {
        rejectUnauthorized: true,
        ca: ['-----ca-----\n'],
        cert: '-----cert-----\n',
        key: '-----key-----\n',
      },
    });
  });

  it('TLS without files uses the system CAs; rejectUnauthorized=false only when asked', () => {
    expect(kafkaSecurityOptions(loadConfig({ KAFKA_TLS: 'true' }).kafka)).toEqual({
      ssl: { rejectUnauthorized: true },
    });
    expect(
      kafkaSecurityOptions(loadConfig({ KAFKA_TLS: 'true', KAFKA_TLS_REJECT_UNAUTHORIZED: 'false' }).kafka),
    ).toEqual({ ssl: { rejectUnauthorized: false } });
  });

  it('an unreadable file is a ConfigError naming the setting', () => {
    const config = loadConfig({ KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' });
    expect(() => kafkaSecurityOptions(config.kafka)).toThrow(ConfigError);
    expect(() => kafkaSecurityOptions(config.kafka)).toThrow(
      /KAFKA_TLS_CA_FILE: cannot read \/nonexistent\/ca.pem/,
    );
  });
});
