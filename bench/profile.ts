/**
 * CPU profiles of one phase of a bench (the main thread, through the inspector), and their top frames.
 *
 *   npx tsx bench/profile.ts FILE.cpuprofile [--top 25]   prints the top frames by self time as JSON
 */
import { writeFile, readFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { numberArg } from './args.js';

export interface PhaseProfile {
  /** Stops profiling and writes the profile (Chrome DevTools / `node --cpu-prof` format). */
  stop(file: string): Promise<void>;
}

export async function startProfile(): Promise<PhaseProfile> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name, file, line), largest first, with its share of all samples. */
export function topFrames(profile: CpuProfile, top: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const f = byId.get(id)?.callFrame;
    if (f === undefined) return;
    const where = f.url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  });
  const idle = [...selfUs].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
  return {
    sampledSeconds: Number((totalUs / 1e6).toFixed(2)),
    busySeconds: Number(((totalUs - idle) / 1e6).toFixed(2)),
    frames: [...selfUs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, us]) => ({
        frame,
        selfMs: Math.round(us / 1000),
        share: Number((us / totalUs).toFixed(3)),
      })),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: bench/profile.ts FILE.cpuprofile [--top N]');
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  console.log(JSON.stringify(topFrames(profile, numberArg('top', 25)), null, 2));
}
