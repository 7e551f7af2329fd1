/** `--compiled` (bench/compiled.ts): the compiled bench gets this process's Node flags, not tsx's loader. */
import { describe, expect, it } from 'vitest';
import { withoutTsx } from '../../../bench/compiled.js';

describe('withoutTsx', () => {
  it("drops tsx's loader in each spelling and keeps every other flag in order", () => {
    expect(
      withoutTsx([
        '--expose-gc',
        '--import',
        'tsx',
        '--max-semi-space-size=32',
        '--import=tsx/esm',
        '--require',
        '/x/node_modules/tsx/dist/preflight.cjs',
        '--import',
        './preload.mjs',
      ]),
    ).toEqual(['--expose-gc', '--max-semi-space-size=32', '--import', './preload.mjs']);
  });
});
