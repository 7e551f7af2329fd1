/** The engine bench's pace between 10 % and 90 % of a backlog taken (bench/engine.ts, `backlog.steady`). */
import { describe, expect, it } from 'vitest';
import { steadyPace } from '../../../bench/fleet.js';

describe('steadyPace', () => {
  it('is the records per second between the first samples at or past 10 % and 90 % of the total', () => {
    const samples = [
      { seconds: 0.5, records: 0 },
      { seconds: 1.0, records: 50 },
      // First at or past 10 % of 1,000.
      { seconds: 1.5, records: 120 },
      { seconds: 2.0, records: 500 },
      // First at or past 90 %.
      { seconds: 2.5, records: 920 },
      { seconds: 3.0, records: 1000 },
    ];
    expect(steadyPace(samples, 1000)).toEqual({ eventsPerSecond: 800, fromSeconds: 1.5, toSeconds: 2.5 });
  });

  it('is undefined when the samples never reach 90 %, or reach both in one sample', () => {
    expect(steadyPace([{ seconds: 1, records: 200 }], 1000)).toBeUndefined();
    expect(
      steadyPace(
        [
          { seconds: 1, records: 0 },
          { seconds: 2, records: 1000 },
        ],
        1000,
      ),
    ).toBeUndefined();
  });
});
