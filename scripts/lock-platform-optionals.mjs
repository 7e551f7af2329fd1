// The package registry reachable from the project's machines serves only some platform builds of
// rollup (used by vitest). `npm install` then leaves the other platforms' optional packages out of
// package-lock.json, and `npm ci` refuses the lock as out of sync. This adds the missing entries as
// optional, platform-restricted packages, which `npm ci` skips on a non-matching platform without
// fetching them. Run it after every `npm install` that rewrites the lock: node scripts/lock-platform-optionals.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const OS = {
  android: 'android',
  darwin: 'darwin',
  freebsd: 'freebsd',
  linux: 'linux',
  openbsd: 'openbsd',
  openharmony: 'openharmony',
  win32: 'win32',
};
const CPU = {
  'arm-eabi': 'arm',
  arm64: 'arm64',
  x64: 'x64',
  arm: 'arm',
  loong64: 'loong64',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  s390x: 's390x',
  ia32: 'ia32',
};
let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  if (!key.endsWith('node_modules/rollup') || pkg.optionalDependencies === undefined) continue;
  for (const [name, version] of Object.entries(pkg.optionalDependencies)) {
    const entry = `node_modules/${name}`;
    if (lock.packages[entry] !== undefined) continue;
    const m = /^@rollup\/rollup-([a-z0-9]+)-([a-z0-9]+(?:-eabi)?)/.exec(name);
    const os = m && OS[m[1]];
    const cpu = m && CPU[m[2]];
    if (!os || !cpu) throw new Error(`cannot tell the platform of ${name}`);
    lock.packages[entry] = { version, cpu: [cpu], license: 'MIT', optional: true, os: [os] };
    if (/-musl/.test(name)) lock.packages[entry].libc = ['musl'];
    else if (/-gnu/.test(name)) lock.packages[entry].libc = ['glibc'];
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} platform-restricted optional entries`);
