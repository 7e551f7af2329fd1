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
