/**
 * deploy/k8s/ against real schemas (issue 11): the core kinds with kubernetes-validate in strict mode
 * (unknown fields rejected) for the newest and the oldest Kubernetes we support; KEDA's ScaledObject and
 * TriggerAuthentication and the Prometheus operator's PodMonitor against models generated from their
 * CRDs (test/support/python/k8s_crd_validate.py). Then what no schema knows: the links between the files.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { k8sVenvBin } from '../support/k8s-venv.js';

const DIR = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const CRD_CHECK = fileURLToPath(new URL('../support/python/k8s_crd_validate.py', import.meta.url));
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(DIR, f));
/** preStop `sleep` needs 1.30; kubernetes-validate's newest schemas are 1.37. */
const VERSIONS = ['1.30.0', '1.37.0'];

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { terminationGracePeriodSeconds: number; containers: Container[] };
}
interface ScaledObjectSpec {
  scaleTargetRef: { name: string };
  minReplicaCount: number;
  maxReplicaCount: number;
  triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
}
interface PodMonitorSpec {
  selector: { matchLabels: Record<string, string> };
  podMetricsEndpoints: { port: string; path: string }[];
}
/** A parsed manifest; `spec` is typed where a test reads it (the schemas above checked its shape). */
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: unknown;
  data?: Record<string, string>;
}

let bin: string;
let docs: Doc[];

function py(args: readonly string[]) {
  return spawnSync(join(bin, 'python'), args, { encoding: 'utf8', timeout: 120_000 });
}

