/**
 * Where a phase's CPU went on the whole machine: how busy its cores were and how many CPU seconds the local
 * stack's processes (Kafka, the registry, ClickHouse) used, next to the engine's own (fleet.ts
 * measurePhase). On a small machine the services share the cores with the engine; these figures say whether
 * a phase was bounded by the engine or by the machine. Linux only (/proc): elsewhere the figures are absent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { stackStatus } from '../src/stack/index.js';
import type { Config } from '../src/config/index.js';

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

interface MachineTicks {
  readonly busy: number;
  readonly total: number;
}

/** The aggregate "cpu" line of /proc/stat: busy = user+nice+system+irq+softirq+steal, idle = idle+iowait. */
export function parseProcStat(text: string): MachineTicks | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** utime + stime of /proc/PID/stat (all threads of the process), in ticks. */
export function parsePidStat(text: string): number | undefined {
  // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface MachineCpu {
  readonly cores: number;
  /** Share of all cores' time that was busy during the phase (steal included), 0–1. */
  readonly busyFraction: number;
  readonly busyCoreSeconds: number;
  /** CPU seconds of each local stack process that ran throughout the phase. */
  readonly stackCpuSeconds: Record<string, number>;
  /**
   * CPU seconds of this process's main thread (the engine's JavaScript; not its ONNX worker, libuv pool or
   * V8's helper threads). Near the phase's length: the phase was bound by one core.
   */
  readonly mainThreadCpuSeconds?: number;
  /**
   * CPU seconds of this process's busiest threads during the phase, by thread id, busiest first, the main
   * thread marked `main` (Node 20 names all its threads `node`: V8's GC helpers, the libuv pool and worker
   * threads such as the ONNX scorer's are told apart by their figures only). Threads that ended during the
   * phase are not counted.
   */
  readonly threadCpuSeconds?: Record<string, number>;
}

/** CPU ticks of each live thread of this process, by thread id, with its name. */
function threadTicks(): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ticks = parsePidStat(read(`/proc/self/task/${tid}/stat`) ?? '');
    const name = read(`/proc/self/task/${tid}/comm`)?.trim();
    if (ticks !== undefined && name !== undefined) out.set(tid, { name, ticks });
  }
  return out;
}

export interface MachinePhase {
  stop(): MachineCpu | undefined;
}

/** The pids of the running local stack's services (none for an external stack). */
export async function localStackPids(config: Config): Promise<Record<string, number>> {
  const status = await stackStatus(config);
  const pids: Record<string, number> = {};
  if (status.external) return pids;
  for (const s of status.services) if (s.pid !== undefined) pids[s.name] = s.pid;
  return pids;
}

export function measureMachine(pids: Record<string, number>): MachinePhase {
  const machine0 = parseProcStat(read('/proc/stat') ?? '');
  const mainThread = `/proc/self/task/${process.pid}/stat`;
  const main0 = parsePidStat(read(mainThread) ?? '');
  const threads0 = threadTicks();
  const pid0 = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) {
    const t = parsePidStat(read(`/proc/${pid}/stat`) ?? '');
    if (t !== undefined) pid0.set(name, t);
  }
  return {
    stop() {
      const machine1 = parseProcStat(read('/proc/stat') ?? '');
      if (machine0 === undefined || machine1 === undefined) return undefined;
      const busy = machine1.busy - machine0.busy;
      const total = machine1.total - machine0.total;
      const cores = cpus().length;
      const seconds = (ticks: number) => Number((ticks / TICKS_PER_SECOND).toFixed(2));
      const stackCpuSeconds: Record<string, number> = {};
      for (const [name, before] of pid0) {
        const after = parsePidStat(read(`/proc/${pids[name]}/stat`) ?? '');
        if (after !== undefined) stackCpuSeconds[name] = seconds(after - before);
      }
      const main1 = parsePidStat(read(mainThread) ?? '');
      const deltas = [...threadTicks()]
        .map(([tid, t]) => ({
          label: tid === String(process.pid) ? 'main' : `${t.name}/${tid}`,
          ticks: t.ticks - (threads0.get(tid)?.ticks ?? 0),
        }))
        .filter((t) => t.ticks > 0)
        .sort((a, b) => b.ticks - a.ticks)
        .slice(0, 8);
      const threadCpuSeconds: Record<string, number> = {};
      for (const t of deltas) threadCpuSeconds[t.label] = seconds(t.ticks);
      return {
        cores,
        busyFraction: total > 0 ? Number((busy / total).toFixed(3)) : 0,
        busyCoreSeconds: seconds(busy),
        stackCpuSeconds,
        ...(main0 === undefined || main1 === undefined
          ? {}
          : { mainThreadCpuSeconds: seconds(main1 - main0) }),
        ...(Object.keys(threadCpuSeconds).length === 0 ? {} : { threadCpuSeconds }),
      };
    },
  };
}
