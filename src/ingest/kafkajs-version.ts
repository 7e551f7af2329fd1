import type { createRequire } from 'node:module';

/** The kafkajs version the fast paths of this folder (kafkajs-*.ts) were written against. */
const KAFKAJS_VERSION = '2.2.4';

/** Whether the installed kafkajs is that version: only then is a fast path installed. */
export function isKnownKafkajs(require: ReturnType<typeof createRequire>): boolean {
  try {
    return (require('kafkajs/package.json') as { version?: string }).version === KAFKAJS_VERSION;
  } catch {
    // No readable kafkajs package.json: leave kafkajs as it is.
    return false;
  }
}

/**
 * Replaces the exports of kafkajs's module `path` (resolved from `require`) with `replace(its exports)`,
 * marked with `marker`, for the kafkajs module `takenBy` that takes them when it loads. True when the
 * replacement is in place (now or from an earlier call); false, changing nothing, when `takenBy` is
 * already loaded (kafkajs was imported first and keeps its own), when `replace` gives undefined (not the
 * expected layout) or when anything fails. The caller checks kafkajs's version.
 */
export function replaceKafkajsModule(
  require: ReturnType<typeof createRequire>,
  paths: { readonly path: string; readonly takenBy: string },
  marker: symbol,
  replace: (original: unknown) => object | undefined,
): boolean {
  try {
    const path = require.resolve(paths.path);
    const loaded = require.cache[path]?.exports as Record<symbol, unknown> | undefined;
    if (loaded?.[marker] === true) return true;
    if (require.cache[require.resolve(paths.takenBy)] !== undefined) return false;
    const original: unknown = require(path);
    const module = require.cache[path];
    const replacement = replace(original);
    if (module === undefined || replacement === undefined) return false;
    module.exports = Object.assign(replacement, { [marker]: true });
    return true;
  } catch {
    return false;
  }
}
