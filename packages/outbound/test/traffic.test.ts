/**
 * `@sidecarless/outbound/traffic` on real servers on 127.0.0.1 — three "versions" of an upstream,
 * each answering with its name: weighted and header routes, sticky splits across two function
 * instances in two processes, fault injection through the policy chain, rewrites, header edits,
 * direct responses, `call()` routing, header propagation, and the configuration errors.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConfigError, createMesh, type Mesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../src/http.ts';
import { outbound } from '../src/index.ts';
import { ownLabels, type RoutedCallContext, traffic } from '../src/traffic.ts';

interface Version {
  readonly name: string;
  readonly url: string;
  readonly seen: { method: string; path: string; headers: IncomingHttpHeaders }[];
  status: number;
  /** Answer nothing, ever (a mirror target that hangs). */
  hang: boolean;
  server: Server;
}

async function version(name: string): Promise<Version> {
  const seen: Version['seen'] = [];
  const entry = { name, url: '', seen, status: 200, hang: false } as Version;
  const server = createServer((request, response) => {
    seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers });
    if (entry.hang) return;
    response.writeHead(entry.status, { 'content-type': 'text/plain', 'x-version': name });
    response.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  entry.server = server;
  (entry as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return entry;
}

let v1: Version;
let v2: Version;
let v3: Version;
beforeAll(async () => {
  [v1, v2, v3] = await Promise.all([version('v1'), version('v2'), version('v3')]);
});
afterAll(async () => {
  for (const v of [v1, v2, v3]) await new Promise((resolve) => v.server.close(resolve));
});

const meshes: Mesh[] = [];
afterEach(async () => {
  for (const v of [v1, v2, v3]) {
    v.seen.length = 0;
    v.status = 200;
    v.hang = false;
  }
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function meshWith(payments: Record<string, unknown>, extra: Partial<MeshOptions> = {}): Mesh {
  const mesh = createMesh(
    {
      service: 'checkout',
      logging: { level: 'silent' },
      upstreams: { payments: { url: v1.url, ...payments }, ledger: { url: v3.url } },
      ...extra,
    } as MeshOptions,
    [outbound, http, traffic],
  );
  meshes.push(mesh);
  return mesh;
}

const subsets = () => [
  { name: 'v1', labels: { version: 'v1' }, url: v1.url },
  { name: 'v2', labels: { version: 'v2' }, url: v2.url },
];

async function answers(
  mesh: Mesh,
  calls: number,
  init?: RequestInit,
  inFlight = 16,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < calls) {
        const response = await mesh.upstream('payments').fetch('/pay', init);
        const body = await response.text();
        const key = response.status === 200 ? body : String(response.status);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

describe('weighted and header routes', () => {
  it('a 90/10 split over 10,000 calls lands within ±2 points', async () => {
    const mesh = meshWith({
      subsets: subsets(),
      http: [
        {
          name: 'canary',
          route: [
            { destination: { subset: 'v1' }, weight: 90 },
            { destination: { subset: 'v2' }, weight: 10 },
          ],
        },
      ],
    });
    await mesh.ready();
    const counts = await answers(mesh, 10_000);
    expect((counts.get('v1') ?? 0) + (counts.get('v2') ?? 0)).toBe(10_000);
    expect(Math.abs((counts.get('v2') ?? 0) / 100 - 10)).toBeLessThanOrEqual(2);
  }, 60_000);

  it('a header route always wins over the split after it', async () => {
    const mesh = meshWith({
      subsets: subsets(),
      http: [
        {
          name: 'always',
          match: [{ headers: { 'x-canary': { exact: 'always' } } }],
          route: [{ destination: { subset: 'v2' } }],
        },
        {
          route: [
            { destination: { subset: 'v1' }, weight: 90 },
            { destination: { subset: 'v2' }, weight: 10 },
          ],
        },
      ],
    });
    const counts = await answers(mesh, 1_000, { headers: { 'x-canary': 'always' } });
    expect(counts).toEqual(new Map([['v2', 1_000]]));
  });

  it('matches path prefixes, regexes, methods, query parameters and missing headers', async () => {
    const mesh = meshWith({
      subsets: subsets(),
      http: [
        {
          match: [{ uri: { regex: '/orders/[0-9]+' }, method: { exact: 'DELETE' } }],
          route: [{ destination: { host: 'ledger' } }],
        },
        {
          match: [{ uri: { prefix: '/V2/' }, ignoreUriCase: true }],
          route: [{ destination: { subset: 'v2' } }],
        },
        { match: [{ queryParams: { beta: { exact: '1' } } }], route: [{ destination: { subset: 'v2' } }] },
        {
          match: [{ withoutHeaders: { 'x-user': { prefix: '' } } }],
          route: [{ destination: { host: 'ledger' } }],
        },
        { route: [{ destination: { subset: 'v1' } }] },
      ],
    });
    const answer = async (path: string, init: RequestInit = { headers: { 'x-user': 'u' } }) =>
      (await mesh.upstream('payments').fetch(path, init)).text();
    expect(await answer('/orders/12', { method: 'DELETE', headers: { 'x-user': 'u' } })).toBe('v3');
    expect(await answer('/orders/12')).toBe('v1');
    expect(await answer('/v2/pay')).toBe('v2');
    expect(await answer('/pay?beta=1')).toBe('v2');
    expect(await answer('/pay', {})).toBe('v3');
    expect(await answer('/pay')).toBe('v1');
  });
});

describe('subsets are upstreams of their own', () => {
  it("a subset's trafficPolicy overrides the upstream's: its breaker opens, the other subset's calls go on", async () => {
    v2.status = 500;
    const mesh = meshWith({
      retries: { attempts: 0 },
      subsets: [
        { name: 'v1', url: v1.url },
        {
          name: 'v2',
          url: v2.url,
          trafficPolicy: { circuitBreaker: { consecutiveFailures: 2, halfOpenAfter: '1m' } },
        },
      ],
      http: [
        {
          match: [{ headers: { 'x-version': { exact: 'v2' } } }],
          route: [{ destination: { subset: 'v2' } }],
        },
        { route: [{ destination: { subset: 'v1' } }] },
      ],
    });
    const toV2 = () => mesh.upstream('payments').fetch('/pay', { headers: { 'x-version': 'v2' } });
    expect((await toV2()).status).toBe(500);
    expect((await toV2()).status).toBe(500);
    await expect(toV2()).rejects.toMatchObject({ code: 'SCL_ERR_CIRCUIT_OPEN' });
    expect(v2.seen).toHaveLength(2);
    expect(await (await mesh.upstream('payments').fetch('/pay')).text()).toBe('v1');
  });
});

describe('sticky splits', () => {
  it('the same user lands on the same subset from two function instances in two processes', async () => {
    const mesh = meshWith({
      loadBalancer: { consistentHash: { httpHeaderName: 'end-user' } },
      subsets: subsets(),
      http: [
        {
          route: [
            { destination: { subset: 'v1' }, weight: 50 },
            { destination: { subset: 'v2' }, weight: 50 },
          ],
        },
      ],
    });
    const here: string[] = [];
    for (let user = 0; user < 200; user++) {
      const response = await mesh
        .upstream('payments')
        .fetch('/pay', { headers: { 'end-user': `user-${user}` } });
      here.push(await response.text());
    }
    // Async: the child calls this process's servers, which a blocked event loop could not answer.
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/traffic-sticky.mjs', import.meta.url)), v1.url, v2.url],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    const there = JSON.parse(stdout) as string[];
    expect(there).toEqual(here);
    // Both subsets are used: the hash spreads users, it does not pin everyone to one.
    expect(new Set(here)).toEqual(new Set(['v1', 'v2']));
  }, 30_000);
});

describe('fault injection', () => {
  it('abort 50% answers half the calls with the route status; retries absorb them', async () => {
    const route = (attempts: number) => ({
      subsets: subsets(),
      retries: { attempts, retryOn: '5xx', backoff: { baseInterval: '1ms', maxInterval: '1ms' } },
      // Every call may retry at once here: the budget is not what this test is about.
      retryBudget: { percent: 100 },
      http: [
        {
          fault: { abort: { httpStatus: 503, percentage: { value: 50 } } },
          route: [{ destination: { subset: 'v1' } }],
        },
      ],
    });
    const bare = await answers(meshWith(route(0)), 2_000);
    expect(Math.abs((bare.get('503') ?? 0) / 20 - 50)).toBeLessThanOrEqual(5);
    // Nothing reached the upstream for an aborted call.
    expect(v1.seen.length).toBe(bare.get('v1'));
    const retried = await answers(meshWith(route(4)), 2_000);
    // 0.5^5 of the calls still fail: about 3%.
    expect(retried.get('503') ?? 0).toBeLessThan(150);
  });

  it('an injected delay respects the deadline: the route timeout ends the call', async () => {
    const mesh = meshWith({
      http: [{ timeout: '100ms', fault: { delay: { fixedDelay: '5s' } }, route: [{ destination: {} }] }],
    });
    const started = Date.now();
    await expect(mesh.upstream('payments').fetch('/pay')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_TIMEOUT',
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(v1.seen).toHaveLength(0);
  });

  it('a delay shorter than the timeout delays the call and lets it through', async () => {
    const mesh = meshWith({
      http: [{ fault: { delay: { fixedDelay: '80ms' } }, route: [{ destination: {} }] }],
    });
    const started = Date.now();
    expect(await (await mesh.upstream('payments').fetch('/pay')).text()).toBe('v1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });
});

describe('what a route does to the request and the answer', () => {
  it('rewrites a matched prefix and the authority, and edits request and response headers', async () => {
    const mesh = meshWith({
      subsets: subsets(),
      http: [
        {
          match: [{ uri: { prefix: '/api/v1/' } }],
          rewrite: { uri: '/v2/', authority: 'payments-v2.internal' },
          headers: {
            request: { set: { 'x-route': 'v2' }, remove: ['x-debug'] },
            response: { add: { 'x-routed': 'yes' } },
          },
          route: [{ destination: { subset: 'v2' }, headers: { request: { add: { 'x-subset': 'v2' } } } }],
        },
      ],
    });
    const response = await mesh
      .upstream('payments')
      .fetch('/api/v1/charges?id=7', { headers: { 'x-debug': '1' } });
    expect(await response.text()).toBe('v2');
    expect(response.headers.get('x-routed')).toBe('yes');
    const seen = v2.seen[0]!;
    expect(seen.path).toBe('/v2/charges?id=7');
    expect(seen.headers).toMatchObject({ host: 'payments-v2.internal', 'x-route': 'v2', 'x-subset': 'v2' });
    expect(seen.headers['x-debug']).toBeUndefined();
  });

  it('answers directResponse and redirect routes itself', async () => {
    const mesh = meshWith({
      http: [
        {
          match: [{ uri: { exact: '/maintenance' } }],
          directResponse: { status: 503, body: { string: 'down for maintenance' } },
        },
        { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new', redirectCode: 308 } },
        { route: [{ destination: {} }] },
      ],
    });
    const direct = await mesh.upstream('payments').fetch('/maintenance');
    expect([direct.status, await direct.text()]).toEqual([503, 'down for maintenance']);
    const moved = await mesh.upstream('payments').fetch('/old?x=1');
    expect([moved.status, moved.headers.get('location')]).toEqual([308, '/new?x=1']);
    expect(v1.seen).toHaveLength(0);
  });
});

describe('mirroring', () => {
  const mirrored = (extra: Record<string, unknown> = {}) => ({
    subsets: subsets(),
    http: [{ route: [{ destination: { subset: 'v1' } }], mirror: { host: 'ledger' }, ...extra }],
  });

  it('sends a copy to the mirror with the Host suffixed -shadow; the flush waits for it', async () => {
    const mesh = meshWith(mirrored());
    const response = await mesh.upstream('payments').fetch('/pay?x=1', { method: 'POST', body: 'amount=5' });
    expect(await response.text()).toBe('v1');
    await mesh.flush();
    expect(v3.seen).toHaveLength(1);
    expect(v3.seen[0]).toMatchObject({ method: 'POST', path: '/pay?x=1' });
    expect(v3.seen[0]!.headers.host).toBe(`${new URL(v3.url).host}-shadow`);
  });

  it('a mirror that answers 500 or hangs changes nothing for the caller', async () => {
    v3.status = 500;
    const failing = meshWith(mirrored());
    const answers500 = await answers(failing, 200);
    expect(answers500).toEqual(new Map([['v1', 200]]));
    await failing.flush();
    v3.hang = true;
    const hanging = createMesh(
      {
        service: 'checkout',
        logging: { level: 'silent' },
        upstreams: { payments: { url: v1.url, ...mirrored() }, ledger: { url: v3.url, timeout: '200ms' } },
      } as MeshOptions,
      [outbound, http, traffic],
    );
    meshes.push(hanging);
    const started = Date.now();
    const answersHung = await answers(hanging, 200, undefined, 4);
    expect(answersHung).toEqual(new Map([['v1', 200]]));
    // The main calls did not wait for the hung mirrors.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('mirrors a share of calls, and drops copies past the cap instead of queueing them', async () => {
    const mesh = meshWith(
      mirrored({
        mirror: undefined,
        mirrors: [{ destination: { host: 'ledger' }, percentage: { value: 50 } }],
      }),
    );
    await answers(mesh, 1_000, undefined, 1);
    await mesh.flush();
    expect(Math.abs(v3.seen.length / 10 - 50)).toBeLessThanOrEqual(6);
    v3.seen.length = 0;
    v3.hang = true;
    const capped = createMesh(
      {
        service: 'checkout',
        logging: { level: 'silent' },
        upstreams: { payments: { url: v1.url, ...mirrored() }, ledger: { url: v3.url, timeout: '300ms' } },
      } as MeshOptions,
      [outbound, http, traffic],
    );
    meshes.push(capped);
    await answers(capped, 100, undefined, 1);
    // At most 32 copies in flight: the rest were dropped, not queued behind the hung mirror.
    expect(v3.seen.length).toBeLessThanOrEqual(32);
  });
});

describe('call() is routed too', () => {
  it('the work receives the chosen destination, split by weight', async () => {
    const mesh = createMesh(
      {
        service: 'checkout',
        logging: { level: 'silent' },
        upstreams: {
          pricing: {
            retries: { attempts: 0 },
            subsets: [
              { name: 'live', labels: { alias: 'live' } },
              { name: 'canary', labels: { alias: 'canary' } },
            ],
            http: [
              {
                name: 'alias-split',
                route: [
                  { destination: { subset: 'live' }, weight: 80 },
                  { destination: { subset: 'canary' }, weight: 20 },
                ],
              },
            ],
          },
        },
      },
      [outbound, traffic],
    );
    meshes.push(mesh);
    const aliases: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      await mesh.upstream('pricing').call(async (call) => {
        const { destination } = call as RoutedCallContext;
        expect(destination).toMatchObject({ upstream: 'pricing', route: 'alias-split' });
        aliases.push(destination.labels.alias!);
      });
    }
    const canary = aliases.filter((alias) => alias === 'canary').length;
    expect(Math.abs(canary / 20 - 20)).toBeLessThanOrEqual(4);
  });
});

describe('propagateHeaders', () => {
  it("copies the invocation's end-user header onto outgoing calls, so routes on it hold downstream", async () => {
    const mesh = meshWith(
      {
        subsets: subsets(),
        http: [
          {
            match: [{ headers: { 'end-user': { exact: 'jason' } } }],
            route: [{ destination: { subset: 'v2' } }],
          },
          { route: [{ destination: { subset: 'v1' } }] },
        ],
      },
      { traffic: { propagateHeaders: ['end-user'] } } as Partial<MeshOptions>,
    );
    const handler = async (
      _request: Request,
      ctx: { upstream(name: string): { fetch(path: string): Promise<Response> } },
    ) => new Response(await (await ctx.upstream('payments').fetch('/pay')).text());
    const jason = await invoke(
      mesh,
      handler,
      new Request('http://localhost/', { headers: { 'end-user': 'jason' } }),
    );
    const other = await invoke(
      mesh,
      handler,
      new Request('http://localhost/', { headers: { 'end-user': 'ana' } }),
    );
    expect([await jason.text(), await other.text()]).toEqual(['v2', 'v1']);
    expect(v2.seen[0]!.headers['end-user']).toBe('jason');
  });
});

describe('sourceLabels: routes for some callers only', () => {
  const bySource = () => ({
    subsets: subsets(),
    http: [
      {
        name: 'from-web',
        match: [{ sourceLabels: { app: 'web' } }],
        route: [{ destination: { subset: 'v2' } }],
      },
      {
        name: 'from-canary',
        match: [{ sourceLabels: { version: 'canary', tier: 'edge' } }],
        route: [{ destination: { subset: 'v2' } }],
      },
      { name: 'rest', route: [{ destination: { subset: 'v1' } }] },
    ],
  });

  it('matches the service name as app, the version, and configured labels over them', async () => {
    // service checkout: app=checkout, no route for it.
    expect(await answers(meshWith(bySource()), 20)).toEqual(new Map([['v1', 20]]));
    // The service named web is app=web.
    expect(await answers(meshWith(bySource(), { service: 'web' }), 20)).toEqual(new Map([['v2', 20]]));
    // Every label of a match must hold: version canary alone is not enough, with tier edge it is.
    expect(await answers(meshWith(bySource(), { version: 'canary' }), 20)).toEqual(new Map([['v1', 20]]));
    const edge = meshWith(bySource(), { version: 'canary', traffic: { labels: { tier: 'edge' } } });
    expect(await answers(edge, 20)).toEqual(new Map([['v2', 20]]));
    // A configured label overrides the platform's.
    const renamed = meshWith(bySource(), { traffic: { labels: { app: 'web' } } });
    expect(await answers(renamed, 20)).toEqual(new Map([['v2', 20]]));
  });

  it("takes Knative's revision labels from K_SERVICE, K_REVISION and K_CONFIGURATION", () => {
    expect(
      ownLabels({ team: 'pay' }, 'checkout', 'checkout-00007', {
        K_SERVICE: 'checkout',
        K_REVISION: 'checkout-00007',
        K_CONFIGURATION: 'checkout',
      }),
    ).toEqual({
      app: 'checkout',
      version: 'checkout-00007',
      'serving.knative.dev/service': 'checkout',
      'serving.knative.dev/revision': 'checkout-00007',
      'serving.knative.dev/configuration': 'checkout',
      team: 'pay',
    });
    expect(ownLabels({}, 'orders', undefined, {})).toEqual({ app: 'orders' });
  });
});

describe('bad configuration is a ConfigError naming the path and the fix', () => {
  const refused = (payments: Record<string, unknown>, features = [outbound, http, traffic]) => {
    try {
      createMesh(
        { service: 'x', upstreams: { payments: { url: v1.url, ...payments } } } as MeshOptions,
        features,
      );
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error('the configuration was accepted');
  };

  it.each([
    [
      { http: [{ route: [{ destination: { subset: 'v9' } }] }] },
      /upstreams\.payments\.http\[0\]\.route\[0\]\.destination\.subset.*no subset/,
    ],
    [
      { http: [{ route: [{ destination: { host: 'nowhere' } }] }] },
      /destination\.host.*no configured upstream/,
    ],
    [
      {
        subsets: [
          { name: 'v1', url: 'http://127.0.0.1:1' },
          { name: 'v2', url: 'http://127.0.0.1:2' },
        ],
        http: [
          {
            route: [
              { destination: { subset: 'v1' }, weight: 80 },
              { destination: { subset: 'v2' }, weight: 10 },
            ],
          },
        ],
      },
      /add up to 90; they must add up to 100/,
    ],
    [
      {
        http: [
          { fault: { abort: { httpStatus: 503, percentage: { value: 150 } } }, route: [{ destination: {} }] },
        ],
      },
      /percentage\.value.*0 to 100/,
    ],
    [
      { http: [{ match: [{ uri: { regex: '(' } }], route: [{ destination: {} }] }] },
      /match\[0\]\.uri\.regex.*not a valid regular expression/,
    ],
    [{ http: [{ name: 'nowhere' }] }, /http\[0\]\.route.*needs a destination/],
    [
      { subsets: [{ name: 'v1', url: 'http://127.0.0.1:1', trafficPolicy: { retries: {} } }] },
      /subsets\[0\]\.trafficPolicy\.retries.*unknown option/,
    ],
    [
      { http: [{ route: [{ destination: {} }], mirror: { host: 'shadowland' } }] },
      /http\[0\]\.mirror\.host.*no configured upstream/,
    ],
    [{ http: [{ directResponse: { body: { string: 'x' } } }] }, /directResponse\.status.*required/],
  ])('%j', (payments, message) => {
    expect(refused(payments)).toMatch(message);
  });

  it('routes without the traffic feature name the import to add', () => {
    expect(refused({ http: [] }, [outbound, http])).toMatch(
      /upstreams\.payments\.http.*import \{ traffic \} from '@sidecarless\/outbound\/traffic'/,
    );
  });
});
