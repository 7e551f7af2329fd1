import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { PdmError, errorMessage } from '../shared/errors.js';
import { RECORD_KINDS, type PdmEvent, type RecordKind } from '../shared/records.js';
import { CSV_FILE_NAMES, CSV_HEADERS, formatCsvDate, formatNumber } from './csv-format.js';

export type RecordCounts = { [K in RecordKind]: number };

export interface WriteReferenceCsvOptions {
  /** File name prefix, `''` (telemetry.csv) or `'PdM_'` (PdM_telemetry.csv). @default '' */
  prefix?: '' | 'PdM_';
  /** Stop writing when aborted (Ctrl-C); files are still completed and closed. */
  signal?: AbortSignal;
  /** Called after each buffered flush with the records written so far. */
  onProgress?: (counts: Readonly<RecordCounts>) => void;
}

export function emptyCounts(): RecordCounts {
  return { telemetry: 0, errors: 0, maintenance: 0, machines: 0, failures: 0 };
}

/** @default 64 KiB of text per write: few syscalls, bounded memory. */
const FLUSH_CHARS = 1 << 16;

/** One CSV line, no newline. Uses the same formats the reader accepts so that a round trip is exact. */
export function csvLine(e: PdmEvent): string {
  switch (e.kind) {
    case 'telemetry': {
      const r = e.record;
      return `${formatCsvDate(r.ts)},${r.machineId},${formatNumber(r.volt)},${formatNumber(r.rotate)},${formatNumber(r.pressure)},${formatNumber(r.vibration)}`;
    }
    case 'errors':
      return `${formatCsvDate(e.record.ts)},${e.record.machineId},${e.record.errorId}`;
    case 'maintenance':
      return `${formatCsvDate(e.record.ts)},${e.record.machineId},${e.record.comp}`;
    case 'failures':
      return `${formatCsvDate(e.record.ts)},${e.record.machineId},${e.record.failure}`;
    case 'machines':
      return `${e.record.machineId},${e.record.model},${e.record.age}`;
  }
}

async function writeText(stream: WriteStream, text: string): Promise<void> {
  // A failed file (permissions, disk full) never drains: surface its error instead of waiting forever.
  if (stream.errored) throw stream.errored;
  // Respect backpressure: a fleet of a million rows must not end up buffered in memory (`once` rejects
  // when 'error' comes while waiting).
  if (!stream.write(text)) await once(stream, 'drain');
}

/**
 * Writes events as the five reference CSV files in `dir` (created if missing, files overwritten), each row
 * in the order received: give it events in time order and the files come out time-ordered, which
 * {@link readReferenceCsv} then streams without sorting. Returns the rows written per kind.
 */
export async function writeReferenceCsv(
  dir: string,
  events: AsyncIterable<PdmEvent> | Iterable<PdmEvent>,
  options: WriteReferenceCsvOptions = {},
): Promise<RecordCounts> {
  await mkdir(dir, { recursive: true });
  const prefix = options.prefix ?? '';
  let failure: unknown = undefined;
  const streams = {} as Record<RecordKind, WriteStream>;
  const buffers = {} as Record<RecordKind, string>;
  for (const kind of RECORD_KINDS) {
    const s = createWriteStream(join(dir, `${prefix}${CSV_FILE_NAMES[kind]}`));
    // Without a listener an open/write error would crash the process; it is rethrown after closing.
    s.on('error', (err) => {
      failure ??= err;
    });
    streams[kind] = s;
    buffers[kind] = `${CSV_HEADERS[kind].join(',')}\n`;
  }
  const counts = emptyCounts();
  try {
    for await (const e of events) {
      if (options.signal?.aborted === true) break;
      buffers[e.kind] += `${csvLine(e)}\n`;
      counts[e.kind]++;
      if (buffers[e.kind].length >= FLUSH_CHARS) {
        await writeText(streams[e.kind], buffers[e.kind]);
        buffers[e.kind] = '';
        options.onProgress?.(counts);
      }
    }
    for (const kind of RECORD_KINDS) {
      if (buffers[kind] !== '') await writeText(streams[kind], buffers[kind]);
      buffers[kind] = '';
    }
  } catch (err) {
    failure = err;
  }
  // Close every file even after a failure; the first failure wins, and a close error surfaces otherwise.
  await Promise.all(
    RECORD_KINDS.map(async (kind) => {
      const s = streams[kind];
      s.end();
      try {
        await finished(s);
      } catch (err) {
        failure ??= err;
      }
    }),
  );
  if (failure !== undefined) {
    throw failure instanceof Error
      ? failure
      : new PdmError(errorMessage(failure), { code: 'CSV_WRITE', stage: 'simulate', cause: failure });
  }
  options.onProgress?.(counts);
  return counts;
}
