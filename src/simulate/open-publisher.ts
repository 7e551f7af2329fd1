import type { Config } from '../config/index.js';
import { createRecordEncoder, createSchemaRegistryClient } from '../decode/index.js';
import type { Logger } from '../shared/logger.js';
import { createKafkaPublisher } from './kafka-publisher.js';
import type { RecordPublisher } from './record-publisher.js';

/**
 * The producers' publisher from settings: registry client → Avro encoder (registers the project schemas
 * under `<topic>-value` if missing) → idempotent kafkajs producer on `config.kafka.topics`.
 */
export async function openKafkaPublisher(
  config: Config,
  options: { readonly logger?: Logger; readonly maxBatchRecords?: number } = {},
): Promise<RecordPublisher> {
  const registry = createSchemaRegistryClient(config.registry);
  const encoder = await createRecordEncoder(registry, config.kafka.topics);
  return createKafkaPublisher({
    kafka: config.kafka,
    encoder,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.maxBatchRecords !== undefined ? { maxBatchRecords: options.maxBatchRecords } : {}),
  });
}
