import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Real promtool from Debian's `prometheus` package (.ci/run installs it).
const monitoring = fileURLToPath(new URL('../../../examples/monitoring/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sidecarless-rules-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The `spec` of a PrometheusRule manifest is exactly a Prometheus rule file: take the lines
 * under the top-level `spec:` key and remove their two-space indent.
 */
function extractSpec(manifest: string): string {
  const lines = manifest.split('\n');
  const start = lines.indexOf('spec:');
  if (start < 0) throw new Error('no top-level spec: in the PrometheusRule');
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') {
      body.push('');
      continue;
    }
    if (!line.startsWith('  ')) break;
    body.push(line.slice(2));
  }
  return `${body.join('\n').trimEnd()}\n`;
}

function promtool(...args: string[]) {
  const result = spawnSync('promtool', args, { encoding: 'utf8', cwd: work });
  if (result.error)
    throw new Error(`promtool did not run (${result.error.message}); install Debian's prometheus package`);
  return result;
}

describe('the shipped monitoring examples', () => {
  const rules = extractSpec(readFileSync(join(monitoring, 'prometheus-rule.yaml'), 'utf8'));
  writeFileSync(join(work, 'rules.yaml'), rules);
  copyFileSync(join(monitoring, 'alerts.test.yaml'), join(work, 'alerts.test.yaml'));
  copyFileSync(join(monitoring, 'prometheus.yml'), join(work, 'prometheus.yml'));

  it('extracts a rule file that promtool accepts, with the source design alert', () => {
    const result = promtool('check', 'rules', 'rules.yaml');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: 3 rules found/);
    expect(rules).toContain('alert: HighFunctionErrorRate');
  });

  it('fires and stays quiet exactly as alerts.test.yaml expects', () => {
    const result = promtool('test', 'rules', 'alerts.test.yaml');
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });

  it('fails the rule tests when an alert is expected that the series do not raise', () => {
    // Guards the guard: the same tests with the healthy case expecting an alert must fail.
    const original = readFileSync(join(work, 'alerts.test.yaml'), 'utf8');
    const healthy = original.indexOf('0+1x20');
    const quiet = original.indexOf('exp_alerts: []', healthy);
    const broken = `${original.slice(0, quiet)}exp_alerts:\n          - exp_labels:\n              severity: warning${original.slice(quiet + 'exp_alerts: []'.length)}`;
    expect(healthy).toBeGreaterThan(0);
    expect(quiet).toBeGreaterThan(healthy);
    writeFileSync(join(work, 'broken.test.yaml'), broken);
    const result = promtool('test', 'rules', 'broken.test.yaml');
    expect(result.status).not.toBe(0);
  });

  it('ships a scrape configuration promtool accepts', () => {
    const result = promtool('check', 'config', 'prometheus.yml');
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });
});
