/** Instants typed by people (CLI options): ISO-8601, and without a zone UTC, never the local zone. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * `2026-11-30`, `2026-11-30T10:00`, `2026-11-30 10:00:00.250`, `…Z` or `…+02:00` as epoch ms; undefined
 * for anything else (the caller says what it accepts besides).
 */
export function parseIsoInstant(text: string): number | undefined {
  const m = ISO_INSTANT.exec(text);
  if (m === null) return undefined;
  const zone = m[2] !== undefined ? '' : m[1] !== undefined ? 'Z' : 'T00:00:00Z';
  const ms = Date.parse(text.replace(' ', 'T') + zone);
  return Number.isFinite(ms) ? ms : undefined;
}
