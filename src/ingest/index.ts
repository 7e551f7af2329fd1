export { locateMessage, type SourceMessage, type MessageHeaders } from './types.js';
export {
  createTopicAdmin,
  createKafkaClient,
  kafkaSecurityOptions,
  projectTopicSpecs,
  type TopicAdmin,
  type TopicSpec,
} from './kafka-admin.js';
export type {
  RecordSource,
  RecordSourceHandlers,
  BatchOutcome,
  SourceBatch,
  BatchControl,
  TopicPartition,
} from './record-source.js';
export {
  createKafkaSource,
  type KafkaRecordSource,
  type KafkaSourceOptions,
  type SourceAdmin,
  type SourceClient,
  type SourceConsumer,
  type SourceHealth,
} from './kafka-source.js';
export { healthProblem } from './source-health.js';
export {
  createLagPoller,
  partitionLags,
  type LagPoller,
  type LagPollerOptions,
  type PartitionLag,
} from './lag-poller.js';
export {
  assignCoPartitioned,
  coPartitionedAssigner,
  CO_PARTITIONED_ASSIGNER_NAME,
} from './co-partitioned-assigner.js';
export {
  createKafkaProducer,
  producerError,
  type MessageProducer,
  type ProducedMessage,
  type KafkaProducerOptions,
} from './kafka-producer.js';
