import { readFileSync } from 'node:fs';

/** Engine version from package.json, written into predictions and dead letters. */
export const ENGINE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
