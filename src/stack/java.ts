/**
 * Finding a Java runtime of a minimum feature release. Kafka runs on the machine's `java` (17 is enough);
 * Apicurio Registry 3 is compiled for Java 21, which Debian 12 does not package, so its `java` is looked for
 * beyond the PATH: the configured binary, then `java` on the PATH, then every JDK under /usr/lib/jvm
 * (where the Temurin packages and the machine images put theirs), newest first.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../shared/errors.js';

const run = promisify(execFile);

/** Where Debian's and Temurin's packages install JDKs. */
export const JVM_DIR = '/usr/lib/jvm';

/**
 * The feature release of `java -version`'s output: `openjdk version "25.0.3"` → 25, `"1.8.0_392"` → 8;
 * undefined when there is no version string.
 */
export function javaFeatureRelease(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(versionOutput);
  if (m?.[1] === undefined) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

/** The feature release `java` reports, or undefined when it does not run. */
export async function javaRelease(java: string): Promise<number | undefined> {
  try {
    // `java -version` writes to stderr.
    const { stdout, stderr } = await run(java, ['-version'], { timeout: 30_000 });
    return javaFeatureRelease(`${stderr}${stdout}`);
  } catch {
    // Missing or broken binary: not a candidate; the caller names every one it tried.
    return undefined;
  }
}

/** The `bin/java` of every JDK under `jvmDir` (symlinked aliases included; duplicates are harmless). */
export function jvmCandidates(jvmDir = JVM_DIR): string[] {
  if (!existsSync(jvmDir)) return [];
  return readdirSync(jvmDir)
    .map((d) => join(jvmDir, d, 'bin', 'java'))
    .filter((java) => existsSync(java));
}

export interface FindJavaOptions {
  /** Log and error prefix, e.g. `schema-registry`. */
  readonly service: string;
  readonly minRelease: number;
  /** A binary the user configured: used when given, and an error when too old. */
  readonly configured?: string;
  /** The setting that holds {@link configured}, for messages. */
  readonly setting: string;
  /** @default JVM_DIR */
  readonly jvmDir?: string;
}

/** The path of a Java runtime of at least `minRelease`, and its release; a ConfigError naming what to do. */
export async function findJava(o: FindJavaOptions): Promise<{ java: string; release: number }> {
  if (o.configured !== undefined) {
    const release = await javaRelease(o.configured);
    if (release !== undefined && release >= o.minRelease) return { java: o.configured, release };
    throw new ConfigError(
      `${o.service}: ${o.setting}=${o.configured} is ${release === undefined ? 'not a working java' : `Java ${release}`}; ` +
        `it needs Java ${o.minRelease} or newer`,
      { code: 'STACK_TOOL_MISSING', stage: 'stack' },
    );
  }
  const tried: string[] = [];
  let best: { java: string; release: number } | undefined;
  for (const java of ['java', ...jvmCandidates(o.jvmDir)]) {
    const release = await javaRelease(java);
    tried.push(`${java} (${release === undefined ? 'does not run' : `Java ${release}`})`);
    if (release === undefined || release < o.minRelease) continue;
    // PATH first: the machine's own choice wins when it is new enough; otherwise the newest JDK.
    if (java === 'java') return { java, release };
    if (best === undefined || release > best.release) best = { java, release };
  }
  if (best !== undefined) return best;
  throw new ConfigError(
    `${o.service}: needs Java ${o.minRelease} or newer and found none: ${tried.join(', ')}. Install one ` +
      `(Debian 12 has no openjdk-${o.minRelease} package: Eclipse Temurin's apt repository has ` +
      `temurin-${o.minRelease}-jre) and set ${o.setting} to its bin/java, or put it first on the PATH`,
    { code: 'STACK_TOOL_MISSING', stage: 'stack' },
  );
}
