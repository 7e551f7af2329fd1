import type { PdmEvent, RecordKind } from '../shared/records.js';
import {
  CSV_HEADERS,
  FieldError,
  VALID_COMPONENTS,
  VALID_ERROR_IDS,
  VALID_MODELS,
  parseCode,
  parseCsvDate,
  parseNonNegativeInt,
  parseSensor,
} from './csv-format.js';

/**
 * One CSV row → one event, or a {@link FieldError} naming the first problem. `fields` are already split and
 * trimmed; the column count has been checked by the caller.
 */
export function parseRow(kind: RecordKind, f: readonly string[]): PdmEvent {
  switch (kind) {
    case 'telemetry': {
      return {
        kind,
        record: {
          machineId: parseNonNegativeInt(f[1] ?? '', 'machineID'),
          ts: parseCsvDate(f[0] ?? ''),
          volt: parseSensor(f[2] ?? '', 'volt'),
          rotate: parseSensor(f[3] ?? '', 'rotate'),
          pressure: parseSensor(f[4] ?? '', 'pressure'),
          vibration: parseSensor(f[5] ?? '', 'vibration'),
        },
      };
    }
    case 'errors':
      return {
        kind,
        record: {
          machineId: parseNonNegativeInt(f[1] ?? '', 'machineID'),
          ts: parseCsvDate(f[0] ?? ''),
          errorId: parseCode(f[2] ?? '', 'errorID', VALID_ERROR_IDS),
        },
      };
    case 'maintenance':
      return {
        kind,
        record: {
          machineId: parseNonNegativeInt(f[1] ?? '', 'machineID'),
          ts: parseCsvDate(f[0] ?? ''),
          comp: parseCode(f[2] ?? '', 'comp', VALID_COMPONENTS),
        },
      };
    case 'failures':
      return {
        kind,
        record: {
          machineId: parseNonNegativeInt(f[1] ?? '', 'machineID'),
          ts: parseCsvDate(f[0] ?? ''),
          failure: parseCode(f[2] ?? '', 'failure', VALID_COMPONENTS),
        },
      };
    case 'machines':
      return {
        kind,
        record: {
          machineId: parseNonNegativeInt(f[0] ?? '', 'machineID'),
          model: parseCode(f[1] ?? '', 'model', VALID_MODELS),
          age: parseNonNegativeInt(f[2] ?? '', 'age'),
        },
      };
  }
}

/** Whether `fields` is the expected header of `kind` (names compared case-insensitively). */
export function isHeader(kind: RecordKind, fields: readonly string[]): boolean {
  const expected = CSV_HEADERS[kind];
  return (
    fields.length === expected.length &&
    expected.every((name, i) => name.toLowerCase() === fields[i]?.toLowerCase())
  );
}

/** The row's event, or the reason it is rejected (column count or the first bad field). */
export function parseCsvRow(kind: RecordKind, fields: readonly string[]): string | PdmEvent {
  const expected = CSV_HEADERS[kind].length;
  if (fields.length !== expected) return `expected ${expected} columns, got ${fields.length}`;
  try {
    return parseRow(kind, fields);
  } catch (err) {
    // Only our own field errors are row problems; anything else is a bug and must surface.
    if (err instanceof FieldError) return err.message;
    throw err;
  }
}
