export { loadConfig } from './load.js';
export { describeConfig } from './describe.js';
export type {
  Config,
  KafkaConfig,
  KafkaSaslConfig,
  KafkaTlsConfig,
  RegistryConfig,
  ClickHouseConfig,
  StackConfig,
  FeatureConfig,
  ScoreConfig,
  SinkConfig,
  AlertsConfig,
  PipelineConfig,
  OpsConfig,
  Range,
} from './load.js';
export { ENV_SCHEMA } from './schema.js';
