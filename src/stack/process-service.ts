/**
 * The lifecycle shared by every local service: a detached process owned through a pid file, guarded ports,
 * a readiness probe. Each service module supplies how to prepare and launch it and how to tell it is ready.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PdmError } from '../shared/errors.js';
import { isListening, waitUntil, whoListens } from './probe.js';
import { ownedPid, processState, spawnDetached, stopOwned, tailFile, type OwnedProcess } from './process.js';
import type {
  LocalService,
  ServiceName,
  ServiceStatus,
  StackLog,
  StartOutcome,
  StopOutcome,
} from './service.js';

export interface GuardedPort {
  readonly port: number;
  /** What the port is for, e.g. "PLAINTEXT listener". */
  readonly label: string;
  /** The setting that moves it, for the error message. */
  readonly setting: string;
}

export interface LaunchCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ProcessServiceSpec extends OwnedProcess {
  readonly name: ServiceName;
  readonly host: string;
  readonly address: string;
  readonly ports: readonly GuardedPort[];
  /** Where the process's stdout/stderr go. */
  readonly stdoutLog: string;
  /** Logs whose tail explains a failed start (stdout first). */
  readonly diagnosticLogs: readonly string[];
  readonly log: StackLog;
  /** Bound on the wait for readiness. @default 120_000 */
  readonly readyTimeoutMs?: number;
  /** Bound between SIGTERM and SIGKILL. @default 20_000 */
  readonly stopGraceMs?: number;
  describe(): Promise<string>;
  /** Resolves binaries, writes config files, formats storage; returns what to run. */
  prepare(): Promise<LaunchCommand>;
  ready(): Promise<boolean>;
  /** Facts shown in `status` next to the address (other ports…). */
  readonly detail?: string;
}

export function createProcessService(spec: ProcessServiceSpec): LocalService {
  const readyTimeoutMs = spec.readyTimeoutMs ?? 120_000;
  const stopGraceMs = spec.stopGraceMs ?? 20_000;

  function logTails(): string {
    return spec.diagnosticLogs.map((f) => `--- ${f} (last lines)\n${tailFile(f, 25)}`).join('\n');
  }

  async function takenPorts(): Promise<GuardedPort[]> {
    const taken: GuardedPort[] = [];
    for (const p of spec.ports) if (await isListening(spec.host, p.port)) taken.push(p);
    return taken;
  }

  /**
   * After our process is gone the kernel has closed its listeners; a port still answering belongs to someone
   * else, which the next `start()` reports precisely — so this only waits, bounded, and warns.
   */
  async function waitPortsFree(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const taken = await takenPorts();
      if (taken.length === 0) return;
      if (Date.now() >= deadline) {
        spec.log.warn(
          `${spec.name}: stopped, but port ${taken.map((p) => p.port).join(', ')} still accepts connections`,
        );
        return;
      }
      await sleep(100);
    }
  }

  async function waitReady(pid: number): Promise<'ready' | 'timeout' | 'exited'> {
    return waitUntil(() => spec.ready(), {
      timeoutMs: readyTimeoutMs,
      intervalMs: 250,
      // Only a gone (or replaced) process has exited: mid-exec the command line is briefly empty.
      stillAlive: () => {
        const state = processState(pid, spec.markers);
        return state === 'ours' || state === 'in-transition';
      },
    });
  }

  return {
    name: spec.name,
    address: () => spec.address,

    async start(): Promise<StartOutcome> {
      const running = await ownedPid(spec);
      if (running !== undefined) {
        // Ours and alive: healthy already, or still starting (another `up` launched it a moment ago).
        const outcome = await waitReady(running);
        if (outcome === 'ready') return 'already-running';
        throw new PdmError(
          `${spec.name}: our process ${running} is running but does not answer at ${spec.address} after ${readyTimeoutMs} ms; ` +
            `run \`stack down\` and retry.\n${logTails()}`,
          { code: 'STACK_SERVICE_UNHEALTHY', stage: 'stack' },
        );
      }
      const taken = await takenPorts();
      if (taken.length > 0) {
        const lines = taken.map((p) => {
          const who = whoListens(p.port);
          return `port ${p.port} (${p.label}) on ${spec.host} is in use by ${who ?? 'another program'}`;
        });
        throw new PdmError(
          `${spec.name}: ${lines.join('; ')} — not a process this stack started. Stop it, or move the stack with ` +
            `${taken.map((p) => p.setting).join(' / ')}; to use already running services instead, set ` +
            'KAFKA_BROKERS, SCHEMA_REGISTRY_URL and CLICKHOUSE_URL.',
          { code: 'STACK_PORT_TAKEN', stage: 'stack' },
        );
      }
      const launch = await spec.prepare();
      const pid = spawnDetached({
        ...launch,
        pidFile: spec.pidFile,
        markers: spec.markers,
        logFile: spec.stdoutLog,
      });
      spec.log.info(`${spec.name}: started (pid ${pid}), waiting for ${spec.address}`);
      const outcome = await waitReady(pid);
      if (outcome === 'ready') return 'started';
      const why =
        outcome === 'exited' ? 'exited during startup' : `did not answer within ${readyTimeoutMs} ms`;
      // A half-started process would hold the ports and confuse the next `up`.
      await stopOwned(spec, stopGraceMs);
      throw new PdmError(`${spec.name}: ${why} at ${spec.address}.\n${logTails()}`, {
        code: 'STACK_START_FAILED',
        stage: 'stack',
      });
    },

    async stop(): Promise<StopOutcome> {
      const outcome = await stopOwned(spec, stopGraceMs);
      if (outcome !== 'not-running') await waitPortsFree();
      return outcome;
    },

    async status(): Promise<ServiceStatus> {
      const base = {
        name: spec.name,
        address: spec.address,
        description: await spec.describe(),
        logFile: spec.diagnosticLogs[0] ?? spec.stdoutLog,
        ...(spec.detail === undefined ? {} : { detail: spec.detail }),
      };
      const pid = await ownedPid(spec);
      if (pid !== undefined) {
        const healthy = await spec.ready();
        return healthy
          ? { ...base, state: 'running', pid }
          : { ...base, state: 'unhealthy', pid, detail: `process ${pid} does not answer at ${spec.address}` };
      }
      const taken = await takenPorts();
      if (taken.length > 0) {
        const who = taken.map((p) => `${p.port} (${whoListens(p.port) ?? 'unknown program'})`).join(', ');
        return {
          ...base,
          state: 'port-taken',
          detail: `port in use by a program this stack did not start: ${who}`,
        };
      }
      return { ...base, state: 'stopped' };
    },
  };
}
