/**
 * Where src/ talks to ClickHouse, found two ways so that a test can tell whether it ran all of them:
 * statically (every `ch.query` / `ch.exec` / `ch.insert` call in src/, whatever the receiver's path:
 * `ch`, `o.ch`, `options.ch`, `deps.ch`), and at run time (the caller of a {@link ClickHouseConnection}
 * method, from the stack). Both name a site `src/<file>.ts:<line>`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseConnection } from '../../src/sink/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CALL = /\bch\s*\.\s*(query|exec|insert)\s*[<(]/;
/** The connection itself (transport, not SQL) and the local stack's health probe. */
const NOT_SITES = ['src/sink/clickhouse.ts', 'src/stack/'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every call site of a ClickHouseConnection method in src/, as `src/<file>.ts:<line>`. */
export function staticSites(): string[] {
  const sites: string[] = [];
  for (const file of tsFiles(join(ROOT, 'src'))) {
    const rel = relative(ROOT, file);
    if (NOT_SITES.some((p) => rel.startsWith(p))) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (CALL.test(line) && !/^\s*(\*|\/\/)/.test(line)) sites.push(`${rel}:${i + 1}`);
      });
  }
  return sites.sort();
}

/** The first src/ frame of `stack` outside the connection itself, as `src/<file>.ts:<line>`. */
export function callerSite(stack: string | undefined): string | undefined {
  for (const line of (stack ?? '').split('\n')) {
    const m = /(?:file:\/\/)?(\/[^\s():]+\.ts):(\d+):\d+/.exec(line);
    if (m?.[1] === undefined) continue;
    const rel = relative(ROOT, m[1]);
    if (!rel.startsWith('src/') || NOT_SITES.some((p) => rel.startsWith(p))) continue;
    return `${rel}:${m[2]}`;
  }
  return undefined;
}

/** `inner`, noting the src/ call site of every query, exec and insert into `sites`. */
export function recordingSites(inner: ClickHouseConnection, sites: Set<string>): ClickHouseConnection {
  const note = () => {
    const site = callerSite(new Error('site').stack);
    if (site !== undefined) sites.add(site);
  };
  return {
    capabilities: () => inner.capabilities(),
    exec: (sql) => {
      note();
      return inner.exec(sql);
    },
    query: (sql, params) => {
      note();
      return inner.query(sql, params);
    },
    insert: (table, rows) => {
      note();
      return inner.insert(table, rows);
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}
