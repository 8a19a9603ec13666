/**
 * `sidecarless check` and `explain` as a user runs them: the built bin in a child process, its exit
 * codes and its output, on the seed document's resources and the reference examples (copied from
 * packages/istio/test/fixtures).
 */
import { describe, expect, it } from 'vitest';
import { fixture, sidecarless as run } from './run-cli.js';

const sidecarless = (...args: string[]) => run(args);

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
    expect(stderr).toMatch(/^sidecarless: .*virtual-service-18\.yaml:15:6: invalid YAML: [^\n]*\n$/);
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
      'sidecarless: unknown command "deploy"; use check, explain, invoke, cost or events (sidecarless --help)\n',
    );
    const labels = await sidecarless('check', fixture('seed.yaml'), '--labels', 'app');
    expect(labels.stderr).toBe(
      'sidecarless: --labels: "app" is not key=value; use --labels app=orders,version=v2\n',
    );
    const missing = await sidecarless('check', 'no-such.yaml');
    expect(missing.stderr).toBe('sidecarless: no-such.yaml: no such file or directory\n');
  });
});

describe('terminal output', () => {
  it('is plain when piped, even without NO_COLOR, and coloured when FORCE_COLOR asks', async () => {
    const piped = await run(['check', fixture('virtual-service-04.yaml')], { NO_COLOR: undefined });
    expect(piped.stdout).not.toContain('\x1b[');
    const forced = await run(['check', fixture('virtual-service-04.yaml')], {
      NO_COLOR: undefined,
      FORCE_COLOR: '1',
    });
    expect(forced.stdout).toContain('\x1b[32m✓\x1b[0m DestinationRule foo/reviews-destination');
    const refused = await run(['check', fixture('virtual-service-04.yaml')], {
      NO_COLOR: '1',
      FORCE_COLOR: '1',
    });
    expect(refused.stdout).not.toContain('\x1b[');
  });
});
