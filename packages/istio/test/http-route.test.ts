/**
 * Gateway API HTTPRoute with a Service parent (the GAMMA mesh profile), on the same route model
 * as a VirtualService: matches, weighted backends, filters and timeouts, validated against the
 * published Gateway API schemas (`@kubernetes-models/gateway-api`).
 */
import { auth } from '@sidecarless/auth';
import { createMesh, type MeshOptions } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { describe, expect, it } from 'vitest';
import { loadIstio } from '../src/index.ts';

// Shaped after the GAMMA examples of the Gateway API documentation.
const producerRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
  namespace: bookinfo
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - name: jason
    matches:
    - headers:
      - type: Exact
        name: End-User
        value: jason
      path:
        type: PathPrefix
        value: /reviews
    backendRefs:
    - name: reviews-v2
      port: 9080
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: x-canary
          value: "no"
        remove: [x-debug]
    backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 9
    - name: reviews-v3
      port: 9080
      weight: 1
    timeouts:
      request: 2s
`;

describe('HTTPRoute (GAMMA)', () => {
  it('routes the calls to its Service parent: matches, weighted backends, header filters, timeouts', async () => {
    const load = await loadIstio([{ path: 'reviews-route.yaml', text: producerRoute }], {
      namespace: 'productpage',
    });
    expect(load.applied).toEqual(['HTTPRoute bookinfo/reviews']);
    const upstreams = load.options.upstreams!;
    expect(Object.keys(upstreams).sort()).toEqual(['reviews', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
    expect(upstreams['reviews-v2']!.url).toBe('http://reviews-v2.bookinfo.svc.cluster.local');
    expect(upstreams.reviews!.http).toEqual([
      {
        name: 'jason',
        match: [{ uri: { prefix: '/reviews' }, headers: { 'end-user': { exact: 'jason' } } }],
        route: [{ destination: { host: 'reviews-v2' } }],
      },
      {
        headers: { request: { set: { 'x-canary': 'no' }, remove: ['x-debug'] } },
        route: [
          { destination: { host: 'reviews-v1' }, weight: 90 },
          { destination: { host: 'reviews-v3' }, weight: 10 },
        ],
        timeout: '2s',
      },
    ]);
    // Ports are the URLs' to name; everything else is honoured.
    expect(load.report.lines()).toEqual([
      'HTTPRoute bookinfo/reviews: spec.rules[0].backendRefs[0].port: not honoured — the upstream’s URL names its port',
      'HTTPRoute bookinfo/reviews: spec.rules[1].backendRefs[0].port: not honoured — the upstream’s URL names its port',
      'HTTPRoute bookinfo/reviews: spec.rules[1].backendRefs[1].port: not honoured — the upstream’s URL names its port',
    ]);
    // The mesh's own checkers accept what it became.
    expect(() =>
      createMesh({ service: 'productpage', logging: { level: 'silent' }, ...load.options } as MeshOptions, [
        auth,
        outbound,
        http,
        traffic,
      ]),
    ).not.toThrow();
  });

  it('reports a route bound to a Gateway instead of applying it, and a consumer route of another namespace does not apply', async () => {
    const gatewayRoute = producerRoute
      .replace('group: ""\n    kind: Service\n    name: reviews\n    port: 9080', 'name: public-gateway')
      .replace('name: reviews\n  namespace', 'name: public\n  namespace');
    const consumer = producerRoute
      .replace('name: reviews\n  namespace: bookinfo', 'name: reviews-for-ratings\n  namespace: ratings')
      .replace('    port: 9080\n  rules', '    namespace: bookinfo\n    port: 9080\n  rules');
    const load = await loadIstio(
      [
        { path: 'gateway.yaml', text: gatewayRoute },
        { path: 'consumer.yaml', text: consumer },
      ],
      { namespace: 'productpage' },
    );
    expect(load.report.lines()).toContain(
      'HTTPRoute bookinfo/public: spec.parentRefs[0]: not honoured — a Gateway parent is an ingress proxy’s route, not a call inside the mesh',
    );
    expect(load.options.upstreams?.reviews).toBeUndefined();
  });

  it("refuses an HTTPRoute that fails the Gateway API's schema", async () => {
    await expect(
      loadIstio([{ path: 'bad.yaml', text: producerRoute.replace('weight: 9', 'weight: "nine"') }]),
    ).rejects.toThrow(/bad\.yaml: HTTPRoute reviews: fails the Gateway API's schema: .*weight/);
  });
});
