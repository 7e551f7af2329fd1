/**
 * Reader of the five reference-format CSV files (public predictive-maintenance data set, or our own
 * `simulate --out-csv`). Used by `import-csv` and by the batch feature builder.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, PdmError } from '../shared/errors.js';
import type { PdmEvent, RecordKind } from '../shared/records.js';
import { COMPONENTS, ERROR_IDS } from '../features/index.js';
import {
  CSV_FILE_NAMES,
  CSV_HEADERS,
  TIMED_KINDS,
  parseCsvDate,
  splitCsvLine,
  type TimedKind,
} from './csv-format.js';
import { readLineBatches } from './csv-lines.js';
import { isHeader, parseCsvRow } from './csv-rows.js';
import { createSortedStore } from './csv-sorted-store.js';

/** A row that was not imported, and why. */
export interface CsvRejection {
  /** Path of the file as found in the directory (with or without the `PdM_` prefix). */
  file: string;
  /** 1-based line number in that file (the header is line 1). */
  line: number;
  reason: string;
  /** The raw line. */
  text: string;
}

export interface CsvProgress {
  /** Records yielded so far. */
  rows: number;
  /** Bytes of the five files consumed so far (a file that must be sorted is consumed before its first row). */
  bytes: number;
  totalBytes: number;
}

export interface ReadReferenceCsvOptions {
  /**
   * Called for every rejected row. Without it the first bad row throws a {@link PdmError} with code
   * `CSV_BAD_ROW`, so that nothing is ever dropped silently.
   */
  onReject?: (r: CsvRejection) => void;
  /** Called after each read chunk (~1 MiB) and once at the end. */
  onProgress?: (p: CsvProgress) => void;
}

/** The files found for one directory; `failures` is optional (then no failure records are read). */
export type ReferenceCsvFiles = {
  readonly [K in RecordKind]: { readonly path: string; readonly bytes: number } | null;
};

const CODES: { readonly [K in TimedKind]: readonly string[] } = {
  telemetry: [],
  errors: ERROR_IDS,
  maintenance: COMPONENTS,
  failures: COMPONENTS,
};

