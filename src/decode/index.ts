export { encodeFrame, parseFrame, MAGIC_BYTE, FRAME_HEADER_BYTES, type Frame } from './wire-format.js';
export { loadProjectSchemas, loadAlertSchema, valueSubject, type ProjectSchemas } from './project-schemas.js';
export {
  createSchemaRegistryClient,
  COMPATIBILITY_LEVELS,
  type CompatibilityLevel,
  type SchemaRegistryClient,
  type RegistryClientOptions,
} from './registry-client.js';
export {
  createRecordDecoder,
  decodeTelemetryByRecord,
  type DecodeFailure,
  type RecordDecoder,
  type RecordDecoderOptions,
  type DecodeResult,
} from './decoder.js';
export { createRecordEncoder, type RecordEncoder } from './encoder.js';
export { createCodec, createResolvingCodec, type AvroCodec } from './avro.js';
export { validateRecord } from './validate.js';
