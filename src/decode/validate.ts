import { BadRecordError } from '../shared/errors.js';
import type { RecordKind } from '../shared/records.js';

/**
 * Domain checks that Avro types cannot express. Sensor ranges and non-finite values are the feature
 * stage's (they are configurable and must also apply to the CSV batch path); here: keys and categories.
 */
const CATEGORY: Partial<Record<RecordKind, { field: string; pattern: RegExp; allowed: string }>> = {
  errors: { field: 'errorId', pattern: /^error[1-5]$/, allowed: 'error1..error5' },
  maintenance: { field: 'comp', pattern: /^comp[1-4]$/, allowed: 'comp1..comp4' },
  failures: { field: 'failure', pattern: /^comp[1-4]$/, allowed: 'comp1..comp4' },
  machines: { field: 'model', pattern: /^model[1-4]$/, allowed: 'model1..model4' },
};

/**
 * Whether `key` is exactly the bytes of `String(id)` for a non-negative integer `id` (its decimal digits,
 * never an exponent below 1e21), compared in place: the hot path builds no string per message.
 */
function keyIsDecimal(key: Buffer | null, id: number): boolean {
  return key !== null && keyBytesAreDecimal(key, 0, key.length, id);
}

/** {@link keyIsDecimal} for the key bytes `buf[at, end)`. */
export function keyBytesAreDecimal(buf: Buffer, at: number, end: number, id: number): boolean {
  if (end <= at) return false;
  // Beyond 2^53 digit arithmetic on doubles is inexact (no Avro int gets there): compare the texts.
  if (!Number.isSafeInteger(id)) return buf.toString('utf8', at, end) === String(id);
  let rest = id;
  for (let i = end - 1; i >= at; i--) {
    if (buf[i] !== 48 + (rest % 10)) return false;
    rest = Math.floor(rest / 10);
    if (rest === 0) return i === at;
  }
  return false;
}

export function validateRecord(
  kind: RecordKind,
  record: Readonly<Record<string, unknown>>,
  key: Buffer | null,
): void {
  const machineId = record['machineId'];
  if (typeof machineId !== 'number' || !Number.isInteger(machineId) || machineId < 0) {
    throw new BadRecordError(
      'INVALID_VALUE',
      `machineId ${String(machineId)} is not a non-negative integer`,
      {
        stage: 'decode',
      },
    );
  }
  // The key decides the partition, and a machine's state lives with its partition: a wrong key would put
  // its events in front of the wrong engine instance.
  if (!keyIsDecimal(key, machineId)) {
    const keyText = key?.toString('utf8');
    throw new BadRecordError(
      'INVALID_KEY',
      `key ${keyText === undefined ? 'is missing' : JSON.stringify(keyText)}, expected "${machineId}" (machineId)`,
      { stage: 'decode' },
    );
  }
  const ts = record['ts'];
  if (kind !== 'machines' && (typeof ts !== 'number' || !Number.isSafeInteger(ts))) {
    throw new BadRecordError('INVALID_VALUE', `ts ${String(ts)} is not an epoch-millisecond integer`, {
      stage: 'decode',
    });
  }
  if (kind === 'machines') {
    const age = record['age'];
    if (typeof age !== 'number' || age < 0) {
      throw new BadRecordError('INVALID_VALUE', `age ${String(age)} is negative`, { stage: 'decode' });
    }
  }
  const cat = CATEGORY[kind];
  if (cat !== undefined) {
    const v = record[cat.field];
    if (typeof v !== 'string' || !cat.pattern.test(v)) {
      throw new BadRecordError(
        'INVALID_VALUE',
        `${cat.field} ${JSON.stringify(v)} is not one of ${cat.allowed}`,
        {
          stage: 'decode',
        },
      );
    }
  }
}