async function sizeOf(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Finds `<name>.csv` or `PdM_<name>.csv` for each kind. Every file but failures.csv is required; having both
 * spellings of one file is refused because it would be ambiguous which one to import.
 */
export async function findReferenceCsvFiles(dir: string): Promise<ReferenceCsvFiles> {
  const found: Partial<Record<RecordKind, { path: string; bytes: number } | null>> = {};
  for (const kind of Object.keys(CSV_FILE_NAMES) as RecordKind[]) {
    const name = CSV_FILE_NAMES[kind];
    const plain = join(dir, name);
    const prefixed = join(dir, `PdM_${name}`);
    const [a, b] = await Promise.all([sizeOf(plain), sizeOf(prefixed)]);
    if (a !== null && b !== null) {
      throw new ConfigError(`both ${plain} and ${prefixed} exist; keep one`, {
        code: 'CSV_AMBIGUOUS',
        stage: 'simulate',
      });
    }
    if (a === null && b === null) {
      if (kind === 'failures') {
        found[kind] = null;
        continue;
      }
      throw new ConfigError(`${plain} (or PdM_${name}) not found`, {
        code: 'CSV_MISSING',
        stage: 'simulate',
      });
    }
    found[kind] = a !== null ? { path: plain, bytes: a } : { path: prefixed, bytes: b ?? 0 };
  }
  return found as ReferenceCsvFiles;
}

interface ReadContext {
  readonly options: ReadReferenceCsvOptions;
  readonly totalBytes: number;
  /** Bytes consumed per file path, summed for progress. */
  readonly bytesByFile: Map<string, number>;
  rows: number;
}

function reportProgress(ctx: ReadContext): void {
  if (!ctx.options.onProgress) return;
  let bytes = 0;
  for (const b of ctx.bytesByFile.values()) bytes += b;
  ctx.options.onProgress({ rows: ctx.rows, bytes, totalBytes: ctx.totalBytes });
}

function reject(ctx: ReadContext, r: CsvRejection): void {
  if (ctx.options.onReject) {
    ctx.options.onReject(r);
    return;
  }
  throw new PdmError(`${r.file}:${r.line}: ${r.reason}`, { code: 'CSV_BAD_ROW', stage: 'simulate' });
}

/** Parsed events of one file, one array per read chunk; bad rows go to `reject`. */
async function* parsedBatches(ctx: ReadContext, kind: RecordKind, path: string): AsyncGenerator<PdmEvent[]> {
  let headerSeen = false;
  for await (const batch of readLineBatches(path)) {
    const out: PdmEvent[] = [];
    for (let i = 0; i < batch.lines.length; i++) {
      const text = batch.lines[i] ?? '';
      // Blank lines (a trailing newline, an empty last line) carry no record and are not rejections.
      if (text.trim() === '') continue;
      const fields = splitCsvLine(text);
      const line = batch.firstLine + i;
      if (!headerSeen) {
        if (!isHeader(kind, fields)) {
          throw new ConfigError(
            `${path}:${line}: expected the header ${CSV_HEADERS[kind].join(',')}, got "${text}"`,
            {
              code: 'CSV_BAD_HEADER',
              stage: 'simulate',
            },
          );
        }
        headerSeen = true;
        continue;
      }
      const parsed = parseCsvRow(kind, fields);
      if (typeof parsed === 'string') reject(ctx, { file: path, line, reason: parsed, text });
      else out.push(parsed);
    }
    ctx.bytesByFile.set(path, batch.bytesRead);
    reportProgress(ctx);
    if (out.length > 0) yield out;
  }
}

/**
 * Whether the parseable timestamps of a file never decrease. Stops at the first decrease, so a machine-major
 * file (the public data set) costs one machine's rows; a time-ordered one (our --out-csv) costs one scan.
 */
async function isTimeOrdered(path: string): Promise<boolean> {
  let last = Number.NEGATIVE_INFINITY;
  for await (const batch of readLineBatches(path)) {
    for (const text of batch.lines) {
      const comma = text.indexOf(',');
      if (comma < 0) continue;
      let ts: number;
      try {
        ts = parseCsvDate(
          text
            .slice(0, comma)
            .trim()
            .replace(/^"(.*)"$/, '$1'),
        );
      } catch {
        // Header or a bad row: the parsing pass reports bad rows; only good rows must be in order.
        continue;
      }
      if (ts < last) return false;
      last = ts;
    }
  }
  return true;
}

/** Events of one timed file in non-decreasing `ts`: streamed when already ordered, else loaded and sorted. */
async function* timeOrderedBatches(
  ctx: ReadContext,
  kind: TimedKind,
  path: string,
): AsyncGenerator<readonly PdmEvent[]> {
  if (await isTimeOrdered(path)) {
    let last = Number.NEGATIVE_INFINITY;
    for await (const events of parsedBatches(ctx, kind, path)) {
      for (const e of events) {
        const ts = 'ts' in e.record ? e.record.ts : last;
        if (ts < last) {
          throw new PdmError(`${path}: rows went back in time after the order check`, {
            code: 'CSV_ORDER',
            stage: 'simulate',
          });
        }
        last = ts;
      }
      yield events;
    }
    return;
  }
  const store = createSortedStore(kind, CODES[kind]);
  for await (const events of parsedBatches(ctx, kind, path)) for (const e of events) store.add(e);
  const out: PdmEvent[] = [];
  for (const e of store.sortedEvents()) {
    out.push(e);
    if (out.length === 8192) yield out.splice(0);
  }
  if (out.length > 0) yield out;
}

interface Head {
  readonly it: AsyncIterator<readonly PdmEvent[]>;
  batch: readonly PdmEvent[];
  i: number;
}

async function advance(h: Head): Promise<boolean> {
  for (;;) {
    if (h.i < h.batch.length) return true;
    const r = await h.it.next();
    if (r.done === true) return false;
    h.batch = r.value;
    h.i = 0;
  }
}

function tsOf(e: PdmEvent): number {
  return e.kind === 'machines' ? Number.NEGATIVE_INFINITY : e.record.ts;
}

/**
 * All records of the reference CSV files in `dir`: machines first (file order), then every timed record in
 * non-decreasing `ts` across files. Equal `ts` keep the order telemetry, errors, maintenance, failures, and
 * file order within a file, so a fleet written by {@link writeReferenceCsv} reads back in its original order.
 * Files may be named `telemetry.csv` or `PdM_telemetry.csv` (etc.); `failures.csv` may be missing.
 * Bad rows are passed to `onReject` with file, line and reason; `NaN`/`Infinity` sensor values are numbers,
 * not bad rows (the feature engine records them as INVALID_VALUE).
 */
export function readReferenceCsv(
  dir: string,
  options: ReadReferenceCsvOptions = {},
): AsyncIterable<PdmEvent> {
  return {
    async *[Symbol.asyncIterator]() {
      const files = await findReferenceCsvFiles(dir);
      let totalBytes = 0;
      for (const f of Object.values(files)) totalBytes += f?.bytes ?? 0;
      const ctx: ReadContext = { options, totalBytes, bytesByFile: new Map(), rows: 0 };

      if (files.machines) {
        for await (const events of parsedBatches(ctx, 'machines', files.machines.path)) {
          for (const e of events) {
            ctx.rows++;
            yield e;
          }
        }
      }

      const heads: Head[] = [];
      const all: Head[] = [];
      try {
        for (const kind of TIMED_KINDS) {
          const f = files[kind];
          if (!f) continue;
          const h: Head = { it: timeOrderedBatches(ctx, kind, f.path), batch: [], i: 0 };
          all.push(h);
          if (await advance(h)) heads.push(h);
        }
        yield* mergeHeads(ctx, heads);
      } finally {
        // A consumer that stops early must not leave files open.
        for (const h of all) await h.it.return?.();
      }
      reportProgress(ctx);
    },
  };
}

/**
 * k-way merge over at most four sources; heads stay in TIMED_KINDS order, and only a strictly smaller ts
 * wins, which is what makes equal timestamps come out in kind order.
 */
async function* mergeHeads(ctx: ReadContext, heads: Head[]): AsyncGenerator<PdmEvent> {
  while (heads.length > 0) {
    let best = 0;
    let bestTs = tsOf((heads[0] as Head).batch[(heads[0] as Head).i] as PdmEvent);
    for (let k = 1; k < heads.length; k++) {
      const h = heads[k] as Head;
      const t = tsOf(h.batch[h.i] as PdmEvent);
      if (t < bestTs) {
        best = k;
        bestTs = t;
      }
    }
    const h = heads[best] as Head;
    const e = h.batch[h.i] as PdmEvent;
    h.i++;
    ctx.rows++;
    yield e;
    if (h.i >= h.batch.length && !(await advance(h))) heads.splice(best, 1);
  }
}
