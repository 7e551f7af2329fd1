import { redactUrl } from '../shared/logger.js';
import type { Config } from './load.js';

/** What a secret reads as in {@link describeConfig}: whether it is set, never its value. */
const SET = '[redacted]';
const mark = (secret: string) => (secret === '' ? '' : SET);

/**
 * The settings as they may be printed or logged: every password replaced by a marker and user info
 * removed from URLs. The config object itself holds the secrets (the clients need them); log this instead.
 */
export function describeConfig(config: Config): unknown {
  const { kafka, registry, clickhouse } = config;
  return {
    ...config,
    kafka: {
      ...kafka,
      ...(kafka.sasl !== undefined ? { sasl: { ...kafka.sasl, password: mark(kafka.sasl.password) } } : {}),
    },
    registry: {
      ...registry,
      url: redactUrl(registry.url),
      ...(registry.auth !== undefined
        ? { auth: { ...registry.auth, password: mark(registry.auth.password) } }
        : {}),
    },
    clickhouse: { ...clickhouse, url: redactUrl(clickhouse.url), password: mark(clickhouse.password) },
  };
}
