/**
 * Real Prometheus and Alertmanager (Debian packages `prometheus`, `prometheus-alertmanager`) for the
 * dead-letter lifecycle test: Prometheus scrapes the engine every second and evaluates the project's
 * `PdmDeadLetterDepthHigh` rule (from deploy/prometheus/rules.yml, with the threshold lowered to 0 and no
 * `for`, so that a test does not wait ten minutes), Alertmanager delivers to a webhook run by the test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/stack-env.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));

export interface WebhookAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  /** RFC 3339; when Prometheus first saw the alert active. */
  readonly startsAt: string;
  /** RFC 3339; when it resolved (Alertmanager sends `0001-01-01T00:00:00Z` while it is firing). */
  readonly endsAt: string;
}

export interface Alerting {
  /** Every alert the webhook received, in order. */
  readonly received: WebhookAlert[];
  output(): string;
  close(): Promise<void>;
}

function which(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Paths of the two binaries, or why they are missing. */
export function alertingBinaries(): { prometheus: string; alertmanager: string } | { missing: string } {
  const prometheus = which('prometheus');
  const alertmanager = which('prometheus-alertmanager') ?? which('alertmanager');
  if (prometheus === undefined) return { missing: 'prometheus (apt-get install prometheus)' };
  if (alertmanager === undefined) {
    return { missing: 'alertmanager (apt-get install prometheus-alertmanager)' };
  }
  return { prometheus, alertmanager };
}

/** The project's depth rule, made immediate: `> 0` and no `for`. Throws if the rule changed shape. */
export function immediateDepthRule(): string {
  const text = readFileSync(RULES, 'utf8');
  const start = text.indexOf('      - alert: PdmDeadLetterDepthHigh\n');
  const end = text.indexOf('      - alert: ', start + 1);
  if (start < 0 || end < 0) throw new Error('PdmDeadLetterDepthHigh not found in rules.yml');
  const rule = text.slice(start, end);
  const fast = rule
    .replace(/\(pdm_dead_letter_depth\) > \d+\n/, '(pdm_dead_letter_depth) > 0\n')
    .replace(/\n\s+for: \w+\n/, '\n');
  if (fast === rule || !fast.includes('> 0\n') || /\bfor:/.test(fast)) {
    throw new Error('PdmDeadLetterDepthHigh changed shape: update immediateDepthRule()');
  }
  return `groups:\n  - name: pdm-stream-test\n    rules:\n${fast}`;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      if (typeof a === 'object' && a !== null) resolve(a.port);
      else reject(new Error('webhook has no port'));
    });
  });
}

export async function startAlerting(
  bins: { prometheus: string; alertmanager: string },
  enginePort: number,
  dir: string,
): Promise<Alerting> {
  const received: WebhookAlert[] = [];
  const webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        const msg = JSON.parse(body) as { alerts?: WebhookAlert[] };
        received.push(...(msg.alerts ?? []));
      } catch {
        // Not Alertmanager's JSON: nothing to record; the test waits for what it expects.
      }
      res.end('ok');
    });
  });
  const hookPort = await listen(webhook);
  const [promPort, amPort] = [await freePort(), await freePort()];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.yml'), immediateDepthRule());
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [rules.yml]
alerting: { alertmanagers: [ { static_configs: [ { targets: ['127.0.0.1:${amPort}'] } ] } ] }
scrape_configs: [ { job_name: pdm-stream, static_configs: [ { targets: ['127.0.0.1:${enginePort}'] } ] } ]
`,
  );
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route: { receiver: test, group_by: [alertname, reason, topic], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers: [ { name: test, webhook_configs: [ { url: 'http://127.0.0.1:${hookPort}/alerts', send_resolved: true } ] } ]
`,
  );
  let out = '';
  const start = (cmd: string, args: string[]): ChildProcess => {
    const p = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    return p;
  };
  const alertmanager = start(bins.alertmanager, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'am')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=',
  ]);
  const prometheus = start(bins.prometheus, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  const stop = (p: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) {
        resolve();
        return;
      }
      p.once('close', () => {
        resolve();
      });
      p.kill('SIGTERM');
    });
  return {
    received,
    output: () => out,
    async close() {
      await Promise.all([stop(prometheus), stop(alertmanager)]);
      await new Promise<void>((resolve) =>
        webhook.close(() => {
          resolve();
        }),
      );
    },
  };
}
