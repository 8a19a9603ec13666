/**
 * The loader against real Istio YAML: the API reference's examples, istio/api's CRD validation
 * cases, bookinfo's routing samples and the seed document's resources — what each became, field
 * by field (test/expected-loads.json), and that the mesh's own checkers accept the options.
 * Scoping, host names, conflicts and fail-closed refusals are asserted case by case.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { auth } from '@sidecarless/auth';
import { createMesh, type MeshOptions } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { afterAll, describe, expect, it } from 'vitest';
import { type IstioLoad, loadIstio, parseResources } from '../src/index.ts';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const read = (name: string) => ({ path: name, text: readFileSync(`${fixtures}${name}`, 'utf8') });
const index = JSON.parse(readFileSync(`${fixtures}index.json`, 'utf8')) as {
  file: string;
  kinds: string[];
  apiVersions: string[];
}[];

/** The mesh's own checkers on a load's options: their messages, or none. */
function meshProblems(load: IstioLoad): string[] {
  try {
    void createMesh({ service: 'function', logging: { level: 'silent' }, ...load.options } as MeshOptions, [
      auth,
      outbound,
      http,
      traffic,
    ]).close();
    return [];
  } catch (error) {
    return ((error as { issues?: { path: string; message: string }[] }).issues ?? []).map(
      (issue) => `${issue.path}: ${issue.message}`,
    );
  }
}

/**
 * The function each example is written for: the first resource's namespace, and the labels its
 * selector asks for (so the example applies, as it would to the workload it was written for).
 */
function audienceOf(files: { path: string; text: string }[]): {
  namespace: string;
  labels: Record<string, string>;
} {
  try {
    const first = parseResources(files).find((resource) => resource.namespace !== undefined);
    const selector = (first?.spec.selector as { matchLabels?: Record<string, string> } | undefined)
      ?.matchLabels;
    return { namespace: first?.namespace ?? 'default', labels: selector ?? {} };
  } catch {
    return { namespace: 'default', labels: {} };
  }
}

