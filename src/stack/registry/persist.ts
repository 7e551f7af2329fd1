/**
 * The stand-in's state file. Written atomically (temp file, fsync, rename) after every change so that a
 * crash never leaves a half-written file and schema ids survive restarts.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { parseSnapshot, type StoreSnapshot } from './store.js';

export const STATE_FILE_NAME = 'registry.json';

export function stateFilePath(dataDir: string): string {
  return join(dataDir, STATE_FILE_NAME);
}

/** The saved state, or `undefined` when there is none yet. Refuses a corrupt file rather than starting empty. */
export function readState(dataDir: string): StoreSnapshot | undefined {
  const file = stateFilePath(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    return parseSnapshot(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    // Starting empty would hand out ids that messages in Kafka already use for other schemas.
    throw new ConfigError(`registry stand-in: cannot read its state file ${file}; fix or delete it`, {
      code: 'REGISTRY_STATE_CORRUPT',
      stage: 'stack',
      cause: err,
    });
  }
}

export function writeStateAtomic(dataDir: string, snapshot: StoreSnapshot): void {
  mkdirSync(dataDir, { recursive: true });
  const file = stateFilePath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(snapshot, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
