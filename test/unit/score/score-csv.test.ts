import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  featureColumns,
  formatFloat32,
  formatScoredRows,
  parseFeatureLine,
  scoreCsvHeader,
} from '../../../src/score/index.js';

describe('featureColumns', () => {
  it('maps feature names to columns whatever their order, ignoring other columns', () => {
    const header = ['machineId', 'bucketTs', 'b', 'label', 'a'];
    expect(featureColumns(header, ['a', 'b'], 'f.csv')).toEqual([4, 2]);
  });

  it('names every missing column', () => {
    expect(() => featureColumns(['machineId', 'x'], ['a', 'b'], 'f.csv')).toThrow(
      'f.csv:1: missing columns: bucketTs, a, b',
    );
  });
});

describe('parseFeatureLine', () => {
  it('reads ids and the selected feature columns', () => {
    const row = parseFeatureLine('7,43200000,1.5,-2,0', [2, 3], [0, 1], 'f.csv', 2);
    expect(row.machineId).toBe(7);
    expect(row.bucketMs).toBe(43_200_000);
    expect(Array.from(row.values)).toEqual([1.5, -2]);
  });

  it.each([
    ['7,1,NaN', 'column 3 is not a finite number'],
    ['7,1,', 'column 3 is not a finite number'],
    ['7,1', 'column 3 is not a finite number'],
    ['x,1,2', 'machineId and bucketTs must be integers'],
  ])('refuses %j with its line number', (line, message) => {
    expect(() => parseFeatureLine(line, [2], [0, 1], 'f.csv', 12)).toThrow(`f.csv:12: ${message}`);
  });
});

describe('formatFloat32', () => {
  it('prints the shortest decimal that reads back as the same float32', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(0)).toBe('0');
    expect(formatFloat32(1)).toBe('1');
    expect(formatFloat32(Math.fround(1 / 3))).toBe('0.33333334');
  });

  it('round-trips every float32 exactly', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(Math.fround(Number(formatFloat32(x)))).toBe(x === 0 ? 0 : x);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('score CSV output', () => {
  const base = {
    machineId: 3,
    bucketMs: 86_400_000,
    predictedIndex: 1,
    predictedClass: 'comp1',
    modelVersion: 'pdm-default/1',
  } as const;

  it('has one probability column per class, the argmax, the model version, then the decision columns', () => {
    expect(scoreCsvHeader(['none', 'comp1'])).toBe(
      'machineId,bucketTs,p_none,p_comp1,predicted,modelVersion,alert,alertComponents,warmingUp\n',
    );
    const text = formatScoredRows(
      [
        {
          ...base,
          probabilities: Float32Array.from([0.25, 0.75]),
          alertMask: 0,
          alertIndex: 0,
          alertClass: 'none',
          warmingUp: false,
        },
      ],
      ['none', 'comp1'],
    );
    expect(text).toBe('3,86400000,0.25,0.75,comp1,pdm-default/1,none,,0\n');
  });

  it('writes every alerting component joined by | and the strongest one, and marks warming-up rows', () => {
    const classes = ['none', 'comp1', 'comp2', 'comp3', 'comp4'];
    const probabilities = Float32Array.from([0.1, 0.3, 0.1, 0.5, 0.0]);
    const text = formatScoredRows(
      [
        { ...base, probabilities, alertMask: 0b0101, alertIndex: 3, alertClass: 'comp3', warmingUp: false },
        { ...base, probabilities, alertMask: 0, alertIndex: 0, alertClass: 'none', warmingUp: true },
      ],
      classes,
    );
    expect(text.split('\n')).toEqual([
      '3,86400000,0.1,0.3,0.1,0.5,0,comp1,pdm-default/1,comp3,comp1|comp3,0',
      '3,86400000,0.1,0.3,0.1,0.5,0,comp1,pdm-default/1,none,,1',
      '',
    ]);
  });
});