/** What one file became: the fields not honoured (with why), and what the mesh said. */
async function summary(files: { path: string; text: string }[]) {
  try {
    const load = await loadIstio(files, audienceOf(files));
    return {
      applied: load.applied,
      skipped: load.skipped.map((entry) => `${entry.resource}: ${entry.reason}`),
      notHonoured: load.report.lines(),
      honoured: load.report.findings.filter((finding) => finding.status === 'honoured').length,
      mesh: meshProblems(load),
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('what every example became', () => {
  const expectedFile = fileURLToPath(new URL('./expected-loads.json', import.meta.url));
  const expected = (process.env.ISTIO_RECORD ? {} : JSON.parse(readFileSync(expectedFile, 'utf8'))) as Record<
    string,
    unknown
  >;
  const recorded: Record<string, unknown> = {};
  const complete = index.filter((entry) => entry.apiVersions.length > 0).map((entry) => entry.file);
  const groups: Record<string, string[]> = {
    'bookinfo (routes and rules together)': readdirSync(`${fixtures}bookinfo`).map(
      (file) => `bookinfo/${file}`,
    ),
    'the seed document': ['seed.yaml'],
  };
  for (const file of complete) groups[file] = [file];

  for (const [name, files] of Object.entries(groups)) {
    it(name, async () => {
      const result = await summary(files.map(read));
      if (process.env.ISTIO_RECORD) recorded[name] = result;
      else expect(result).toEqual(expected[name]);
    });
  }
  afterAll(() => {
    // ISTIO_RECORD=1 rewrites the expectations (review the diff: it is the compatibility record).
    if (process.env.ISTIO_RECORD)
      writeFileSync(
        fileURLToPath(new URL('./expected-loads.json', import.meta.url)),
        `${JSON.stringify(recorded, null, 2)}\n`,
      );
  });

  it('covers every complete example of the Istio reference', () => {
    if (!process.env.ISTIO_RECORD) expect(Object.keys(expected).sort()).toEqual(Object.keys(groups).sort());
  });
});

describe('bookinfo as a function sees it', () => {
  it('routes jason to reviews v2 and everyone else to v3, over the rule’s subsets', async () => {
    const load = await loadIstio(
      ['bookinfo/virtual-service-reviews-jason-v2-v3.yaml', 'bookinfo/destination-rule-all-mtls.yaml'].map(
        read,
      ),
      { namespace: 'default' },
    );
    const reviews = load.options.upstreams!.reviews!;
    expect(reviews.url).toBe('http://reviews.default.svc.cluster.local');
    expect(reviews.subsets).toEqual([
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
      { name: 'v3', labels: { version: 'v3' } },
    ]);
    expect(reviews.http).toEqual([
      {
        match: [{ headers: { 'end-user': { exact: 'jason' } } }],
        route: [{ destination: { subset: 'v2' } }],
      },
      { route: [{ destination: { subset: 'v3' } }] },
    ]);
    expect(meshProblems(load)).toEqual([]);
  });

  it('turns the deprecated fault.delay.percent into percentage.value', async () => {
    const load = await loadIstio([read('bookinfo/virtual-service-ratings-test-delay.yaml')]);
    const fault = (load.options.upstreams!.ratings!.http as { fault?: unknown }[])[0]!.fault;
    expect(fault).toEqual({ delay: { fixedDelay: '7s', percentage: { value: 100 } } });
  });
});

describe('connection-pool counts of 0, which Istio reads as not set', () => {
  it('loads them as the sidecar would: no limit, with every field honoured', async () => {
    const load = await loadIstio([
      {
        path: 'pool.yaml',
        text: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 0 }
      http: { http1MaxPendingRequests: 0, http2MaxRequests: 0, maxRequestsPerConnection: 0, maxRetries: 0 }
`,
      },
    ]);
    expect(load.options.upstreams!.ratings!.connectionPool).toEqual({ tcp: {}, http: {} });
    expect(load.report.complete).toBe(true);
    // Copied as 0 the mesh would refuse them (maxRequestsPerConnection starts at 1).
    expect(meshProblems(load)).toEqual([]);
  });
});

describe('scoping, as Istio scopes resources to a workload', () => {
  const policy = (namespace: string, selector = '') => ({
    path: `${namespace}.yaml`,
    text: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-orders, namespace: ${namespace} }
spec:
${selector}  action: ALLOW
  rules:
  - from:
    - source: { principals: ["cluster.local/ns/shop/sa/orders"] }
`,
  });

  it('applies policies of the function’s namespace and the root namespace, whose selector matches', async () => {
    const load = await loadIstio(
      [
        policy('shop'),
        policy('istio-system'),
        policy('billing'),
        { ...policy('shop', '  selector: { matchLabels: { app: inventory } }\n'), path: 'other.yaml' },
      ].map((file, at) => ({ ...file, text: file.text.replace('only-orders', `only-orders-${at}`) })),
      { namespace: 'shop', labels: { app: 'payments' } },
    );
    expect(load.applied).toEqual([
      'AuthorizationPolicy shop/only-orders-0',
      'AuthorizationPolicy istio-system/only-orders-1',
    ]);
    expect(load.skipped.map((entry) => entry.reason)).toEqual([
      'in namespace billing, not shop or the root namespace',
      'its selector does not match the function’s labels',
    ]);
    expect((load.options.auth!.policies as unknown[]).length).toBe(2);
  });

  it('resolves short host names in the resource’s namespace, and honours exportTo', async () => {
    const load = await loadIstio(
      [
        {
          path: 'dr.yaml',
          text: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: bookinfo }
spec:
  host: ratings
  trafficPolicy: { connectionPool: { http: { maxRetries: 3 } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: private, namespace: other }
spec:
  host: private
  exportTo: ["."]
`,
        },
      ],
      { namespace: 'shop' },
    );
    expect(load.options.upstreams).toEqual({
      ratings: {
        url: 'http://ratings.bookinfo.svc.cluster.local',
        connectionPool: { http: { maxRetries: 3 } },
      },
    });
    expect(load.skipped).toEqual([
      { resource: 'DestinationRule other/private', reason: 'exportTo ["."] does not reach shop' },
    ]);
  });
});

describe('bad input names the file, the resource and the field', () => {
  const one = (text: string) => loadIstio([{ path: 'mesh.yaml', text }]);
  it('invalid YAML, with line and column', async () => {
    await expect(one('kind: VirtualService\nspec:\n  hosts: [a\n')).rejects.toThrow(
      /^mesh\.yaml:\d+:\d+: invalid YAML/,
    );
  });
  it('an unknown kind or apiVersion', async () => {
    await expect(one('apiVersion: v1\nkind: Pod\nmetadata: { name: p }\n')).rejects.toThrow(
      'mesh.yaml: unknown kind Pod (v1); the loader reads HTTPRoute, VirtualService, DestinationRule, ServiceEntry, AuthorizationPolicy, RequestAuthentication, PeerAuthentication',
    );
    await expect(
      one('apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: { name: r }\nspec: {}\n'),
    ).rejects.toThrow(
      /unknown apiVersion networking\.istio\.io\/v2; use networking\.istio\.io\/v1 or v1beta1 or v1alpha3/,
    );
  });
  it('a resource failing Istio’s own schema', async () => {
    await expect(
      one(
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http:\n  - timeout: 5\n',
      ),
    ).rejects.toThrow(
      "mesh.yaml: VirtualService r: fails Istio's schema: spec.http.0.timeout must be string",
    );
  });
  it('duplicate names, and two VirtualServices for one host', async () => {
    const vs = (name: string) =>
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ${name} }\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews }\n`;
    await expect(one(`${vs('a')}---\n${vs('a')}`)).rejects.toThrow(
      /mesh\.yaml#2: VirtualService a is defined twice \(first in mesh\.yaml#1\)/,
    );
    await expect(one(`${vs('a')}---\n${vs('b')}`)).rejects.toThrow(
      /VirtualService default\/b routes reviews\.default\.svc\.cluster\.local, which VirtualService default\/a routes too/,
    );
  });
  it('an AuthorizationPolicy the mesh cannot evaluate refuses the load (fail closed)', async () => {
    await expect(
      one(
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ext }\nspec:\n  action: CUSTOM\n  provider: { name: opa }\n  rules: [{}]\n',
      ),
    ).rejects.toThrow(
      /refused, failing closed:[\s\S]*spec\.action: CUSTOM needs the proxy's extension provider/,
    );
  });
  it('reports proxy-only resources instead of half-applying them', async () => {
    const load = await one(
      'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: { name: lua }\nspec: { configPatches: [] }\n',
    );
    expect(load.report.lines()).toEqual([
      'EnvoyFilter default/lua: spec: not honoured — EnvoyFilter patches Envoy configuration; there is no Envoy',
    ]);
  });
});

describe("istio/api's CRD validation cases", () => {
  const documents = (file: string) =>
    readFileSync(`${fixtures}crd-validation/${file}`, 'utf8')
      .split(/^---\s*$/m)
      .filter((text) => /kind:/.test(text));
  for (const kind of ['authz', 'destinationrule', 'peerauth', 'reqauth']) {
    it(`refuses every ${kind} document the API server refuses (by schema, the loader, or the mesh)`, async () => {
      const accepted: string[] = [];
      for (const [at, text] of documents(`${kind}-invalid.yaml`).entries()) {
        const result = await summary([{ path: `${kind}-invalid.yaml#${at + 1}`, text }]);
        const refused = 'error' in result || result.mesh.length > 0;
        if (!refused) accepted.push(`#${at + 1}: ${text.match(/_err: (.*)/)?.[1] ?? ''}`);
      }
      expect(accepted).toEqual([]);
    });
  }
});
