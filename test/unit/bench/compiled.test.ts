/** `--compiled` (bench/compiled.ts): the compiled bench gets this process's Node flags, not tsx's loader. */
import { describe, expect, it } from 'vitest';
import { withoutTsx } from '../../../bench/compiled.js';

describe('withoutTsx', () => {
  it("drops tsx's loader in each spelling and the inspector, and keeps every other flag in order", () => {
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
        'file:///x/node_modules/tsx/dist/loader.mjs',
        '--experimental-loader',
        'tsx',
        '--inspect=9229',
        '--import',
        './preload.mjs',
        '--import',
        './my-tsx-helpers.mjs',
      ]),
    ).toEqual([
      '--expose-gc',
      '--max-semi-space-size=32',
      '--import',
      './preload.mjs',
      '--import',
      './my-tsx-helpers.mjs',
    ]);
  });
});
