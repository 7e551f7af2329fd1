/**
 * Imported (for its effect) ahead of kafkajs by every module of the project that loads kafkajs: installs
 * the fast paths that must be in place before kafkajs's own modules load (kafkajs-batch.ts for the
 * consumer, kafkajs-partition-groups.ts for the producers). ES modules
 * run their imports in order, so this runs before kafkajs whichever of those modules is loaded first.
 * Only on the kafkajs version it was written against; elsewhere (or when kafkajs was loaded first, e.g. by
 * a test) kafkajs keeps its own behaviour, which gives the same batches.
 */
import { createRequire } from 'node:module';
import { installBatch } from './kafkajs-batch.js';
import { installPartitionGroups } from './kafkajs-partition-groups.js';
import { isKnownKafkajs } from './kafkajs-version.js';

const require = createRequire(import.meta.url);

/** Whether kafkajs's consumer builds its batches with kafkajs-batch.ts in this process. */
export const batchFastPath = isKnownKafkajs(require) && installBatch(require);

/** Whether kafkajs's producers group a request's messages with kafkajs-partition-groups.ts in this process. */
export const partitionGroupsFastPath = isKnownKafkajs(require) && installPartitionGroups(require);
