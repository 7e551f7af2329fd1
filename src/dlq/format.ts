/** Text that the `dlq` commands print: fixed-width tables for people, one JSON object per line for tools. */
import { decodedJson, type PayloadInspection } from './inspect.js';
import type { DepthRow, ResolutionRow, StoredDeadLetter, TopRow } from './store.js';

export function formatDepth(
  rows: readonly DepthRow[],
  total: number,
  sinceLabel: string | undefined,
): string[] {
  const lines = [
    `unresolved dead letters${sinceLabel === undefined ? '' : ` dead-lettered in the last ${sinceLabel}`}: ${total}`,
  ];
  if (rows.length > 0) {
    lines.push(`  ${'reason'.padEnd(20)} ${'topic'.padEnd(28)} ${'depth'.padStart(9)}  oldest`);
    for (const r of rows) {
      lines.push(
        `  ${r.reason.padEnd(20)} ${r.topic.padEnd(28)} ${String(r.depth).padStart(9)}  ${r.oldestAt}`,
      );
    }
  }
  return lines;
}

export function formatTop(rows: readonly TopRow[]): string[] {
  if (rows.length === 0) return ['no dead letters match'];
  const lines = [
    `${'count'.padStart(9)}  ${'reason'.padEnd(20)} ${'topic'.padEnd(28)} ${'schema'.padStart(7)}  last dead-lettered    example error`,
  ];
  for (const r of rows) {
    lines.push(
      `${String(r.count).padStart(9)}  ${r.reason.padEnd(20)} ${r.topic.padEnd(28)} ${(r.schemaId < 0 ? '-' : String(r.schemaId)).padStart(7)}  ${r.lastAt.slice(0, 19)}  ${oneLine(r.example, 100)}`,
    );
  }
  return lines;
}

export function formatShown(
  row: StoredDeadLetter,
  inspection: PayloadInspection,
  resolution: ResolutionRow | undefined,
): string[] {
  const id = `${row.topic}:${row.partition}:${row.offset}`;
  const lines = [
    `${id}  ${row.reason} (${row.stage})  dead-lettered ${row.deadLetteredAt}  Kafka timestamp ${formatTimestamp(row.messageTsMs)}`,
    `  key ${row.key === null ? '(none)' : JSON.stringify(row.key)}  machine ${row.machineId < 0 ? '-' : row.machineId}  schema id ${row.schemaId < 0 ? '-' : row.schemaId}  ${row.payloadBytes} bytes  replay count ${row.replayCount}${row.replayedFrom === '' ? '' : ` (replayed from ${row.replayedFrom})`}`,
    `  error: ${oneLine(row.errorMessage, 300)}`,
  ];
  const head = `  payload: frame ${inspection.frame}${inspection.schemaId === undefined ? '' : `, schema id ${inspection.schemaId}`}${inspection.schemaName === undefined ? '' : ` (${inspection.schemaName})`}`;
  if (inspection.decoded !== undefined)
    lines.push(`${head}: ${oneLine(decodedJson(inspection.decoded), 500)}`);
  else
    lines.push(`${head}; ${inspection.problem ?? 'not decoded'}; first bytes ${inspection.headHex || '-'}`);
  if (resolution !== undefined) {
    lines.push(
      resolution.action === 'replayed'
        ? `  resolved: replayed (count ${resolution.replayCount}) to ${row.topic}:${resolution.replayedToPartition}:${resolution.replayedToOffset}${resolution.note === '' ? '' : `: ${resolution.note}`}`
        : `  resolved: dismissed: ${resolution.note}`,
    );
  }
  return lines;
}

function formatTimestamp(ms: number): string {
  return Number.isFinite(ms) && ms >= -8.64e15 && ms <= 8.64e15
    ? `${new Date(ms).toISOString()} (${ms})`
    : String(ms);
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
