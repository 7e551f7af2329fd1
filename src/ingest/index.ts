export type { SourceMessage } from './types.js';
export {
  createTopicAdmin,
  createKafkaClient,
  projectTopicSpecs,
  type TopicAdmin,
  type TopicSpec,
} from './kafka-admin.js';
export type {
  RecordSource,
  RecordSourceHandlers,
  SourceBatch,
  BatchControl,
  TopicPartition,
} from './record-source.js';
export { createKafkaSource, type KafkaSourceOptions } from './kafka-source.js';
export {
  assignCoPartitioned,
  coPartitionedAssigner,
  CO_PARTITIONED_ASSIGNER_NAME,
} from './co-partitioned-assigner.js';
export { createMachinePartitioner } from './partitioner.js';
