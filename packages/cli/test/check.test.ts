/**
 * The `sidecarless` command as a user runs it: the built bin in a child process, its exit codes
 * and its output, on the seed document's resources and the reference examples.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/esm/cli.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function sidecarless(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('sidecarless check', () => {
  it('says per resource what the seed document’s Istio resources become, and exits 1 for what is not honoured', async () => {
    const { code, stdout } = await sidecarless(
      'check',
      fixture('seed.yaml'),
      '--namespace',
      'serverless',
      '--labels',
      'app=user-function',
    );
    expect(code).toBe(1);
    expect(stdout).toContain('✓ PeerAuthentication serverless/serverless-mtls');
    expect(stdout).toContain('✓ AuthorizationPolicy serverless/serverless-authz');
    expect(stdout).toMatch(
      /! DestinationRule serverless\/function-connection-pool \(.*seed\.yaml#8\): 7 of 8 fields honoured\n {4}spec\.trafficPolicy\.connectionPool\.tcp\.tcpKeepalive\.interval: not honoured — Node sets only the idle time/,
    );
    expect(stdout).toContain('Gateway configures an ingress or egress gateway proxy, not a function');
    expect(stdout.trim().split('\n').at(-1)).toBe('some of it will not be honoured (exit 1)');
  });

  it('exits 0 when everything given will be honoured', async () => {
    const { code, stdout } = await sidecarless('check', fixture('virtual-service-04.yaml'));
    expect(stdout).toMatch(/^✓ DestinationRule foo\/reviews-destination .*: 5 of 5 fields honoured\n/);
    expect(stdout.trim().split('\n').at(-1)).toBe('everything given will be honoured');
    expect(code).toBe(0);
  });

  it('prints JSON for tools with --json', async () => {
    const { code, stdout } = await sidecarless('check', fixture('bookinfo'), '--json');
    expect(code).toBe(1);
    const result = JSON.parse(stdout) as { complete: boolean; findings: { path: string; status: string }[] };
    expect(result.complete).toBe(false);
    expect(
      result.findings.filter((finding) => finding.status !== 'honoured').map((finding) => finding.path),
    ).toEqual([
      'spec.trafficPolicy.tls',
      'spec.trafficPolicy.tls',
      'spec.trafficPolicy.tls',
      'spec.trafficPolicy.tls',
    ]);
  });

  it('names the file, line and column of invalid YAML, on one line, with no stack', async () => {
    const { code, stderr } = await sidecarless('check', fixture('virtual-service-18.yaml'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^sidecarless: .*virtual-service-18\.yaml:15:3: invalid YAML: [^\n]*\n$/);
  });
});

describe('sidecarless explain', () => {
  it('prints the options the function runs with after scoping', async () => {
    const { code, stdout } = await sidecarless('explain', fixture('bookinfo'), '--service', 'productpage');
    expect(code).toBe(0);
    const options = JSON.parse(stdout) as { upstreams: Record<string, { url: string }> };
    expect(Object.keys(options.upstreams).sort()).toEqual(['details', 'productpage', 'ratings', 'reviews']);
    expect(options.upstreams.reviews!.url).toBe('http://reviews.default.svc.cluster.local');
  });
});

describe('usage', () => {
  it('--help on every command, and one-line errors naming the fix', async () => {
    expect((await sidecarless('--help')).stdout).toContain('Commands:');
    const help = await sidecarless('check', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(
      'Example:\n  sidecarless check deploy/mesh-policy.yaml --namespace shop --labels app=payments',
    );
    const unknown = await sidecarless('deploy');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'sidecarless: unknown command "deploy"; use check or explain (sidecarless --help)\n',
    );
    const labels = await sidecarless('check', fixture('seed.yaml'), '--labels', 'app');
    expect(labels.stderr).toBe(
      'sidecarless: --labels: "app" is not key=value; use --labels app=orders,version=v2\n',
    );
    const missing = await sidecarless('check', 'no-such.yaml');
    expect(missing.stderr).toBe('sidecarless: no-such.yaml: no such file or directory\n');
  });
});
