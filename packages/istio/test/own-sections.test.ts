/**
 * `istio.upstreams` and `istio.auth`: what a function adds to the files (where it reaches an
 * upstream, its own certificate and settings, rules of its own), merged over every load — through
 * a real server on 127.0.0.1, a real backend and a ConfigMap volume swapped as the kubelet does.
 */
import { auth } from '@sidecarless/auth';
import { ConfigError, createMesh, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { configMapVolume, createUpstreamServer } from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { withOwn } from '../src/feature.ts';
import { istio } from '../src/index.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** payments, answering 503 to the next `failNext` requests, then 200. */
async function backend(): Promise<{ url: string; hits: () => number; failNext(count: number): void }> {
  const server = await createUpstreamServer({ name: 'payments' });
  cleanups.push(() => server.close());
  return {
    url: server.url,
    hits: () => server.requests.length,
    failNext: (count) => server.respond(...Array.from({ length: count }, () => ({ status: 503 }))),
  };
}

const virtualService = (attempts: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments, namespace: shop }
spec:
  hosts: [payments.shop.svc.cluster.local]
  http:
  - retries: { attempts: ${attempts}, retryOn: 5xx }
    route: [{ destination: { host: payments.shop.svc.cluster.local } }]
`;

const onlyPost = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-post, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
  - to: [{ operation: { methods: [POST] } }]
`;

function start(files: string, own: Record<string, unknown>): Mesh {
  const mesh = createMesh(
    { service: 'orders', logging: { level: 'silent' }, istio: { files: [files], namespace: 'shop', ...own } },
    [auth, outbound, http, traffic, istio],
  );
  cleanups.push(() => mesh.close());
  return mesh;
}

describe("the function's own additions to the files", () => {
  it("reach the files' upstream at the function's address, with the files' retries, across a reload", async () => {
    const payments = await backend();
    const volume = configMapVolume({ 'policy.yaml': virtualService(2) });
    cleanups.push(() => volume.remove());
    const mesh = start(volume.dir, { upstreams: { payments: { endpoints: payments.url, timeout: '2s' } } });
    await mesh.ready();
    const call = async () =>
      (
        await invoke(
          mesh,
          async (_request, ctx) => ctx.upstream('payments').fetch('/charges'),
          'http://orders.test/',
        )
      ).status;
    // Two 503s, then the third attempt: the files' two retries, to the function's endpoint.
    payments.failNext(2);
    expect(await call()).toBe(200);
    expect(payments.hits()).toBe(3);
    const section = mesh.options.section(outbound) as ReadonlyMap<
      string,
      { timeoutMs?: number; endpoints: unknown }
    >;
    expect(section.get('payments')?.timeoutMs).toBe(2_000);

    // The platform turns retries off: the function's address and timeout stay, the policy changes.
    volume.update({ 'policy.yaml': virtualService(0) });
    await expect
      .poll(
        async () => {
          payments.failNext(1);
          return call();
        },
        { timeout: 5_000, interval: 50 },
      )
      .toBe(503);
  });

  it("add the function's policies to the files' — never in place of them", () => {
    const merged = withOwn(
      {
        auth: {
          policies: [{ name: 'only-post', action: 'ALLOW', rules: [{}] }],
          peerAuthentication: { mtls: { mode: 'STRICT' } },
        },
        upstreams: { payments: { url: 'http://payments.shop.svc.cluster.local', retries: { attempts: 2 } } },
      },
      {
        auth: {
          policies: [{ name: 'no-admin', action: 'DENY', rules: [{}] }],
          peerAuthentication: { mtls: { mode: 'PERMISSIVE' } },
        },
        upstreams: {
          payments: { endpoints: 'https://127.0.0.1:8443', retries: { perTryTimeout: '1s' } },
          notifications: { endpoints: 'https://127.0.0.1:9443' },
        },
      },
    );
    expect(merged).toEqual({
      auth: {
        policies: [
          { name: 'only-post', action: 'ALLOW', rules: [{}] },
          { name: 'no-admin', action: 'DENY', rules: [{}] },
        ],
        peerAuthentication: { mtls: { mode: 'PERMISSIVE' } },
      },
      upstreams: {
        // The cluster address gives way to the function's; retries merge field by field.
        payments: { endpoints: 'https://127.0.0.1:8443', retries: { attempts: 2, perTryTimeout: '1s' } },
        notifications: { endpoints: 'https://127.0.0.1:9443' },
      },
    });
  });

  it("keep the files' policy in force beside the function's own", async () => {
    const volume = configMapVolume({ 'policy.yaml': onlyPost });
    cleanups.push(() => volume.remove());
    const mesh = start(volume.dir, {
      auth: {
        policies: [
          { name: 'no-admin', action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] },
        ],
      },
    });
    await mesh.ready();
    const status = async (method: string, path: string) =>
      (
        await invoke(
          mesh,
          async () => new Response('ok'),
          new Request(`http://orders.test${path}`, { method }),
        )
      ).status;
    expect(await status('POST', '/orders')).toBe(200);
    expect(await status('GET', '/orders')).toBe(403); // the files' ALLOW still applies
    expect(await status('POST', '/admin/users')).toBe(403); // and the function's DENY
  });

  it('check them at createMesh, naming the istio. path and the fix', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          istio: {
            files: ['/etc/mesh'],
            upstreams: { payments: { endpoints: 'https://127.0.0.1', timout: '1s' } },
          },
        },
        [auth, outbound, http, istio],
      ),
    ).toThrow(ConfigError);
    try {
      createMesh(
        {
          service: 'orders',
          istio: {
            files: ['/etc/mesh'],
            upstreams: { payments: { endpoints: 'https://127.0.0.1', timout: '1s' } },
          },
        },
        [auth, outbound, http, istio],
      );
    } catch (error) {
      expect((error as ConfigError).issues.map((issue) => issue.path)).toEqual([
        'istio.upstreams.payments.timout',
      ]);
    }
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: { payments: { endpoints: 'https://127.0.0.1' } },
          istio: { files: ['/etc/mesh'] },
        },
        [auth, outbound, http, istio],
      ),
    ).toThrow(/upstreams: is loaded from istio\.files; .*move what the function adds .* to istio\.upstreams/);
  });
});
