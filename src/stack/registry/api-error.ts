/**
 * Confluent Schema Registry error codes and the error the stand-in answers with. The HTTP status is the
 * first three digits of the code, as in Confluent's REST API (40401 → 404, 42201 → 422, 409 → 409).
 */
import { PdmError } from '../../shared/errors.js';

export const ERROR_CODES = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_LEVEL_CONFIG_NOT_FOUND: 40408,
  INCOMPATIBLE: 409,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
  INTERNAL: 50001,
} as const;
export type RegistryErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** A request the registry refuses; rendered as `{"error_code": …, "message": …}`. */
export class RegistryApiError extends PdmError {
  readonly errorCode: RegistryErrorCode;
  readonly httpStatus: number;

  constructor(errorCode: RegistryErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { code: `REGISTRY_${errorCode}`, stage: 'stack', cause: options.cause });
    this.errorCode = errorCode;
    this.httpStatus = errorCode < 1000 ? errorCode : Math.floor(errorCode / 100);
  }

  toBody(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}
