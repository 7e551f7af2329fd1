/**
 * The local development/test stack: Kafka (KRaft, jars from Maven Central), Apicurio Registry (its
 * distribution from Maven Central) and ClickHouse as local processes under the cache directory — no Docker.
 */
export { stackUp, stackDown, stackStatus, localServices } from './stack.js';
export type { StackOptions, StackUpResult, StackDownResult, StackStatus } from './stack.js';
export { SERVICE_NAMES, SERVICE_STATES } from './service.js';
export type {
  LocalService,
  ServiceName,
  ServiceState,
  ServiceStatus,
  StackLog,
  StartOutcome,
  StopOutcome,
} from './service.js';
export { stackPaths, projectRoot } from './paths.js';
export { formatStatus, formatUp, formatDown, connectionHints } from './format.js';
export type { StackPaths } from './paths.js';
export { APICURIO_CCOMPAT_PATH, APICURIO_VERSION, apicurioUrl } from './apicurio.js';
