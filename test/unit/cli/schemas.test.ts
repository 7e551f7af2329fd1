/** Issue 9: the partition-count warning compares the engine's inputs (not failures, which are labels). */
import { describe, expect, it } from 'vitest';
import { partitionCountWarning } from '../../../src/cli/schemas.js';
import { topicNames } from '../../../src/shared/records.js';

const topics = topicNames('pdm.');
/** Partition counts of the five topics, all 4 unless overridden; `null` leaves a topic out (not created). */
function counts(overrides: Record<string, number | null>): Map<string, number> {
  const all: Record<string, number | null> = {
    'pdm.telemetry': 4,
    'pdm.errors': 4,
    'pdm.maintenance': 4,
    'pdm.machines': 4,
    'pdm.failures': 4,
    ...overrides,
  };
  const out = new Map<string, number>();
  for (const [topic, n] of Object.entries(all)) if (n !== null) out.set(topic, n);
  return out;
}

describe('partitionCountWarning', () => {
  it('is silent when the four engine inputs agree, whatever failures has', () => {
    expect(partitionCountWarning(counts({}), topics)).toBeUndefined();
    expect(partitionCountWarning(counts({ 'pdm.failures': 1 }), topics)).toBeUndefined();
  });

  it('warns when machines differs (it was left out before)', () => {
    const w = partitionCountWarning(counts({ 'pdm.machines': 1 }), topics);
    expect(w).toMatch(/pdm\.telemetry=4, pdm\.errors=4, pdm\.maintenance=4, pdm\.machines=1/);
    expect(w).not.toMatch(/failures/);
  });

  it('warns for any input, and for a missing input topic', () => {
    expect(partitionCountWarning(counts({ 'pdm.errors': 2 }), topics)).toMatch(/pdm\.errors=2/);
    expect(partitionCountWarning(counts({ 'pdm.maintenance': null }), topics)).toMatch(
      /pdm\.maintenance=missing/,
    );
  });
});
