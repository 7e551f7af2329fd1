export {
  toDeadLetterRow,
  scrubSecrets,
  type DeadLetter,
  type DeadLetterReplayColumns,
} from './dead-letter.js';
export {
  createDeadLetterSink,
  deadLetterDepth,
  type DeadLetterSink,
  type DeadLetterSinkOptions,
  type DeadLetterDepth,
} from './sink.js';
export {
  REPLAY_HEADERS,
  replayCountOf,
  replayedFromOf,
  replayHeaders,
  recordCoordinates,
} from './replay-headers.js';
export {
  FilterSyntaxError,
  filterSql,
  isEmptyFilter,
  MAX_IDS,
  parseDurationMs,
  parseInstantMs,
  parseNameList,
  parseRecordIds,
  type DeadLetterFilter,
  type RecordId,
} from './filters.js';
export {
  createDeadLetterStore,
  isMissingTable,
  MAX_LIMIT,
  type DeadLetterStore,
  type DepthRow,
  type ResolutionAction,
  type ResolutionRow,
  type StoredDeadLetter,
  type TopRow,
} from './store.js';
export {
  registerDeadLetterDepthGauge,
  type DeadLetterDepthGauge,
  type DeadLetterDepthGaugeOptions,
} from './depth-gauge.js';
export {
  cachedLookup,
  decodedJson,
  inspectPayload,
  type PayloadInspection,
  type SchemaLookup,
} from './inspect.js';
export {
  createKafkaRepublisher,
  type Landed,
  type Republisher,
  type RepublishMessage,
} from './republisher.js';
export {
  DEFAULT_MAX_REPLAYS,
  dismissals,
  executeReplay,
  planReplay,
  replayRefusal,
  type PlannedReplay,
  type RefusedReplay,
  type ReplayOutcome,
  type ReplayPlan,
  type ReplayProgress,
} from './replay.js';
export { formatDepth, formatShown, formatTop } from './format.js';
