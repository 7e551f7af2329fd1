import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertReachableBy } from '../../../src/stack/clickhouse.js';
import { clickhouseDir } from '../../../src/stack/paths.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A clone in `mktemp -d`: the folder is 0700. */
function privateCache(): string {
  const d = mkdtempSync(join(tmpdir(), 'pdm-paths-'));
  dirs.push(d);
  const cache = join(d, '.cache');
  mkdirSync(cache);
  return cache;
}

describe("ClickHouse's directory of the local stack", () => {
  it('is <cache>/clickhouse when the clickhouse user can reach it, or when we are not root', () => {
    const cache = privateCache();
    expect(clickhouseDir(cache, false)).toBe(join(cache, 'clickhouse'));
    chmodSync(join(cache, '..'), 0o755);
    expect(clickhouseDir(cache, true)).toBe(join(cache, 'clickhouse'));
  });

  it('moves to a stable /var/tmp folder when a parent of the cache is private (a clone in mktemp -d)', () => {
    const cache = privateCache();
    const dir = clickhouseDir(cache, true);
    expect(dir).toMatch(/^\/var\/tmp\/pdm-stream-clickhouse-[0-9a-f]{12}$/);
    expect(clickhouseDir(cache, true)).toBe(dir);
    expect(clickhouseDir(privateCache(), true)).not.toBe(dir);
  });
});

describe("the clickhouse user's way to its directories", () => {
  it('passes through parents others may enter, and names the setting that moves a blocked one', () => {
    const cache = privateCache();
    const blocked = join(cache, '..');
    const dataDir = join(cache, 'clickhouse', 'data');
    mkdirSync(dataDir, { recursive: true });
    expect(() => {
      assertReachableBy(dataDir, 'PDM_STACK_CLICKHOUSE_DATA_DIR');
    }).toThrow(
      `cannot enter ${blocked} (mode 700); allow it (chmod o+x ${blocked}) or move PDM_STACK_CLICKHOUSE_DATA_DIR`,
    );
    expect(() => {
      assertReachableBy(dataDir);
    }).toThrow(/or move PDM_CACHE_DIR$/);
    chmodSync(blocked, 0o755);
    expect(() => {
      assertReachableBy(dataDir);
    }).not.toThrow();
  });
});
