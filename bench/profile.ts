/**
 * CPU and allocation profiles of one phase of a bench (the main thread, through the inspector), and their
 * top frames.
 *
 *   npx tsx bench/profile.ts FILE.cpuprofile [--top 25]    prints the top frames by self time as JSON
 *   npx tsx bench/profile.ts FILE.heapprofile [--top 25]   prints the top frames by bytes allocated as JSON
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

/**
 * Samples every allocation of the phase, also those the GC has collected by the end: the garbage that
 * drives scavenges is what this is for. One sample per 16 KiB allocated on average.
 */
export async function startHeapProfile(): Promise<PhaseProfile> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(file) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
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

interface HeapProfileNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapProfileNode[];
}

/** `name file:line`, the file relative to node_modules, src or bench. */
function frameKey(f: ProfileNode['callFrame']): string {
  const where = f.url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1');
  return `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
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
    const key = frameKey(f);
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

/** Bytes allocated per function (name, file, line) over the sampled phase, largest first. */
export function topAllocations(profile: { head: HeapProfileNode }, top: number) {
  const bytes = new Map<string, number>();
  let total = 0;
  const pending = [profile.head];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.selfSize > 0) {
      const key = frameKey(node.callFrame);
      bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    pending.push(...node.children);
  }
  return {
    allocatedMegabytes: Number((total / 1e6).toFixed(1)),
    frames: [...bytes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, n]) => ({
        frame,
        megabytes: Number((n / 1e6).toFixed(1)),
        share: Number((n / total).toFixed(3)),
      })),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    throw new Error('usage: bench/profile.ts FILE.cpuprofile|FILE.heapprofile [--top N]');
  }
  const profile: unknown = JSON.parse(await readFile(file, 'utf8'));
  const top = numberArg('top', 25);
  console.log(
    JSON.stringify(
      file.endsWith('.heapprofile')
        ? topAllocations(profile as { head: HeapProfileNode }, top)
        : topFrames(profile as CpuProfile, top),
      null,
      2,
    ),
  );
}
