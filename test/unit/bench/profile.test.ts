import { describe, expect, it } from 'vitest';
import { topAllocations, topFrames } from '../../../bench/profile.js';

const frame = (functionName: string, file: string, lineNumber: number) => ({
  functionName,
  url: file === '' ? '' : `file:///work/repo/${file}`,
  lineNumber,
});

describe('bench profile summaries', () => {
  it('CPU: self time per frame, idle counted in the total but not as busy', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', '', 0), children: [2, 3] },
        { id: 2, callFrame: frame('decode', 'src/decode/avro.ts', 9) },
        { id: 3, callFrame: frame('(idle)', '', 0) },
      ],
      samples: [2, 2, 3, 2],
      timeDeltas: [100_000, 200_000, 400_000, 300_000],
    };
    expect(topFrames(profile, 5)).toEqual({
      sampledSeconds: 1,
      busySeconds: 0.6,
      frames: [
        { frame: 'decode src/decode/avro.ts:10', selfMs: 600, share: 0.6 },
        { frame: '(idle) :1', selfMs: 400, share: 0.4 },
      ],
    });
  });

  it('allocations: bytes per frame summed over every call path, largest first, cut at top', () => {
    const read = frame('read', 'node_modules/avsc/lib/types.js', 99);
    const profile = {
      head: {
        callFrame: frame('(root)', '', 0),
        selfSize: 0,
        children: [
          {
            callFrame: frame('onBatch', 'src/pipeline/engine.ts', 10),
            selfSize: 1_000_000,
            children: [{ callFrame: read, selfSize: 2_000_000, children: [] }],
          },
          {
            callFrame: frame('restore', 'src/pipeline/restore.ts', 4),
            selfSize: 500_000,
            children: [{ callFrame: read, selfSize: 1_500_000, children: [] }],
          },
        ],
      },
    };
    const top = topAllocations(profile, 2);
    expect(top.allocatedMegabytes).toBe(5);
    expect(top.frames).toEqual([
      { frame: 'read node_modules/avsc/lib/types.js:100', megabytes: 3.5, share: 0.7 },
      { frame: 'onBatch src/pipeline/engine.ts:11', megabytes: 1, share: 0.2 },
    ]);
  });
});
