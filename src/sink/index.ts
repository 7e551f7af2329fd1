export {
  createClickHouse,
  type ClickHouseConnection,
  type ServerCapabilities,
  type ClickHouseOptions,
} from './clickhouse.js';
export {
  bindParams,
  dateTimeRange,
  quoteIdent,
  quoteString,
  type QueryParams,
  type QueryParamValue,
} from './bind.js';
export { migrate, MIGRATIONS, type Migration, type MigrationReport } from './migrations.js';
export {
  ACCESS_ROLES,
  accessStatements,
  applyAccess,
  grantAccess,
  roleName,
  supportsAccessControl,
  type AccessReport,
  type AccessRole,
} from './access.js';
export {
  encodeRowBinary,
  featureVectorsFormat,
  predictionsFormat,
  riskAlertsFormat,
  type RowBinaryFormat,
  type RowBinaryColumn,
  type RowBinaryType,
} from './row-binary.js';
export {
  parseShadowAgreement,
  SHADOW_AGREEMENT_VIEW,
  shadowAgreementSelect,
  shadowPredictionsFormat,
  type ShadowAgreement,
  type ShadowPredictionRow,
} from './shadow.js';
export { createBatchWriter, type BatchWriter, type BatchWriterOptions } from './batch-writer.js';
export {
  createFeatureVectorReader,
  sourceKey,
  type DuplicateCensus,
  type FeatureVectorReader,
  type FeatureVectorSelection,
  type LoggedVector,
  type MachineIdRange,
  type PredictionSource,
  type SpecHashCensus,
  type VectorKey,
} from './feature-vector-reader.js';
export {
  TABLES,
  formatDateTime,
  formatInstant,
  type PredictionRow,
  type FeatureVectorRow,
  type DeadLetterRow,
  type RiskAlertRow,
} from './tables.js';
