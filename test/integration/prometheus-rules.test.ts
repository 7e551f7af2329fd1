/**
 * Issue 11: the Prometheus alert rules are valid (`promtool check rules`), every rule has a runbook line,
 * and every rule has a promtool unit test in which it fires (`promtool test rules`). promtool comes from
 * the Debian package `prometheus` (.ci/run installs it); without it the promtool cases are skipped with a
 * printed reason, the coverage checks still run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const rules = readFileSync(`${DIR}rules.yml`, 'utf8');
const tests = readFileSync(`${DIR}rules.test.yml`, 'utf8');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = promtool.status === 0;
if (!havePromtool) {
  console.warn('prometheus-rules: promtool not found (apt-get install prometheus); promtool checks skipped');
}

/** Each `- alert: Name` with the text of its rule (up to the next rule). */
function alertRules(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = rules.split(/^ {6}- alert: /m).slice(1);
  for (const p of parts) {
    const name = /^(\w+)/.exec(p)?.[1];
    if (name !== undefined) out.set(name, p);
  }
  return out;
}

function promtoolRun(args: string[]) {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alert rules', () => {
  const alerts = alertRules();

  it('include the dead-letter depth, rate and the lead’s partition and clock alerts', () => {
    for (const name of [
      'PdmDeadLetterDepthHigh',
      'PdmDeadLettersRising',
      'PdmDeadLetterRatioHigh',
      'PdmWrongPartition',
      'PdmFutureEvents',
    ])
      expect([...alerts.keys()]).toContain(name);
    expect(alerts.get('PdmDeadLetterDepthHigh')).toMatch(/pdm_dead_letter_depth\b/);
  });

  it('every rule has a runbook line and a promtool test in which it fires', () => {
    expect(alerts.size).toBeGreaterThan(5);
    for (const [name, text] of alerts) {
      expect(text, name).toMatch(/^\s+runbook: \S/m);
      const firing = new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`);
      expect(tests, `${name} has no firing test in rules.test.yml`).toMatch(firing);
      const quiet = new RegExp(`alertname: ${name}\\n\\s+exp_alerts: \\[\\]`);
      expect(tests, `${name} has no not-firing test in rules.test.yml`).toMatch(quiet);
    }
  });

  it.skipIf(!havePromtool)('pass promtool check rules', () => {
    const r = promtoolRun(['check', 'rules', 'rules.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`SUCCESS: ${alerts.size} rules found`));
  });

  it.skipIf(!havePromtool)('pass promtool test rules', () => {
    const r = promtoolRun(['test', 'rules', 'rules.test.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });
});
