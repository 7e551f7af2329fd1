import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFeatureCsvWriter, featureFileMeta } from '../../../src/features/feature-csv.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pdm-feature-csv-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('feature CSV writer', () => {
  // A build that fails at once abandons the writer while its header write is still in flight: destroying
  // the stream then emits ERR_STREAM_DESTROYED. That must neither leave the temporary file behind nor
  // replace the build's own error (a flaky CI failure of cli-build.test.ts before this was fixed).
  it('close() with the header write in flight removes the temporary file and does not throw', async () => {
    for (let i = 0; i < 20; i++) {
      const writer = await createFeatureCsvWriter(join(dir, `abandoned-${i}.csv`), { labels: false });
      await new Promise((resolve) => setImmediate(resolve));
      await expect(writer.close()).resolves.toBeUndefined();
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('close() after finish keeps the finished file', async () => {
    const path = join(dir, 'done.csv');
    const writer = await createFeatureCsvWriter(path, { labels: false });
    await writer.write([]);
    await writer.finish(
      featureFileMeta({
        bucketMs: 43_200_000,
        allowedLatenessMs: 0,
        labels: false,
        rows: 0,
        firstBucketTs: null,
        lastBucketTs: null,
        source: { kind: 'test' },
      }),
    );
    await writer.close();
    expect((await readdir(dir)).sort()).toEqual(['done.csv', 'done.csv.meta.json']);
  });
});
