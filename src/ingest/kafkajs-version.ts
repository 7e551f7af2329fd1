import type { createRequire } from 'node:module';

/** The kafkajs version the fast paths of this folder (kafkajs-*.ts) were written against. */
const KAFKAJS_VERSION = '2.2.4';

/** Whether the installed kafkajs is that version: only then is a fast path installed. */
export function isKnownKafkajs(require: ReturnType<typeof createRequire>): boolean {
  try {
    return (require('kafkajs/package.json') as { version?: string }).version === KAFKAJS_VERSION;
  } catch {
    // No readable kafkajs package.json: leave kafkajs as it is.
    return false;
  }
}
