/**
 * Producers of pdm-stream: the device fleet simulator and the reference-CSV import. Other stages import
 * only from here.
 */
export {
  readReferenceCsv,
  findReferenceCsvFiles,
  type CsvRejection,
  type CsvProgress,
  type ReadReferenceCsvOptions,
  type ReferenceCsvFiles,
} from './reference-csv.js';
export {
  writeReferenceCsv,
  emptyCounts,
  type RecordCounts,
  type WriteReferenceCsvOptions,
} from './reference-csv-writer.js';
export { CSV_FILE_NAMES, CSV_HEADERS, TIMED_KINDS, parseCsvDate, formatCsvDate } from './csv-format.js';
export { createFleet, FLEET_DEFAULTS, type Fleet, type FleetOptions } from './fleet.js';
export { createRng, deriveSeed, type Rng } from './prng.js';
export type { RecordPublisher } from './record-publisher.js';
export { createKafkaPublisher, type KafkaPublisherOptions } from './kafka-publisher.js';
export { createMemoryPublisher, type MemoryPublisher } from './memory-publisher.js';
export { openKafkaPublisher } from './open-publisher.js';
export { createPacer, type Pacer, type PacerOptions } from './pacer.js';
export { publishStream, type PublishStreamOptions, type PublishStreamResult } from './publish-stream.js';
export {
  simulateToPublisher,
  simulateToCsv,
  importCsvToPublisher,
  type RunSummary,
  type ImportSummary,
  type RunOptions,
  type ImportOptions,
} from './run.js';
export { formatSummary, summaryJson } from './summary.js';