function validateCore(files: readonly string[], version: string) {
  return spawnSync(join(bin, 'kubernetes-validate'), ['--strict', '-k', version, ...files], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

const find = (kind: string) => {
  const d = docs.find((x) => x.kind === kind);
  if (d === undefined) throw new Error(`no ${kind} in deploy/k8s`);
  return d;
};
const template = (kind: 'Deployment' | 'Job') => (find(kind).spec as { template: PodTemplate }).template;
const first = <T>(xs: readonly T[]): T => {
  const [x] = xs;
  if (x === undefined) throw new Error('empty list');
  return x;
};

beforeAll(() => {
  bin = k8sVenvBin(); // first run: creates .cache/k8s-venv from PyPI (≈ 15 s)
  const r = py([
    '-c',
    'import json,sys,yaml; print(json.dumps([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]))',
    ...FILES,
  ]);
  expect(r.status, r.stderr).toBe(0);
  docs = JSON.parse(r.stdout) as Doc[];
}, 900_000);

describe('deploy/k8s manifests (issue 11)', () => {
  it.each(VERSIONS)('core kinds pass kubernetes-validate --strict for Kubernetes %s', (version) => {
    const r = validateCore(FILES, version);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const kind of ['ConfigMap', 'Deployment', 'Job']) {
      expect(r.stdout + r.stderr).toMatch(new RegExp(`passed for resource ${kind.toLowerCase()}/`));
    }
  });

  it('the validator is not a no-op: an unknown field and a wrong type fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-k8s-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: many\n  selector: {matchLabels: {a: b}}\n' +
        '  template:\n    metadata: {labels: {a: b}}\n    spec:\n      terminationGracePeriodSecond: 45\n      containers: [{name: c, image: i}]\n',
    );
    const r = validateCore([bad], '1.37.0');
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/terminationGracePeriodSecond|replicas/);
  });

  it('KEDA and Prometheus operator resources match their CRD models (no unknown fields)', () => {
    const r = py([CRD_CHECK, ...FILES]);
    expect(r.status, r.stderr).toBe(0);
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; ok: boolean | null; errors: string[] });
    const checked = results.filter((x) => x.ok !== null);
    expect(checked.map((x) => x.kind).sort()).toEqual([
      'keda.sh/v1alpha1/ScaledObject',
      'keda.sh/v1alpha1/TriggerAuthentication',
      'monitoring.coreos.com/v1/PodMonitor',
    ]);
    expect(checked.flatMap((x) => x.errors)).toEqual([]);
    // And a typo is caught.
    const dir = mkdtempSync(join(tmpdir(), 'pdm-k8s-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      JSON.stringify({
        ...find('ScaledObject'),
        spec: { ...(find('ScaledObject').spec as object), maxReplicas: 3 },
      }),
    );
    const b = py([CRD_CHECK, bad]);
    expect(b.stdout).toMatch(/unknown field ScaledObject\.spec\.maxReplicas/);
  });

  it('termination grace outlasts the drain bound; probes on /healthz and /readyz; resources set', () => {
    const cm = find('ConfigMap').data ?? {};
    const pod = template('Deployment').spec;
    const engine = first(pod.containers);
    const drainS = Number(cm['PDM_SHUTDOWN_TIMEOUT_MS']) / 1000;
    const preStopS = engine.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainS + preStopS);
    expect(engine.livenessProbe.httpGet.path).toBe('/healthz');
    expect(engine.startupProbe.httpGet.path).toBe('/healthz');
    expect(engine.readinessProbe.httpGet.path).toBe('/readyz');
    const port = engine.ports?.find((p) => p.name === 'metrics');
    expect(port?.containerPort).toBe(Number(cm['PDM_HTTP_PORT']));
    expect(cm['PDM_HTTP_HOST']).toBe('0.0.0.0');
    expect(engine.resources.requests['cpu']).toBeDefined();
    expect(engine.resources.requests['memory']).toBeDefined();
    expect(engine.resources.limits['memory']).toBeDefined();
  });

  it('process memory: V8 old space below the container limit, glibc arenas capped at 2', () => {
    const engine = first(template('Deployment').spec.containers);
    const env = new Map((engine.env ?? []).map((e) => [e.name, e.value]));
    const oldSpaceMb = Number(/--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS') ?? '')?.[1]);
    const limit = /^(\d+)(Mi|Gi)$/.exec(engine.resources.limits['memory'] ?? '');
    expect(limit).not.toBeNull();
    const limitMb = Number(limit?.[1]) * (limit?.[2] === 'Gi' ? 1024 : 1);
    // The worker, onnxruntime, buffers and the code live outside the old space: leave them room.
    expect(oldSpaceMb).toBeLessThanOrEqual(limitMb - 256);
    // Only the process environment works (glibc reads it before any JavaScript runs).
    expect(env.get('MALLOC_ARENA_MAX')).toBe('2');
  });

  it('secrets only through secretKeyRef: no Secret shipped, no secret value in env or ConfigMap', () => {
    expect(docs.some((d) => d.kind === 'Secret')).toBe(false);
    const secretish = /PASSWORD|SECRET|TOKEN|_KEY$/;
    expect(Object.keys(find('ConfigMap').data ?? {}).filter((k) => secretish.test(k))).toEqual([]);
    for (const kind of ['Deployment', 'Job'] as const) {
      const env = template(kind).spec.containers.flatMap((c) => c.env ?? []);
      const secrets = env.filter((e) => secretish.test(e.name));
      expect(secrets.length).toBeGreaterThan(0);
      for (const e of secrets) {
        expect(e.value, `${kind} ${e.name}`).toBeUndefined();
        expect(e.valueFrom?.secretKeyRef, `${kind} ${e.name}`).toBeDefined();
      }
    }
  });

  it('KEDA scales on the engine group lag of the telemetry topic, capped at the partition count', () => {
    const cm = find('ConfigMap').data ?? {};
    const so = find('ScaledObject').spec as ScaledObjectSpec;
    expect(so.scaleTargetRef.name).toBe(find('Deployment').metadata.name);
    expect(so.maxReplicaCount).toBe(Number(cm['PDM_PARTITIONS']));
    expect(so.minReplicaCount).toBeGreaterThanOrEqual(1);
    const trigger = first(so.triggers);
    expect(trigger.type).toBe('kafka');
    expect(trigger.metadata['consumerGroup']).toBe(cm['PDM_GROUP_ID']);
    expect(trigger.metadata['topic']).toBe(`${cm['PDM_TOPIC_PREFIX'] ?? ''}telemetry`);
    expect(trigger.metadata['bootstrapServers']).toBe(cm['KAFKA_BROKERS']);
    expect(trigger.metadata['allowIdleConsumers']).toBe('false');
    expect(trigger.authenticationRef.name).toBe(find('TriggerAuthentication').metadata.name);
  });

  it('the PodMonitor scrapes the engine pods on the metrics port', () => {
    const pm = find('PodMonitor').spec as PodMonitorSpec;
    const labels = template('Deployment').metadata.labels;
    for (const [k, v] of Object.entries(pm.selector.matchLabels)) expect(labels[k]).toBe(v);
    expect(first(pm.podMetricsEndpoints).port).toBe('metrics');
    expect(first(pm.podMetricsEndpoints).path).toBe('/metrics');
  });

  it('migrations run as the migrator (Job), the engine as its least-privileged user', () => {
    const cm = find('ConfigMap').data ?? {};
    expect(cm['CLICKHOUSE_USER']).toBe('pdm_engine');
    const job = first(template('Job').spec.containers);
    expect(job.args).toEqual(['migrate']);
    expect(job.env?.find((e) => e.name === 'CLICKHOUSE_USER')?.value).toBe('pdm_migrator');
  });
});
