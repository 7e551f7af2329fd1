export { loadConfig } from './load.js';
export type {
  Config,
  KafkaConfig,
  RegistryConfig,
  ClickHouseConfig,
  StackConfig,
  FeatureConfig,
  ScoreConfig,
  SinkConfig,
  OpsConfig,
  Range,
} from './load.js';
export { ENV_SCHEMA } from './schema.js';
