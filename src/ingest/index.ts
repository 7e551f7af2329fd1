export type { SourceMessage } from './types.js';
export {
  createTopicAdmin,
  createKafkaClient,
  projectTopicSpecs,
  type TopicAdmin,
  type TopicSpec,
} from './kafka-admin.js';
