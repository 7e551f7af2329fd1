import { groupDigits } from '../shared/progress.js';
import { RECORD_KINDS, type RecordKind } from '../shared/records.js';
import type { ImportSummary, RunSummary } from './run.js';

/**
 * The final report of simulate / import-csv, one line per topic (or file) with its record count, then the
 * total, throughput and, for an import, the rejected rows per file. Printed on stdout.
 */
export function formatSummary(
  title: string,
  summary: RunSummary | ImportSummary,
  destinations: { readonly [K in RecordKind]: string },
): string {
  const lines: string[] = [];
  const how = summary.interrupted
    ? 'interrupted (Ctrl-C); everything below was sent and acknowledged'
    : 'done';
  lines.push(`${title}: ${how} in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
  const width = Math.max(...RECORD_KINDS.map((k) => destinations[k].length), 5);
  for (const kind of RECORD_KINDS) {
    lines.push(`  ${destinations[kind].padEnd(width)}  ${groupDigits(summary.counts[kind]).padStart(12)}`);
  }
  lines.push(
    `  ${'total'.padEnd(width)}  ${groupDigits(summary.total).padStart(12)}  (${groupDigits(summary.recordsPerSecond)} records/s)`,
  );
  if (summary.lastTs !== undefined)
    lines.push(`  event time reached ${new Date(summary.lastTs).toISOString()}`);
  if ('rejected' in summary) {
    lines.push(`  rejected rows: ${groupDigits(summary.rejected)}`);
    for (const [file, n] of Object.entries(summary.rejectedByFile))
      lines.push(`    ${file}: ${groupDigits(n)}`);
  }
  return lines.join('\n');
}

/** The summary as one JSON object (`--json`), for scripts and tests. */
export function summaryJson(
  summary: RunSummary | ImportSummary,
  destinations: { readonly [K in RecordKind]: string },
): string {
  return JSON.stringify({
    ...summary,
    elapsedMs: Math.round(summary.elapsedMs),
    recordsPerSecond: Math.round(summary.recordsPerSecond),
    destinations,
  });
}
